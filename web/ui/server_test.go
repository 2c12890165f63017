package ui_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/web"
	"github.com/cronbox/cronbox/web/ui"
)

// The apps of the real server's home. Descriptions and log lines carry
// markup, which the UI must show as text.
const (
	demoTasks = `tasks:
  - name: work
    description: 'Works in steps <img src=x onerror="document.body.dataset.pwned=1">'
    schedule: "H * * * *"
    concurrency: allow
    termination: { maxRuntime: 10m }
  - name: late
    description: A task whose page gets its answers out of order
    schedule: "0 4 * * *"
  - name: quick
    description: "Quick <script>document.body.dataset.pwned=1</script>"
    environment: { STEPS: "1", SLEEP_MS: "10" }
`
	otherTasks = `tasks:
  - name: ping
    description: A task of another tenant
    schedule: "0 3 * * *"
`
	// spare's task is disabled, so that uninstalling and installing it
	// again leaves the count of enabled tasks, which DisableTask watches,
	// alone.
	spareTasks = `tasks:
  - name: tick
    description: Runs when triggered
    enabled: false
    environment: { STEPS: "1", SLEEP_MS: "10" }
`
)

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// startServer runs the real engine and API server, with the UI, on a
// temporary home with the apps demo and other, and makes a token for
// each role.
func startServer(t *testing.T) *target { return startServerWith(t, 0) }

