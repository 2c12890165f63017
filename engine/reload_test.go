package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

func TestReload(t *testing.T) {
	t.Parallel()
	const tasks = "tasks:\n  - name: tick\n    schedule: \"* * * * *\"\n"
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: tasks, modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	ctx := context.Background()
	dir := filepath.Join(b.home, "apps", "demo")
	reload := func() {
		t.Helper()
		if err := b.engine.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	loadErrors := func() []store.LoadError {
		t.Helper()
		all, err := b.store.LoadErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return all["demo"]
	}
	ticks := func() int { return len(b.runs("demo", "tick")) }

	steps := []struct {
		name  string
		setup func()
		check func(t *testing.T, before int)
	}{
		{"add an app", func() {
			writeApp(t, b.home, testApp{name: "other", tasks: "tasks:\n  - name: job\n    schedule: \"* * * * *\"\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
		}, func(t *testing.T, before int) {
			if len(b.runs("other", "job")) != 1 {
				t.Errorf("the new app's task did not fire")
			}
		}},
		{"break the YAML", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), "tasks: [\n")
		}, func(t *testing.T, before int) {
			if ticks() != before+1 {
				t.Errorf("the last good version stopped firing")
			}
			if len(loadErrors()) == 0 {
				t.Errorf("no load error recorded")
			}
			if b.task("demo", "tick").AppLoadError == "" {
				t.Errorf("Tasks shows no app load error")
			}
		}},
		{"fix the YAML", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), tasks)
		}, func(t *testing.T, before int) {
			if errs := loadErrors(); len(errs) != 0 {
				t.Errorf("load errors after the fix: %v", errs)
			}
			if ticks() != before+1 {
				t.Errorf("the fixed app did not fire")
			}
		}},
		{"break the module", func() {
			mustWrite(t, filepath.Join(dir, "tasks", "tick.wasm"), "not wasm")
		}, func(t *testing.T, before int) {
			if ticks() != before+1 {
				t.Errorf("the last good module stopped firing")
			}
			if le := b.task("demo", "tick").LoadError; !strings.Contains(le, "compiling") {
				t.Errorf("task load error %q, want a compile error", le)
			}
		}},
		{"change the schedule", func() {
			mustWrite(t, filepath.Join(dir, "tasks", "tick.wasm"), string(wasmtest.Hello()))
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), "tasks:\n  - name: tick\n    schedule: \"0 * * * *\"\n")
		}, func(t *testing.T, before int) {
			if ticks() != before {
				t.Errorf("the hourly task fired within the minute")
			}
			if le := b.task("demo", "tick").LoadError; le != "" {
				t.Errorf("load error after the fix: %q", le)
			}
		}},
		{"remove the app", func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, before int) {
			for _, ti := range b.engine.Tasks() {
				if ti.Task.App == "demo" {
					t.Errorf("task %s still listed", ti.Task.Key())
				}
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := ticks()
			s.setup()
			reload()
			b.advance(time.Minute, time.Minute)
			s.check(t, before)
		})
	}
}

func TestAppMissingFolderAtStart(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{})
	b.start()
	if n := len(b.engine.Tasks()); n != 0 {
		t.Fatalf("%d tasks without apps", n)
	}
}

