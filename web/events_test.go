package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
)

// sse is one message of an event stream.
type sse struct {
	id    int64
	event string
	data  eventJSON
	raw   string
}

// stream is an open event stream.
type stream struct {
	t      *testing.T
	resp   *http.Response
	ctx    context.Context
	cancel context.CancelFunc
	events chan sse
	pings  chan struct{}
	done   chan struct{} // closed when the body ends
}

// openStream connects to /api/v1/events with a token (a name in
// f.tokens) and Last-Event-ID last (none if 0).
func (f *fixture) openStream(t *testing.T, token string, last int64) *stream {
	t.Helper()
	return f.openStreamWith(t, func(hr *http.Request) { hr.Header.Set("Authorization", "Bearer "+f.tokens[token]) }, last)
}

// openStreamWith is openStream with the credential auth sets.
func (f *fixture) openStreamWith(t *testing.T, auth func(*http.Request), last int64) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, "GET", f.http.URL+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	auth(hr)
	hr.Header.Set("Accept", "text/event-stream")
	if last > 0 {
		hr.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
	}
	resp, err := f.http.Client().Do(hr)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: t, resp: resp, ctx: ctx, cancel: cancel, events: make(chan sse, 1000), pings: make(chan struct{}, 100), done: make(chan struct{})}
	go s.read()
	t.Cleanup(s.close)
	return s
}

func (s *stream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.resp.Body)
	// Whole lines only: when the stream is closed mid-message, at the end
	// of a test, the line cut short is no message.
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
		}
		if atEOF {
			return len(data), nil, nil
		}
		return 0, nil, nil
	})
	var cur sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				select {
				case s.events <- cur:
				case <-s.ctx.Done():
					return
				}
			}
			cur = sse{}
		case line == ": ping":
			select {
			case s.pings <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			cur.id, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.raw = strings.TrimPrefix(line, "data: ")
			if err := json.Unmarshal([]byte(cur.raw), &cur.data); err != nil {
				s.t.Errorf("data %q: %v", cur.raw, err)
			}
		}
	}
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next returns the next message, failing after a while without one.
func (s *stream) next() sse {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(20 * time.Second):
		s.t.Fatal("no event within 20s")
	}
	return sse{}
}

// until returns the messages up to and including the first that match.
func (s *stream) until(match func(sse) bool) []sse {
	s.t.Helper()
	var out []sse
	for {
		ev := s.next()
		out = append(out, ev)
		if match(ev) {
			return out
		}
	}
}

func finished(run int64) func(sse) bool {
	return func(ev sse) bool { return ev.event == "run.finished" && ev.data.Run == run }
}

// recorded waits until the store holds a run.finished event of run and
// returns the recorded events.
func (f *fixture) recorded(run int64) []store.Event {
	f.t.Helper()
	var evs []store.Event
	testenv.WaitFor(f.t, fmt.Sprintf("run %d's end to be recorded", run), func() bool {
		var err error
		evs, err = f.st.Events(context.Background(), store.EventFilter{Limit: store.MaxLimit})
		if err != nil {
			f.t.Fatal(err)
		}
		return slices.ContainsFunc(evs, func(e store.Event) bool {
			return e.Type == "run.finished" && strings.Contains(string(e.Payload), `"runId":`+strconv.FormatInt(run, 10)+`,`)
		})
	})
	return evs
}

func types(evs []sse) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.event)
	}
	return out
}

func TestEventsLiveAndResume(t *testing.T) {
	f := newFixture(t)
	s := f.openStream(t, "viewer", 0)
	resp := f.send(req{method: "POST", path: "/api/v1/tasks/hello/echo/trigger", token: "operator", body: `{"input":{"n":1}}`})
	if resp.status != 202 {
		t.Fatalf("trigger: %d %s", resp.status, resp.body)
	}
	run := int64(resp.json(t)["id"].(float64))
	got := s.until(finished(run))
	var seen []string
	var last int64
	for _, ev := range got {
		if ev.data.Run != run {
			continue
		}
		seen = append(seen, ev.event)
		switch ev.event {
		case "run.log", "run.progress":
			if ev.id != 0 {
				t.Errorf("%s carries id %d; live-only events have none", ev.event, ev.id)
			}
		default:
			if ev.id <= last {
				t.Errorf("%s has id %d after %d", ev.event, ev.id, last)
			}
			last = ev.id
		}
		if ev.data.Type != ev.event || ev.data.App != "hello" || ev.data.Task != "echo" || ev.data.Time.IsZero() {
			t.Errorf("data %s", ev.raw)
		}
	}
	want := "run.queued run.started run.log run.progress run.finished"
	if strings.Join(seen, " ") != want {
		t.Errorf("events %v, want %s", seen, want)
	}
	if end := got[len(got)-1]; end.data.Status != "succeeded" {
		t.Errorf("run.finished status %q", end.data.Status)
	}
	s.close()

	// Events while no stream is open are recorded, and a stream that
	// resumes gets exactly those, then live ones.
	missed := []int64{f.trigger("hello", "greet", ""), 0}
	f.idle()
	missed[1] = f.trigger("other", "job", "")
	f.idle()
	recorded := f.recorded(missed[1])
	var want2 []int64
	for _, e := range recorded {
		if e.ID > last {
			want2 = append(want2, e.ID)
		}
	}
	if len(want2) != 6 {
		t.Fatalf("recorded after %d: %v (want queued, started, finished of two runs)", last, want2)
	}
	r := f.openStream(t, "viewer", last)
	for i, id := range want2 {
		ev := r.next()
		if ev.id != id {
			t.Fatalf("resumed event %d: id %d (%s), want %d", i, ev.id, ev.raw, id)
		}
	}
	live := f.trigger("hello", "greet", "")
	after := r.until(finished(live))
	prev := want2[len(want2)-1]
	for _, ev := range after {
		if ev.id != 0 && ev.id <= prev {
			t.Errorf("event %d (%s) repeated or out of order after %d", ev.id, ev.event, prev)
		}
		if ev.id != 0 {
			prev = ev.id
		}
	}
	if got := types(after); strings.Join(got, " ") != "run.queued run.started run.finished" {
		t.Errorf("live after resume: %v", got)
	}
}

