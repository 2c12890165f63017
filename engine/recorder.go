package engine

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/cronbox/cronbox/engine/store"
)

// recordedTypes are the events Config.RecordEvents writes to the store: the
// ones a client resuming an event stream needs, not the frequent log and
// progress events.
var recordedTypes = map[EventType]bool{
	EventRunStarted: true, EventRunFinished: true, EventRunSkipped: true, EventRunOverdue: true,
	EventTaskChanged: true, EventAppReloaded: true,
}

// eventPayload is the JSON payload of a recorded event.
type eventPayload struct {
	RunID    int64        `json:"runId,omitempty"`
	Status   store.Status `json:"status,omitempty"`
	Progress int          `json:"progress,omitempty"`
	Message  string       `json:"message,omitempty"`
}

// startRecorder subscribes to the engine's events and writes the recorded
// types to the store until the subscription ends; it returns the function
// that ends it and waits for the writes.
func (e *Engine) startRecorder() func() {
	ch, cancel := e.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if !recordedTypes[ev.Type] {
				continue
			}
			payload, err := json.Marshal(eventPayload{RunID: ev.RunID, Status: ev.Status, Progress: ev.Progress, Message: ev.Message})
			if err != nil {
				continue
			}
			se := store.Event{Time: ev.Time, Type: string(ev.Type), App: ev.App, Task: ev.Task, Payload: payload}
			if _, err := e.cfg.Store.Events.AppendEvent(context.Background(), se); err != nil {
				e.log.Error("recording event", slog.String("type", string(ev.Type)), slog.Any("error", err))
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
