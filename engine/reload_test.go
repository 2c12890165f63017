package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
