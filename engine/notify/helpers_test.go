package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// epoch is the tests' fake "now".
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// waitDeadline bounds every wait: a test that waits longer has failed.
const waitDeadline = 20 * time.Second

// fakeSource is an engine as the Notifier sees it: events the test
// publishes, and apps and tasks the test configures.
type fakeSource struct {
	mu     sync.Mutex
	events chan engine.Event
	apps   map[string]engine.AppInfo
	tasks  map[string]engine.TaskInfo
}

func newSource() *fakeSource {
	return &fakeSource{events: make(chan engine.Event, 100), apps: map[string]engine.AppInfo{}, tasks: map[string]engine.TaskInfo{}}
}

func (s *fakeSource) Subscribe() (<-chan engine.Event, func()) { return s.events, func() {} }

func (s *fakeSource) App(name string) (engine.AppInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[name]
	return a, ok
}

func (s *fakeSource) Task(appName, task string) (engine.TaskInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[appName+"/"+task]
	return t, ok
}

func (s *fakeSource) setApp(a engine.AppInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.Name] = a
}

func (s *fakeSource) setTask(t engine.TaskInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[t.Task.App+"/"+t.Task.Name] = t
}

// harness is a Notifier over a real store, with a fake clock.
type harness struct {
	t     *testing.T
	src   *fakeSource
	st    *store.SQLite
	path  string
	clk   *engine.FakeClock
	n     *Notifier
	armed chan time.Time
	cfg   Config

	mu   sync.Mutex
	last time.Time // when the loop, last idle, wakes next
}

func openStore(t *testing.T, path string, clk *engine.FakeClock) *store.SQLite {
	t.Helper()
	st, err := store.Open(t.Context(), path, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newHarness starts a Notifier configured by cfg (Source, Runs, Store and
// Clock filled in), stopped when the test ends.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, src: newSource(), clk: engine.NewFakeClock(epoch), path: filepath.Join(t.TempDir(), "cronbox.db"), cfg: cfg}
	h.st = openStore(t, h.path, h.clk)
	t.Cleanup(func() { h.st.Close() })
	h.start()
	return h
}

func (h *harness) start() {
	h.t.Helper()
	cfg := h.cfg
	cfg.Source, cfg.Runs, cfg.Store, cfg.Clock = h.src, h.st, h.st, h.clk
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.armed = make(chan time.Time, 1000)
	n.armed = func(next time.Time) {
		h.mu.Lock()
		h.last = next
		h.mu.Unlock()
		h.armed <- next
	}
	h.n = n
	n.Start()
	h.t.Cleanup(n.Stop)
	h.waitArmed(time.Time{}, true)
}

// waitArmed waits until the delivery loop goes idle, set to wake at want
// (any time when anyTime).
func (h *harness) waitArmed(want time.Time, anyTime bool) {
	h.t.Helper()
	deadline := time.After(waitDeadline)
	if anyTime {
		select {
		case <-h.armed:
			return
		case <-deadline:
			h.t.Fatal("the delivery loop never went idle")
		}
	}
	for {
		h.mu.Lock()
		last := h.last
		h.mu.Unlock()
		if last.Equal(want) {
			return
		}
		select {
		case <-h.armed:
		case <-deadline:
			h.t.Fatalf("the delivery loop never went idle waking at %v; last %v", want, h.last)
		}
	}
}

// finish records a run of appName/task that ended with status and err,
// taking d, and publishes its end.
func (h *harness) finish(appName, task string, status store.Status, errMsg string, d time.Duration) int64 {
	h.t.Helper()
	ctx := h.t.Context()
	now := h.clk.Now()
	id, err := h.st.StartRun(ctx, store.Run{App: appName, Task: task, StartTime: now.Add(-d), Trigger: store.TriggerManual})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.FinishRun(ctx, id, store.RunEnd{Status: status, EndTime: now, Duration: d, ExitCode: 1, Error: errMsg}); err != nil {
		h.t.Fatal(err)
	}
	h.src.events <- engine.Event{Type: engine.EventRunFinished, Time: now, App: appName, Task: task, RunID: id, Status: status, Message: errMsg}
	return id
}

// list returns every notification, oldest first.
func (h *harness) list() []store.Notification {
	h.t.Helper()
	ns, err := h.st.ListNotifications(h.t.Context(), store.NotificationFilter{Limit: store.MaxLimit})
	if err != nil {
		h.t.Fatal(err)
	}
	for i, j := 0, len(ns)-1; i < j; i, j = i+1, j-1 {
		ns[i], ns[j] = ns[j], ns[i]
	}
	return ns
}

// waitFor waits until cond holds, checking it each time the delivery
// loop goes idle.
func (h *harness) waitFor(what string, cond func([]store.Notification) bool) []store.Notification {
	h.t.Helper()
	deadline := time.After(waitDeadline)
	for {
		if ns := h.list(); cond(ns) {
			return ns
		}
		select {
		case <-h.armed:
		case <-deadline:
			var b strings.Builder
			for _, n := range h.list() {
				fmt.Fprintf(&b, "\n\t#%d %s/%s %s %s: %s after %d attempts: %q", n.ID, n.App, n.Task, n.Channel, n.Event, n.Status, n.Attempts, n.LastError)
			}
			h.t.Fatalf("waiting for %s: notifications:%s", what, b.String())
		}
	}
}

// withApp configures app appName with channels and one task.
func (h *harness) withApp(appName string, chans []app.Channel, task string) {
	h.src.setApp(engine.AppInfo{Name: appName, Loaded: true, Manifest: app.Manifest{Name: appName, Notify: chans}})
	if task != "" {
		h.src.setTask(engine.TaskInfo{Task: app.Task{App: appName, Name: task}})
	}
}

// receiver is an HTTP receiver that hands each request's body to the
// test and answers with the status the test sets (200 by default).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    chan received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, handle func(http.Header, []byte) int) *receiver {
	r := &receiver{status: http.StatusOK, got: make(chan received, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		status := r.statusNow()
		if handle != nil {
			status = handle(req.Header, body)
		}
		r.got <- received{req.Header.Clone(), body}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
}

func (r *receiver) statusNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case x := <-r.got:
		return x
	case <-time.After(waitDeadline):
		t.Fatal("the receiver got nothing")
		return received{}
	}
}

func decodeMessage(t *testing.T, body []byte) Message {
	t.Helper()
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// hostPort returns the host:port of an httptest server's URL.
func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }

// portOf returns the port of an httptest server's URL.
func portOf(u string) string { return u[strings.LastIndex(u, ":")+1:] }