func TestEventsScoped(t *testing.T) {
	f := newFixture(t)
	s := f.openStream(t, "scoped", 0)
	foreign := f.trigger("other", "job", "")
	f.idle()
	own := f.trigger("hello", "greet", "")
	for _, ev := range s.until(finished(own)) {
		if ev.data.App != "hello" {
			t.Errorf("scoped stream got %s", ev.raw)
		}
	}
	f.recorded(own)
	// Resuming from the start replays only the token's apps too.
	r := f.openStream(t, "scoped", 1)
	for _, ev := range r.until(finished(own)) {
		if ev.data.App != "hello" || ev.data.Run == foreign {
			t.Errorf("scoped replay got %s", ev.raw)
		}
	}
	// A viewer of every app sees the other's events.
	v := f.openStream(t, "viewer", 1)
	if got := v.until(finished(foreign)); got[len(got)-1].data.App != "other" {
		t.Errorf("unscoped replay: %v", types(got))
	}
}

func TestEventsAuthAndInput(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/api/v1/events"}, status: 401},
		{name: "bad Last-Event-ID", req: req{method: "GET", path: "/api/v1/events", token: "viewer", header: map[string]string{"Last-Event-ID": "x"}}, status: 400, field: "Last-Event-ID"},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/events?since=1", token: "viewer"}, status: 400, field: "since"},
	})
}

func TestEventsPing(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PingInterval = 20 * time.Millisecond })
	s := f.openStream(t, "viewer", 0)
	for range 2 {
		select {
		case <-s.pings:
		case <-time.After(10 * time.Second):
			t.Fatal("no ping")
		}
	}
}

func TestEventsEndOnShutdown(t *testing.T) {
	f := newFixture(t)
	s := f.openStream(t, "viewer", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := f.http.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open stream: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after Shutdown")
	}
}

func TestStreamThatFallsBehindEnds(t *testing.T) {
	h := &hub{subs: map[*subscriber]struct{}{}}
	p := &principal{}
	sub, unsubscribe := h.subscribe(p, 1)
	defer unsubscribe()
	h.broadcast(streamEvent{id: 1, app: "a"})
	h.broadcast(streamEvent{app: "a"}) // a log line: dropped
	select {
	case <-sub.behind:
		t.Fatal("behind after one recorded event in a buffer of one and a log line")
	default:
	}
	h.broadcast(streamEvent{id: 2, app: "a"})
	select {
	case <-sub.behind:
	default:
		t.Fatal("a full stream was not told to end")
	}
}

func TestEventsFromAnotherHistory(t *testing.T) {
	f := newFixture(t)
	// The events of the server's start may still be on their way to the
	// hub, and would reach the stream below live, ahead of its run: a
	// run's end seen first means the hub has sent everything before it.
	f.openStream(t, "viewer", 0).until(finished(f.trigger("hello", "greet", "")))
	// An ID far past the store's events: the client saw another database.
	// Nothing recorded is replayed to it, and nothing live is dropped.
	s := f.openStream(t, "viewer", 1_000_000)
	run := f.trigger("hello", "greet", "")
	got := s.until(finished(run))
	if got[0].event != "run.queued" || got[0].data.Run != run {
		t.Errorf("events after a foreign Last-Event-ID: %v, the first of run %d, want run.queued of run %d", types(got), got[0].data.Run, run)
	}
}

func TestEventsGapAfterPruning(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The store keeps about 10,000 events: push the first ones out.
	for range 10_100 {
		if _, err := f.st.AppendEvent(ctx, store.Event{Type: "task.changed", App: "hello", Task: "greet"}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := f.st.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.hub.lastID.Store(last)
	s := f.openStream(t, "viewer", 1)
	if ev := s.next(); ev.event != "stream.gap" || ev.id != 0 {
		t.Fatalf("first event after a pruned Last-Event-ID: %s %s", ev.event, ev.raw)
	}
	if ev := s.next(); ev.event != "task.changed" || ev.id <= 1 {
		t.Fatalf("then: %s %d", ev.event, ev.id)
	}
	// No gap when nothing was pruned after the ID.
	evs, err := f.st.Events(ctx, store.EventFilter{Limit: 1})
	if err != nil || len(evs) == 0 {
		t.Fatal(err)
	}
	r := f.openStream(t, "viewer", evs[0].ID)
	if ev := r.next(); ev.event == "stream.gap" {
		t.Fatalf("gap reported without one: %s", ev.raw)
	}
}
