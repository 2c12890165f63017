package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// liveOnly are the event types the server does not record: frequent, and
// of interest only while they happen.
var liveOnly = map[engine.EventType]bool{engine.EventRunLog: true, engine.EventRunProgress: true}

// eventJSON is an event as the stream sends it (the data line).
type eventJSON struct {
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
	App      string    `json:"app"`
	Task     string    `json:"task"`
	Run      int64     `json:"run"`
	Status   string    `json:"status"`
	Progress int       `json:"progress"`
	Message  string    `json:"message"`
	// Seq and Level are a run.log line's number in its run and its level,
	// as GET /runs/{id}/logs gives them.
	Seq   int64  `json:"seq,omitempty"`
	Level string `json:"level,omitempty"`
	// Actor is who made the change of a task.changed event, when a
	// person did.
	Actor string `json:"actor,omitempty"`
}

// payloadJSON is the payload of a recorded event: what eventJSON has
// beyond the store's columns.
type payloadJSON struct {
	RunID    int64  `json:"runId,omitempty"`
	Status   string `json:"status,omitempty"`
	Progress int    `json:"progress,omitempty"`
	Message  string `json:"message,omitempty"`
	Actor    string `json:"actor,omitempty"`
}

// streamEvent is an event ready to send: its stored ID (0 for a live-only
// event), its app (for scoping) and its SSE lines.
type streamEvent struct {
	id   int64
	app  string
	text []byte
}

func formatEvent(id int64, ev eventJSON) streamEvent {
	data, _ := json.Marshal(ev) // cannot fail: strings and numbers
	var b strings.Builder
	if id > 0 {
		fmt.Fprintf(&b, "id: %d\n", id)
	}
	fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", sanitizeLine(ev.Type), data)
	return streamEvent{id: id, app: ev.App, text: []byte(b.String())}
}

// sanitizeLine keeps a value on one line of the stream.
func sanitizeLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// storedEvent turns a recorded event back into what the stream sends.
func storedEvent(e store.Event) streamEvent {
	var p payloadJSON
	if len(e.Payload) > 0 {
		_ = json.Unmarshal(e.Payload, &p) // a bad payload leaves its fields empty
	}
	return formatEvent(e.ID, eventJSON{
		Type: e.Type, Time: e.Time.UTC(), App: e.App, Task: e.Task,
		Run: p.RunID, Status: p.Status, Progress: p.Progress, Message: p.Message, Actor: p.Actor,
	})
}

// hub records the engine's events in the store, so that a stream can
// resume, and fans them out to the open streams with their stored IDs.
// One goroutine records and fans out, so the IDs that streams see rise
// in the order the events happened. With a watcher (a cluster) it also
// fans out the events other nodes recorded, read from the store, merged
// with its own in the order of their IDs.
type hub struct {
	st      store.EventLog
	log     *slog.Logger
	metrics *metrics
	eng     *engine.Engine

	// watch, if set, wakes the hub when other nodes recorded events;
	// wake is signalled, and want raised to the greatest ID notified
	// (math.MaxInt64 when unknown), by the goroutine that watches,
	// which stopWatch stops.
	watch     EventWatcher
	wake      chan struct{}
	want      atomic.Int64
	stopWatch func()
	watchDone chan struct{}

	// maxQueued bounds the bytes of the events a subscriber holds
	// unsent; 0 means no bound.
	maxQueued int64

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	shut bool // set by shutdown: new subscribers end at once

	cancel func()
	done   chan struct{}
	// lastID is the greatest event ID the hub has sent: what the store
	// held at start, then what it appended or read of other nodes'.
	lastID atomic.Int64
}

// subscriber is one open stream.
type subscriber struct {
	p  *principal
	ch chan streamEvent
	// behind is closed when the stream fell too far behind and lost a
	// recorded event: it must end, and its client resumes from the store.
	behind     chan struct{}
	behindOnce sync.Once
	// queued is the bytes of the events in ch.
	queued atomic.Int64
	streamStop
}

// take accounts for ev, received from ch, leaving the buffer.
func (sub *subscriber) take(ev streamEvent) { sub.queued.Add(-int64(len(ev.text))) }

func startHub(eng *engine.Engine, st store.EventLog, watch EventWatcher, log *slog.Logger, m *metrics, maxQueued int64) *hub {
	ch, cancel := eng.Subscribe()
	h := &hub{st: st, log: log, metrics: m, eng: eng, maxQueued: maxQueued, subs: map[*subscriber]struct{}{}, cancel: cancel, done: make(chan struct{})}
	last, err := st.LastEventID(context.Background())
	if err != nil {
		log.Error("reading the last event ID", slog.Any("error", err))
	}
	h.lastID.Store(last)
	if watch != nil {
		h.watch, h.wake, h.watchDone = watch, make(chan struct{}, 1), make(chan struct{})
		ctx, stop := context.WithCancel(context.Background())
		h.stopWatch = stop
		go func() {
			defer close(h.watchDone)
			if err := watch.WatchEvents(ctx, h.woken); err != nil && ctx.Err() == nil {
				log.Error("watching the events of other nodes", slog.Any("error", err))
			}
		}()
	}
	go h.run(ch)
	return h
}

