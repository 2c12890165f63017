package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

func apiBundle(t *testing.T) *bundle {
	t.Helper()
	b := newBundle(t, Config{},
		testApp{name: "a", tasks: `tasks:
  - name: tick
    schedule: "0 * * * *"
  - name: spin
    termination: { maxRuntime: 1h }
`, modules: map[string][]byte{"tick": wasmtest.Hello(), "spin": wasmtest.Spin()}},
		testApp{name: "b", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}},
	)
	b.start()
	return b
}

func TestAppsSnapshot(t *testing.T) {
	b := apiBundle(t)
	list := b.engine.Apps()
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("Apps: %+v", list)
	}
	if a := list[0]; !a.Loaded || a.Tasks != 2 || a.Dir == "" || !a.Manifest.Enabled || a.LoadError != "" || a.Removed {
		t.Errorf("app a: %+v", a)
	}
	if _, ok := b.engine.App("nope"); ok {
		t.Error("App of an unknown app")
	}
	if !b.engine.Started() {
		t.Error("Started false after Start")
	}
	if err := b.engine.ReloadApp(context.Background(), "../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReloadApp of a bad name: %v", err)
	}
	// An app whose folder is gone is removed, not kept with a load error.
	if err := os.RemoveAll(filepath.Join(b.home, "apps", "b")); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.ReloadApp(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if a, ok := b.engine.App("b"); ok && (!a.Removed || a.LoadError != "") {
		t.Errorf("app b after its folder went: %+v; want it removed", a)
	}
	if _, ok := b.engine.Task("b", "job"); ok {
		t.Error("task b/job still there after its app's folder went")
	}
}

func TestNextTimes(t *testing.T) {
	b := apiBundle(t)
	got, err := b.engine.NextTimes("a", "tick", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("NextTimes %v, want %v", got, want)
	}
	if got, _ := b.engine.NextTimes("a", "spin", 3); len(got) != 0 {
		t.Errorf("a task without a schedule: %v", got)
	}
	if _, err := b.engine.NextTimes("a", "nope", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}

func TestUpdateTask(t *testing.T) {
	b := apiBundle(t)
	ctx := context.Background()
	off := false
	if err := b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Enabled: &off, Schedule: json.RawMessage(`"30 * * * *"`), Environment: map[string]string{"X": "1"}}); err != nil {
		t.Fatal(err)
	}
	info, _ := b.engine.Task("a", "tick")
	if info.Task.Enabled || info.Task.Schedule.Cron != "30 * * * *" || info.Task.Environment["X"] != "1" || !info.Next.IsZero() {
		t.Errorf("after update: %+v next %v", info.Task, info.Next)
	}
	on := true
	if err := b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Enabled: &on, ResetSchedule: true, ResetEnvironment: true}); err != nil {
		t.Fatal(err)
	}
	info, _ = b.engine.Task("a", "tick")
	if !info.Task.Enabled || info.Task.Schedule.Cron != "0 * * * *" || len(info.Task.Environment) != 0 || !info.Next.Equal(t0.Add(time.Hour)) {
		t.Errorf("after reset: %+v next %v", info.Task, info.Next)
	}
	if err := b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Schedule: json.RawMessage(`"99 * * * *"`)}); !errors.Is(err, ErrInvalidOverride) {
		t.Errorf("bad schedule: %v", err)
	}
	if err := b.engine.UpdateTask(ctx, "a", "nope", TaskUpdate{Enabled: &on}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}

