package engine

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/runtime"
)

// t0 is the simulated time tests start at: a Monday, 10:00:00 UTC.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// testApp is an app folder written by a test.
type testApp struct {
	name    string
	quota   int
	tasks   string            // the body of config/tasks.yaml
	modules map[string][]byte // tasks/<name>.wasm
	// manifest, if set, is app.yaml, instead of one with name and quota.
	manifest string
}

// bundle is an engine under test with what it is built on.
type bundle struct {
	t      *testing.T
	home   string
	clock  *FakeClock
	store  *store.SQLite
	rt     *runtime.Runtime
	engine *Engine
	// loop is the watch loop b.watch runs, if it did.
	loop *watchLoop
}

func writeApp(t *testing.T, home string, a testApp) { writeAppTB(t, home, a) }

func writeAppTB(t testing.TB, home string, a testApp) {
	t.Helper()
	dir := filepath.Join(home, "apps", a.name)
	for _, d := range []string{"config", "tasks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	quota := a.quota
	if quota == 0 {
		quota = 4
	}
	manifest := "name: " + a.name + "\nquotas:\n  concurrency: " + itoa(quota) + "\n"
	if a.manifest != "" {
		manifest = a.manifest
	}
	mustWrite(t, filepath.Join(dir, "app.yaml"), manifest)
	mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), a.tasks)
	for name, wasm := range a.modules {
		mustWrite(t, filepath.Join(dir, "tasks", name+".wasm"), string(wasm))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newBundle opens a store and a runtime in a temporary home holding apps.
// The engine is created but not started.
func newBundle(t *testing.T, cfg Config, apps ...testApp) *bundle {
	t.Helper()
	home := t.TempDir()
	for _, a := range apps {
		writeApp(t, home, a)
	}
	st, rt := testenv.Open(t, home)
	clock := NewFakeClock(t0)
	cfg.Home, cfg.Store, cfg.Runtime, cfg.Clock = home, SQLiteStore(st), rt, clock
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, home: home, clock: clock, store: st, rt: rt, engine: e}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return b
}

// newDemo is newBundle with one app, demo, whose config/tasks.yaml is
// tasks and whose tasks/<name>.wasm are modules.
func newDemo(t *testing.T, cfg Config, tasks string, modules map[string][]byte) *bundle {
	t.Helper()
	return newBundle(t, cfg, testApp{name: "demo", tasks: tasks, modules: modules})
}

// restart stops the engine, as a process that ends would, and starts a
// new one on the same home, store, runtime and clock.
func (b *bundle) restart() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.engine.Stop(ctx); err != nil {
		b.t.Fatal(err)
	}
	e, err := New(Config{Home: b.home, Store: SQLiteStore(b.store), Runtime: b.rt, Clock: b.clock})
	if err != nil {
		b.t.Fatal(err)
	}
	b.engine = e
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	b.start()
}

// start starts the engine.
func (b *bundle) start() {
	b.t.Helper()
	if err := b.engine.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	b.idle()
}

// idle waits until the engine has nothing queued or running.
func (b *bundle) idle() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.engine.WaitIdle(ctx); err != nil {
		b.t.Fatal(err)
	}
}

// trigger runs app/task once with input, by alice, and returns the run as
// recorded once the engine is idle again.
func (b *bundle) trigger(app, task string, input []byte) *store.Run {
	b.t.Helper()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, app, task, input, "alice")
	if err != nil {
		b.t.Fatal(err)
	}
	b.idle()
	r, err := b.store.GetRun(ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// advance moves simulated time forward in steps, waiting for the engine to
// become idle after each.
func (b *bundle) advance(total, step time.Duration) {
	b.t.Helper()
	for d := time.Duration(0); d < total; d += step {
		b.clock.Advance(step)
		b.idle()
	}
}

// runs returns the runs of a task in the order they were recorded.
func (b *bundle) runs(app, task string) []store.Run {
	b.t.Helper()
	list, err := b.store.ListRuns(context.Background(), store.RunFilter{Apps: []string{app}, Task: task, Limit: store.MaxLimit})
	if err != nil {
		b.t.Fatal(err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// count counts runs by status and trigger.
func count(runs []store.Run, status store.Status, trigger store.Trigger) int {
	n := 0
	for _, r := range runs {
		if (status == "" || r.Status == status) && (trigger == "" || r.Trigger == trigger) {
			n++
		}
	}
	return n
}

func (b *bundle) task(app, task string) TaskInfo {
	b.t.Helper()
	for _, ti := range b.engine.Tasks() {
		if ti.Task.App == app && ti.Task.Name == task {
			return ti
		}
	}
	b.t.Fatalf("no task %s/%s", app, task)
	return TaskInfo{}
}

// waitEvent receives events until one matches, for at most 30 seconds.
func waitEvent(t *testing.T, events <-chan Event, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("the event never came")
		}
	}
}