// maxEventBatch is the most events the hub records in one write.
const maxEventBatch = 256

// woken is the watcher's call: events up to id (0: unknown) may be in
// the store.
func (h *hub) woken(id int64) {
	if id <= 0 {
		id = math.MaxInt64
	}
	for {
		w := h.want.Load()
		if w >= id || h.want.CompareAndSwap(w, id) {
			break
		}
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run records and fans out the events of ch. The events that arrive while
// a write is under way are recorded together by the next: one write (one
// round trip to a PostgreSQL store) for a burst, not one an event. With a
// watcher, it also fans out the events other nodes recorded.
func (h *hub) run(ch <-chan engine.Event) {
	defer close(h.done)
	var (
		batch  []engine.Event
		stored []store.Event
	)
	for {
		var ev engine.Event
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			ev = e
		case <-h.wake: // nil without a watcher
			if h.want.Swap(0) > h.lastID.Load() {
				h.catchUp(math.MaxInt64)
			}
			continue
		}
		batch = append(batch[:0], ev)
	drain:
		for len(batch) < maxEventBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		stored = stored[:0]
		for _, ev := range batch {
			if !liveOnly[ev.Type] {
				payload, _ := json.Marshal(payloadJSON{RunID: ev.RunID, Status: string(ev.Status), Progress: ev.Progress, Message: ev.Message, Actor: ev.Actor})
				stored = append(stored, store.Event{Time: ev.Time, Type: string(ev.Type), App: ev.App, Task: ev.Task, Payload: payload})
			}
		}
		var ids []int64
		if len(stored) > 0 {
			var err error
			if ids, err = h.st.AppendEvents(context.Background(), stored); err != nil {
				h.log.Error("recording events", slog.Int("events", len(stored)), slog.String("type", stored[0].Type), slog.Any("error", err))
				ids = nil
			}
		}
		// With no stream open, no event is formatted: a stream opened
		// from here on reads the events recorded so far from the store.
		listening := h.listening()
		for _, ev := range batch {
			h.metrics.observe(h.eng, ev)
			var id int64
			if !liveOnly[ev.Type] && ids != nil {
				id, ids = ids[0], ids[1:]
				// Events commit in the order of their IDs: those of
				// other nodes before this one are in the store, and go
				// out first.
				if h.watch != nil && id > h.lastID.Load()+1 {
					h.catchUp(id)
				}
				h.lastID.Store(id)
			}
			if listening {
				h.broadcast(formatEvent(id, eventJSON{
					Type: string(ev.Type), Time: ev.Time.UTC(), App: ev.App, Task: ev.Task, Run: ev.RunID,
					Status: string(ev.Status), Progress: ev.Progress, Message: ev.Message,
					Seq: ev.Seq, Level: ev.Level, Actor: ev.Actor,
				}))
			}
		}
	}
}

// catchUp fans out the events other nodes recorded after the last one
// sent, up to before. A store that fails leaves them for the next
// wake-up.
func (h *hub) catchUp(before int64) {
	for {
		after := h.lastID.Load()
		evs, err := h.st.Events(context.Background(), store.EventFilter{AfterID: after, Limit: store.MaxLimit})
		if err != nil {
			h.log.Error("reading the events of other nodes", slog.Any("error", err))
			return
		}
		for _, e := range evs {
			if e.ID >= before {
				return
			}
			h.broadcast(storedEvent(e))
			h.lastID.Store(e.ID)
		}
		if len(evs) < store.MaxLimit {
			return
		}
	}
}

// listening reports whether a stream is open.
func (h *hub) listening() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

func (h *hub) broadcast(ev streamEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if !sub.p.sees(ev.app) { // a scoped token sees no system events either
			continue
		}
		// The buffer holds StreamBuffer events and StreamBufferBytes
		// bytes at most, or one larger event.
		n := int64(len(ev.text))
		sent := false
		if q := sub.queued.Add(n); h.maxQueued == 0 || q <= h.maxQueued || len(sub.ch) == 0 {
			select {
			case sub.ch <- ev:
				sent = true
			default:
			}
		}
		if !sent {
			sub.queued.Add(-n)
			// A live-only event (a log line) is dropped; a recorded one
			// ends the stream, whose client is told and resumes from
			// the store.
			if ev.id != 0 {
				sub.behindOnce.Do(func() { close(sub.behind) })
			}
		}
	}
}