// UpdateTask sets the fields of an override one by one, keeps those not
// named, resets one with JSON null, and refuses unknown names and bad
// values, leaving the stored override as it was.
func TestUpdateTaskFields(t *testing.T) {
	b := apiBundle(t)
	ctx := context.Background()
	set := func(fields map[string]string) error {
		u := TaskUpdate{Fields: map[string]json.RawMessage{}}
		for k, v := range fields {
			u.Fields[k] = json.RawMessage(v)
		}
		return b.engine.UpdateTask(ctx, "a", "tick", u)
	}
	if err := set(map[string]string{"limits": `{"memory":"32MiB"}`, "misfire": `"run-once"`}); err != nil {
		t.Fatal(err)
	}
	if err := set(map[string]string{"retry": `{"max":2}`}); err != nil {
		t.Fatal(err)
	}
	info, _ := b.engine.Task("a", "tick")
	if info.Task.Limits.Memory != 32<<20 || info.Task.Misfire != app.MisfireRunOnce || info.Task.Retry.Max != 2 ||
		!slices.Equal(info.Task.Overridden, []string{"limits", "retry", "misfire"}) {
		t.Errorf("after setting: %+v overridden %v", info.Task, info.Task.Overridden)
	}
	if err := set(map[string]string{"limits": `null`, "misfire": `null`}); err != nil {
		t.Fatal(err)
	}
	info, _ = b.engine.Task("a", "tick")
	if info.Task.Limits.Memory == 32<<20 || info.Task.Misfire != app.MisfireSkip || !slices.Equal(info.Task.Overridden, []string{"retry"}) {
		t.Errorf("after reset: %+v overridden %v", info.Task, info.Task.Overridden)
	}
	for _, bad := range []map[string]string{{"cpu": `"1"`}, {"retry": `{"max":-1}`}, {"limits": `{"memory":1}`}, {"misfire": `[1]`}} {
		if err := set(bad); !errors.Is(err, ErrInvalidOverride) {
			t.Errorf("%v: %v, want ErrInvalidOverride", bad, err)
		}
	}
	info, _ = b.engine.Task("a", "tick")
	if !slices.Equal(info.Task.Overridden, []string{"retry"}) || info.Task.Retry.Max != 2 {
		t.Errorf("a refused update changed the task: %+v", info.Task)
	}
}

// Changes of different fields of one task made at the same time all stick:
// each reads, changes and writes the task's override, and none of them may
// write over another's change with what it read before it.
func TestConcurrentTaskChangesAllStick(t *testing.T) {
	b := apiBundle(t)
	ctx := context.Background()
	for i := range 10 {
		sched := json.RawMessage(fmt.Sprintf(`"%d * * * *"`, i))
		env := map[string]string{"ROUND": strconv.Itoa(i)}
		on := i%2 == 0
		var wg sync.WaitGroup
		errs := make([]error, 3)
		wg.Go(func() { errs[0] = b.engine.SetEnabled(ctx, "a", "tick", on) })
		wg.Go(func() { errs[1] = b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Schedule: sched}) })
		wg.Go(func() { errs[2] = b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Environment: env}) })
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		info, _ := b.engine.Task("a", "tick")
		if info.Task.Enabled != on || info.Task.Schedule.Cron != fmt.Sprintf("%d * * * *", i) || info.Task.Environment["ROUND"] != strconv.Itoa(i) {
			t.Fatalf("round %d: a change was lost: enabled %v, schedule %q, environment %v", i, info.Task.Enabled, info.Task.Schedule.Cron, info.Task.Environment)
		}
	}
}