func TestWatcherReloadsSettledChanges(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{})
	b.start()
	step := b.watcherStep()
	if step() {
		t.Fatal("reloaded without a change")
	}
	writeApp(t, b.home, testApp{name: "demo", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	if step() {
		t.Fatal("reloaded a change at once, before it settled")
	}
	if !step() {
		t.Fatal("did not reload a settled change")
	}
	if n := len(b.engine.Tasks()); n != 1 {
		t.Fatalf("%d tasks after the reload, want 1", n)
	}
	if step() {
		t.Fatal("reloaded again without a change")
	}
}

func TestRemoveAppWhileRunning(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", quota: 1, tasks: `
tasks:
  - name: spin
    concurrency: allow
    termination: { maxRuntime: 1h }
`, modules: map[string][]byte{"spin": wasmtest.Spin()}})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	running, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	queued, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(b.home, "apps", "demo")); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.engine.Running(); len(got) != 1 || got[0].ID != running {
		t.Fatalf("running after removal: %+v, want run %d going on", got, running)
	}
	if err := b.engine.Cancel(ctx, running); err != nil {
		t.Fatal(err)
	}
	b.idle()
	want := map[int64]store.Status{running: store.StatusCancelled, queued: store.StatusCancelled}
	for id, status := range want {
		r, err := b.store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status {
			t.Errorf("run %d ended %s (%s), want %s", id, r.Status, r.Error, status)
		}
	}
	if len(b.engine.Tasks()) != 0 {
		t.Errorf("tasks of a removed app still listed")
	}
}

// TestReloadReadsAppsSideBySide loads apps that are read side by side:
// each app's tasks and load errors, line numbers too, are its own, and
// they are installed, and announced, in the order of their names.
func TestReloadReadsAppsSideBySide(t *testing.T) {
	t.Parallel()
	var apps []testApp
	for i := range 9 {
		a := testApp{name: fmt.Sprintf("app%d", i), modules: map[string][]byte{"job": wasmtest.Hello()},
			tasks: fmt.Sprintf("tasks:\n  - name: job\n    schedule: \"%d * * * *\"\n", i)}
		if i%3 == 1 { // broken on line i+2
			a.tasks = "tasks:\n" + strings.Repeat("\n", i) + "  - name: [\n"
		}
		apps = append(apps, a)
	}
	b := newBundle(t, Config{}, apps...)
	events, cancel := b.engine.Subscribe()
	defer cancel()
	b.start()
	var order []string
	for len(order) < len(apps) {
		if ev := <-events; ev.Type == EventAppReloaded {
			order = append(order, ev.App)
		}
	}
	all, err := b.store.LoadErrors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range apps {
		if order[i] != a.name {
			t.Errorf("app loaded #%d is %s, want %s: %v", i, order[i], a.name, order)
		}
		errs := all[a.name]
		if i%3 != 1 {
			if len(errs) > 0 {
				t.Errorf("%s: load errors %v, want none", a.name, errs)
			}
			if got := b.task(a.name, "job").Task.Schedule.Cron; got != fmt.Sprintf("%d * * * *", i) {
				t.Errorf("%s/job has schedule %q, want its own", a.name, got)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Line != i+2 || errs[0].File != "config/tasks.yaml" {
			t.Errorf("%s: load errors %+v, want one in config/tasks.yaml on line %d", a.name, errs, i+2)
		}
	}
}

func TestReadAppsKeepsTheOrderOfNames(t *testing.T) {
	t.Parallel()
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("app%02d", i)
	}
	var mu sync.Mutex
	reads := map[string]int{}
	var used []string
	readApps(names, func(name string) string {
		mu.Lock()
		reads[name]++
		mu.Unlock()
		return "read " + name
	}, func(i int, v string) {
		if v != "read "+names[i] {
			t.Errorf("used %q for name %d, %s", v, i, names[i])
		}
		used = append(used, names[i])
	})
	if !slices.Equal(used, names) {
		t.Errorf("used %v; want every name in order", used)
	}
	for _, name := range names {
		if reads[name] != 1 {
			t.Errorf("%s read %d times, want once", name, reads[name])
		}
	}
	readApps(nil, func(string) int { return 1 }, func(int, int) { t.Error("used a result of no names") })
}

// TestLoadDefinitionsInOrder reads apps side by side as LoadDefinitions
// does: their tasks come by app name, then as each app lists them, and a
// broken app is named with its error.
func TestLoadDefinitionsInOrder(t *testing.T) {
	t.Parallel()
	var apps []testApp
	var want []string
	for i := range 6 {
		a := testApp{name: fmt.Sprintf("app%d", i), modules: map[string][]byte{"x": wasmtest.Hello(), "y": wasmtest.Hello()},
			tasks: "tasks:\n  - name: y\n  - name: x\n"}
		if i == 3 {
			a.tasks = "tasks: [\n"
		} else {
			want = append(want, a.name+"/y", a.name+"/x")
		}
		apps = append(apps, a)
	}
	b := newBundle(t, Config{}, apps...)
	defs, err := LoadDefinitions(context.Background(), b.home, b.store)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range defs.Tasks {
		got = append(got, task.Key())
	}
	if !slices.Equal(got, want) {
		t.Errorf("tasks %v; want %v", got, want)
	}
	if len(defs.Failed) != 1 || defs.Failed["app3"] == nil {
		t.Errorf("failed apps %v; want app3 alone", defs.Failed)
	}
}
