package engine

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// EventType names what an Event reports.
type EventType string

// The event types.
const (
	EventRunQueued   EventType = "run.queued" // recorded, waiting for a slot
	EventRunStarted  EventType = "run.started"
	EventRunProgress EventType = "run.progress"
	EventRunLog      EventType = "run.log"
	EventRunOverdue  EventType = "run.overdue"
	EventRunFinished EventType = "run.finished"
	EventRunSkipped  EventType = "run.skipped"
	EventTaskChanged EventType = "task.changed"
	EventAppReloaded EventType = "app.reloaded"
)

// Event is something that happened in the engine, for live views.
type Event struct {
	Type EventType
	Time time.Time
	App  string
	Task string
	// RunID is the run the event is about, if any.
	RunID int64
	// Status is a finished run's status.
	Status store.Status
	// Trigger and Scheduled are what started a run and the schedule
	// instant it was fired for (zero if none), for EventRunStarted.
	Trigger   store.Trigger
	Scheduled time.Time
	// Progress is a run's progress in percent, for EventRunProgress.
	Progress int
	// Message is a log line, a progress message, a skip reason or an error.
	Message string
	// Seq and Level are a log line's number in its run (from 1, as the
	// store numbers the lines it keeps) and its level, for EventRunLog.
	Seq   int64
	Level string
	// Actor is who made a change that a person made through the API or
	// the command line (see WithActor), for EventTaskChanged.
	Actor string
}

// eventHub fans events out to subscribers without ever blocking the engine:
// a subscriber whose channel is full misses the event, and the miss is
// counted.
type eventHub struct {
	mu      sync.Mutex
	subs    map[int]chan Event
	next    int
	buffer  int
	dropped atomic.Int64
}

func (h *eventHub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- ev:
		default:
			h.dropped.Add(1)
		}
	}
}

func (h *eventHub) subscribe() (<-chan Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]chan Event{}
	}
	id := h.next
	h.next++
	ch := make(chan Event, h.buffer)
	h.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs, id)
			close(ch)
		})
	}
}

// Subscribe returns a channel of the engine's events and a function that
// ends the subscription and closes the channel. A subscriber that does not
// keep up misses events; DroppedEvents counts them.
func (e *Engine) Subscribe() (<-chan Event, func()) { return e.events.subscribe() }

// DroppedEvents returns how many events slow subscribers have missed.
func (e *Engine) DroppedEvents() int64 { return e.events.dropped.Load() }

func (e *Engine) publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = e.cfg.Clock.Now()
	}
	if ev.Type == EventRunFinished || ev.Type == EventRunSkipped {
		e.countRun(ev)
	}
	e.events.publish(ev)
}

// runCounter counts the runs that ended (or were skipped) by task and
// status: what /metrics shows, and what a node of a cluster reports to
// the others with its lease.
type runCounter struct {
	mu     sync.Mutex
	counts map[store.RunCount]uint64 // keyed with N zero
}

func (e *Engine) countRun(ev Event) {
	c := &e.counter
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[store.RunCount]uint64{}
	}
	c.counts[store.RunCount{App: ev.App, Task: ev.Task, Status: ev.Status}]++
}

// RunCounts returns how many runs ended (or were skipped) on this engine
// since it was made, by task and status, sorted.
func (e *Engine) RunCounts() []store.RunCount {
	c := &e.counter
	c.mu.Lock()
	out := make([]store.RunCount, 0, len(c.counts))
	for k, n := range c.counts {
		k.N = n
		out = append(out, k)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b store.RunCount) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Task, b.Task), cmp.Compare(a.Status, b.Status))
	})
	return out
}