// Changes of overrides made while the app reloads read the app as loaded
// by one reload or the next, never as it is being replaced (the race
// detector watches this test).
func TestTaskChangesBesideReloads(t *testing.T) {
	b := apiBundle(t)
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := b.engine.ReloadApp(ctx, "a"); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer wg.Wait()
	defer close(done)
	for i := range 20 {
		on := i%2 == 1
		if err := b.engine.UpdateTask(ctx, "a", "tick", TaskUpdate{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		if err := b.engine.CreateTask(ctx, "a", app.TaskSpec{Name: fmt.Sprintf("extra%d", i), Module: "tasks/tick.wasm"}); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := b.engine.Task("a", "tick")
	if !info.Task.Enabled {
		t.Error("the last change, enabling the task, was lost")
	}
	if _, ok := b.engine.Task("a", "extra19"); !ok {
		t.Error("the last custom task is missing")
	}
}

func TestCreateAndDeleteTask(t *testing.T) {
	b := apiBundle(t)
	ctx := context.Background()
	spec := app.TaskSpec{Name: "extra", Module: "tasks/tick.wasm", Schedule: &app.ScheduleSpec{Cron: "15 * * * *"}}
	if err := b.engine.CreateTask(ctx, "a", spec); err != nil {
		t.Fatal(err)
	}
	info, ok := b.engine.Task("a", "extra")
	if !ok || !info.Task.Custom || !info.Next.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("custom task: %v %+v", ok, info)
	}
	for _, c := range []struct {
		name string
		app  string
		spec app.TaskSpec
		want error
	}{
		{"exists", "a", spec, ErrExists},
		{"name of tasks.yaml", "a", app.TaskSpec{Name: "tick"}, ErrExists},
		{"unknown app", "z", app.TaskSpec{Name: "x"}, ErrNotFound},
		{"bad name", "a", app.TaskSpec{Name: "a/b"}, ErrInvalidOverride},
		{"missing module", "a", app.TaskSpec{Name: "ghost", Module: "tasks/ghost.wasm"}, ErrInvalidOverride},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := b.engine.CreateTask(ctx, c.app, c.spec); !errors.Is(err, c.want) {
				t.Errorf("CreateTask: %v, want %v", err, c.want)
			}
		})
	}
	if err := b.engine.DeleteTask(ctx, "a", "extra"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.engine.Task("a", "extra"); ok {
		t.Error("custom task still there")
	}
	if ovs, _ := b.store.Overrides(ctx); len(ovs) != 0 {
		t.Errorf("deleting a custom task left overrides: %+v", ovs)
	}
	if err := b.engine.DeleteTask(ctx, "a", "tick"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.engine.Task("a", "tick"); ok {
		t.Error("file task still there")
	}
	if ovs, _ := b.store.Overrides(ctx); len(ovs) != 1 || !ovs[0].Deleted {
		t.Errorf("deleting a file task: %+v", ovs)
	}
	if err := b.engine.DeleteTask(ctx, "a", "tick"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting again: %v", err)
	}
}

func TestRunDetailAndModuleApps(t *testing.T) {
	b := apiBundle(t)
	events, unsubscribe := b.engine.Subscribe()
	defer unsubscribe()
	id, err := b.engine.Trigger(context.Background(), "a", "spin", nil, "me")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, func(ev Event) bool { return ev.Type == EventRunStarted && ev.RunID == id })
	d, ok := b.engine.Run(id)
	if !ok {
		t.Fatal("the started run is not known")
	}
	if d.App != "a" || d.Task != "spin" || d.User != "me" || d.Limits.Memory == 0 || d.Module == "" || !d.Scheduled.IsZero() {
		t.Errorf("RunDetail %+v", d)
	}
	uses := b.engine.ModuleApps()
	if got := uses[d.Module]; !slices.Equal(got, []string{"a"}) {
		t.Errorf("spin's module used by %v", got)
	}
	hello := 0
	for _, apps := range uses {
		if slices.Equal(apps, []string{"a", "b"}) {
			hello++
		}
	}
	if hello != 1 {
		t.Errorf("the module both apps use: %v", uses)
	}
	if err := b.engine.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if _, ok := b.engine.Run(id); ok {
		t.Error("Run of a finished run")
	}
}

func TestTaskKeys(t *testing.T) {
	b := apiBundle(t)
	if got := b.engine.TaskKeys(nil); !slices.Equal(got, []string{"a/spin", "a/tick", "b/job"}) {
		t.Errorf("TaskKeys(nil) = %v", got)
	}
	scheduled := b.engine.TaskKeys(func(info *TaskInfo) bool { return !info.Next.IsZero() })
	if !slices.Equal(scheduled, []string{"a/tick"}) {
		t.Errorf("scheduled tasks: %v", scheduled)
	}
	// An app whose name extends another's sorts after it, though its
	// key does not ('-' < '/').
	writeApp(t, b.home, testApp{name: "a-b", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	if err := b.engine.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/spin", "a/tick", "a-b/job", "b/job"}
	var all []string
	for _, info := range b.engine.Tasks() {
		all = append(all, info.Task.Key())
	}
	if got := b.engine.TaskKeys(nil); !slices.Equal(got, want) || !slices.Equal(all, want) {
		t.Errorf("TaskKeys order %v, Tasks order %v; want %v", got, all, want)
	}
}