// startServerWith is startServer with, when volume is more than 0, the
// app volume of that many generated tasks too.
func startServerWith(t *testing.T, volume int) *target {
	t.Helper()
	wasm := wasmtest.Build(t, "testdata/progress")
	home := t.TempDir()
	demo := filepath.Join(home, "apps", "demo")
	write(t, filepath.Join(demo, "app.yaml"), []byte("name: demo\ndescription: Tasks for the UI tests\nversion: 1.0.0\nenabled: true\n"))
	write(t, filepath.Join(demo, "config", "tasks.yaml"), []byte(demoTasks))
	write(t, filepath.Join(demo, "tasks", "work.wasm"), wasm)
	write(t, filepath.Join(demo, "tasks", "quick.wasm"), wasm)
	write(t, filepath.Join(demo, "tasks", "late.wasm"), wasm)
	other := filepath.Join(home, "apps", "other")
	write(t, filepath.Join(other, "app.yaml"), []byte("name: other\nversion: 0.1.0\n"))
	write(t, filepath.Join(other, "config", "tasks.yaml"), []byte(otherTasks))
	write(t, filepath.Join(other, "tasks", "ping.wasm"), wasm)
	// spare is exported, uninstalled and installed again by a scenario; its
	// unused module is a warning of its validation.
	spare := filepath.Join(home, "apps", "spare")
	write(t, filepath.Join(spare, "app.yaml"), []byte("name: spare\ndescription: An app to uninstall and install again\nversion: 0.3.0\nenabled: true\n"))
	write(t, filepath.Join(spare, "config", "tasks.yaml"), []byte(spareTasks))
	write(t, filepath.Join(spare, "tasks", "tick.wasm"), wasm)
	write(t, filepath.Join(spare, "tasks", "unused.wasm"), wasmtest.Hello())
	// The app volume sorts after the other apps, so the first page of
	// tasks shows theirs.
	if volume > 0 {
		dir := filepath.Join(home, "apps", "volume")
		write(t, filepath.Join(dir, "app.yaml"), []byte("name: volume\ndescription: Generated tasks\nquotas:\n  concurrency: 8\n"))
		var manyYAML strings.Builder
		manyYAML.WriteString("tasks:\n")
		for i := range volume {
			fmt.Fprintf(&manyYAML, "  - name: t%04d\n    description: generated task %d\n    schedule: \"H H 1 1 *\"\n    module: tasks/t.wasm\n    concurrency: allow\n    tags: [%s]\n    environment: { STEPS: \"1\", SLEEP_MS: \"1\" }\n",
				i, i, []string{"even", "odd"}[i%2])
		}
		write(t, filepath.Join(dir, "config", "tasks.yaml"), []byte(manyYAML.String()))
		write(t, filepath.Join(dir, "tasks", "t.wasm"), wasm)
	}

	ctx := context.Background()
	st, rt := testenv.Open(t, home)
	eng, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, GracePeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	admin := lifecycle.Home{Dir: home, Store: st, CacheDir: wasmtest.CompilationCacheDir()}
	srv, err := web.New(web.Config{Engine: eng, Store: web.SQLiteStore(st), Runtime: rt, Apps: admin, Lifecycle: admin, TempDir: filepath.Join(home, "data", "staging"), UI: ui.Handler(),
		Cluster: web.Cluster{Node: "node-a", Nodes: threeNodes{}}})
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	url := serve(t, eng, srv, g.wrap(srv.Handler()))
	// Stopped before the server and the engine: cleanups run last
	// registered first.
	watchCtx, stopWatching := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		eng.Watch(watchCtx, engine.WatchConfig{Settle: 100 * time.Millisecond})
	}()
	t.Cleanup(func() {
		stopWatching()
		<-watched
	})
	// Notifications as the notifier would have queued them: one sent, one
	// still being retried, one given up; one of them of the app other.
	for _, n := range []struct {
		app, task, event string
		attempt          *store.NotificationAttempt
	}{
		{"demo", "work", "failed", &store.NotificationAttempt{}},
		{"other", "ping", "timed_out", &store.NotificationAttempt{Err: "hooks.other.example answered 503", Next: time.Now().Add(time.Hour)}},
		{"demo", "quick", "load_error", &store.NotificationAttempt{Err: "smtp: <b>refused</b>"}},
	} {
		id, err := st.EnqueueNotification(ctx, store.Notification{App: n.app, Task: n.task, Channel: "app:hook", Kind: "webhook", Event: n.event, Payload: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RecordAttempt(ctx, id, *n.attempt); err != nil {
			t.Fatal(err)
		}
	}
	tg := &target{URL: url, Home: home, Tokens: map[string]string{}, Client: bearerClient(url), Hold: g.hold}
	for _, tok := range []struct {
		name, role string
		apps       []string
	}{
		{"admin", web.RoleAdmin, nil}, {"operator", web.RoleOperator, nil}, {"viewer", web.RoleViewer, nil},
		{"scoped", web.RoleOperator, []string{"demo"}}, {"scoped-admin", web.RoleAdmin, []string{"demo"}},
	} {
		secret := "cbx_ui_test_" + tok.name
		if _, err := st.CreateToken(ctx, store.Token{Name: tok.name, Hash: store.HashToken(secret), Role: tok.role, Apps: tok.apps}); err != nil {
			t.Fatal(err)
		}
		tg.Tokens[tok.name] = secret
	}
	return tg
}

// serve starts eng and serves h, srv's handler, on a test server, whose
// URL it returns; the server, then eng and srv, stop when the test ends.
func serve(t *testing.T, eng *engine.Engine, srv *web.Server, h http.Handler) string {
	t.Helper()
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.Config.RegisterOnShutdown(srv.CloseStreams)
	hs.Start()
	t.Cleanup(func() {
		srv.CloseStreams()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		srv.Close()
	})
	return hs.URL
}

// threeNodes lists a cluster of three nodes: node-a (the server under
// test) alive, node-b suspect, node-c dead; a version carries markup,
// which the UI must show as text.
type threeNodes struct{}

func (threeNodes) Nodes(context.Context) ([]web.NodeInfo, error) {
	now := time.Now()
	return []web.NodeInfo{
		{Name: "node-c", Addr: "10.0.0.3:8080", Version: "v0.9.0 <b>old</b>", Started: now.Add(-3 * time.Hour), Heartbeat: now.Add(-5 * time.Minute), State: web.NodeDead, Capacity: 8},
		{Name: "node-a", Addr: "10.0.0.1:8080", Version: "v1.0.0", Started: now.Add(-time.Hour), Heartbeat: now.Add(-time.Second), State: web.NodeAlive, Running: 3, Capacity: 8,
			Apps: []web.NodeApp{{Name: "demo", Version: "1.0.0"}, {Name: "other", Version: "0.1.0"}}},
		{Name: "node-b", Addr: "10.0.0.2:8080", Version: "v1.0.0", Started: now.Add(-time.Hour), Heartbeat: now.Add(-12 * time.Second), State: web.NodeSuspect, Running: 8, Capacity: 8,
			Apps: []web.NodeApp{{Name: "demo", Version: "1.0.0"}}},
	}, nil
}

// gate holds back the answer to one request, for a scenario that needs
// the server to answer two requests in the opposite order of their asking.
type gate struct {
	mu       sync.Mutex
	path     string // of the GET to hold; "" when none is
	computed chan struct{}
	release  chan struct{}
}

// hold arms g for the next GET of path: its answer is made at once, then
// computed is closed, and it is sent when release is called.
func (g *gate) hold(path string) (computed <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.path, g.computed, g.release = path, make(chan struct{}), make(chan struct{})
	return g.computed, sync.OnceFunc(func() { close(g.release) })
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		held := g.path != "" && r.Method == http.MethodGet && r.URL.Path == g.path
		computed, release := g.computed, g.release
		if held {
			g.path = ""
		}
		g.mu.Unlock()
		if !held {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		close(computed)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// TestBrowser runs the scenarios against the real server. They run in
// parallel, each in a tab of its own with its own cookies, and touch
// different tasks or runs where they change something.
func TestBrowser(t *testing.T) {
	browser, started := newBrowser(t)
	tg := startServer(t)
	started()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newTab(t, browser, tg.URL), tg)
		})
	}
}