func (h *hub) subscribe(p *principal, buffer int) (*subscriber, func()) {
	sub := &subscriber{p: p, ch: make(chan streamEvent, buffer), behind: make(chan struct{})}
	sub.done = make(chan struct{})
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	if h.shut {
		sub.end()
	}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs, sub)
		h.mu.Unlock()
	}
}

// close ends the engine subscription once the events published so far are
// recorded.
func (h *hub) close() {
	if h.stopWatch != nil {
		h.stopWatch()
		<-h.watchDone
	}
	h.cancel()
	<-h.done
}

// events streams the engine's events the principal may see, as
// server-sent events. With Last-Event-ID it first sends the recorded
// events after that ID, then the live ones, without a gap or a repeat:
// the stream subscribes before it reads the store, and drops live events
// whose ID it has already sent.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	var last int64
	if v := strings.TrimSpace(r.Header.Get("Last-Event-ID")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "Last-Event-ID", "Last-Event-ID must be an event ID this server sent, not %q", v)
		}
		last = n
	}
	rc := http.NewResponseController(w)
	p := principalFrom(r.Context())
	sub, unsubscribe := s.hub.subscribe(p, s.cfg.StreamBuffer)
	defer unsubscribe()
	sub.attach(rc)
	// Every write has a deadline: a client that does not read loses its
	// stream rather than holding the handler, and ending the stream
	// (shutdown, a revoked token) interrupts a write under way.
	write := func(b []byte) bool {
		if !sub.arm(s.cfg.StreamWriteTimeout) {
			return false
		}
		_, err := w.Write(b)
		return err == nil
	}
	flush := func() bool { return sub.arm(s.cfg.StreamWriteTimeout) && rc.Flush() == nil }

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if !write([]byte(": stream\n\n")) || !flush() {
		return nil
	}

	// sent is the greatest ID the client has: live events up to it are
	// dropped. An ID past the store's last event comes from another
	// history (a database replaced under the client): it is ignored.
	sent := last
	if last > s.hub.lastID.Load() {
		// Another node may have sent an event this one has not yet: the
		// store says whether it exists.
		if stored, err := s.st.Events.LastEventID(r.Context()); err != nil || last > stored {
			sent = 0
		}
	}
	if sent > 0 {
		// Events after sent that the store no longer keeps are lost to
		// this client: it is told, so that it reloads what it shows.
		oldest, err := s.st.Events.Events(r.Context(), store.EventFilter{Limit: 1})
		if err == nil && len(oldest) > 0 && oldest[0].ID > sent+1 {
			gap := formatEvent(0, eventJSON{Type: "stream.gap", Time: s.eng.Now().UTC(),
				Message: fmt.Sprintf("events after %d are no longer stored; reload", sent)})
			if !write(gap.text) {
				return nil
			}
		}
		for {
			evs, err := s.st.Events.Events(r.Context(), store.EventFilter{AfterID: sent, Apps: p.scope(), Limit: store.MaxLimit})
			if err != nil {
				s.log.ErrorContext(r.Context(), "replaying events", slog.Any("error", err))
				return nil // headers are sent: the client reconnects
			}
			for _, e := range evs {
				if !write(storedEvent(e).text) {
					return nil
				}
				sent = e.ID
			}
			if !flush() {
				return nil
			}
			if len(evs) < store.MaxLimit {
				break
			}
		}
	}

	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	recheck := time.NewTicker(s.cfg.StreamRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-sub.behind:
			// Fallen behind: the client gets the events buffered before
			// the loss, is told after which one it may lack events, and
			// resumes from the store.
			for len(sub.ch) > 0 {
				ev := <-sub.ch
				sub.take(ev)
				if ev.id != 0 && ev.id <= sent {
					continue
				}
				if !write(ev.text) {
					return nil
				}
				sent = max(sent, ev.id)
			}
			gap := formatEvent(0, eventJSON{Type: "stream.gap", Time: s.eng.Now().UTC(),
				Message: fmt.Sprintf("this stream fell behind and lost events after %d; resume with Last-Event-ID or reload", sent)})
			if write(gap.text) {
				flush()
			}
			return nil
		default:
		}
		select {
		case ev := <-sub.ch:
			sub.take(ev)
			if ev.id != 0 && ev.id <= sent {
				continue
			}
			if !write(ev.text) {
				return nil
			}
			if ev.id > sent {
				sent = ev.id
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return nil
			}
		case <-recheck.C:
			if !s.credentialValid(r.Context(), p) {
				return nil
			}
			continue
		case <-sub.behind:
			continue // told at the top of the loop
		case <-r.Context().Done():
			return nil
		case <-sub.done:
			return nil
		}
		if !flush() {
			return nil
		}
	}
}
