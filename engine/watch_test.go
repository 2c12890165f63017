package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// testSettle is the settle period of the watch tests, on the fake clock.
const testSettle = 500 * time.Millisecond

// watch runs Watch's loop on the bundle's engine until the test ends. The
// file watches and the first looks are in place when it returns, so what
// the test changes next is a change. With noEvents, the loop runs as it
// does when file events are unavailable: it only polls.
func (b *bundle) watch(cfg WatchConfig, noEvents bool) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := b.engine.newWatchLoop(ctx, cfg)
	if err != nil {
		cancel()
		b.t.Fatal(err)
	}
	if noEvents {
		l.n.close()
		l.n.w = nil
	}
	b.loop = l
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	b.t.Cleanup(func() {
		cancel()
		<-done
		l.n.close()
	})
}

// until advances the fake clock by step at a time, letting the engine and
// its watcher act in between, until cond holds; it fails the test if cond
// does not hold within 30 seconds of real time.
func (b *bundle) until(what string, step time.Duration, cond func() bool) {
	b.t.Helper()
	testenv.WaitFor(b.t, what, func() bool {
		if cond() {
			return true
		}
		b.clock.Advance(step)
		b.idle()
		return cond()
	})
}

// watcherStep returns a function that takes one look at the apps folder
// with a watcher of its own, a settle period after the last, as Watch
// would after a poll, and reports whether it reloaded anything.
func (b *bundle) watcherStep() func() bool {
	b.t.Helper()
	w, err := b.engine.newWatcher(testSettle)
	if err != nil {
		b.t.Fatal(err)
	}
	return func() bool {
		b.t.Helper()
		b.clock.Advance(testSettle)
		reloaded, err := w.step(context.Background(), false)
		if err != nil {
			b.t.Fatal(err)
		}
		return reloaded
	}
}

// pollOverrides gives a watch with a one-second Overrides period five
// looks at the overrides, in simulated time, each taken before the next.
func (b *bundle) pollOverrides() {
	b.t.Helper()
	for range 5 {
		n := b.loop.ovLooks.Load()
		b.clock.Advance(time.Second)
		testenv.WaitFor(b.t, "the watch to look at the overrides", func() bool { return b.loop.ovLooks.Load() > n })
		b.idle()
	}
}

// hasTask reports whether the engine lists app/task.
func (b *bundle) hasTask(app, task string) bool {
	for _, ti := range b.engine.Tasks() {
		if ti.Task.App == app && ti.Task.Name == task {
			return true
		}
	}
	return false
}

// reloads collects the EventAppReloaded events of an engine. The engine
// publishes an app's event before the reload that loads it returns, so
// after a reload its events are there to be read.
type reloads struct {
	ch     <-chan Event
	events []Event
}

func (b *bundle) recordReloads() *reloads {
	ch, cancel := b.engine.Subscribe()
	b.t.Cleanup(cancel)
	return &reloads{ch: ch}
}

// of returns the reload events of one app so far.
func (r *reloads) of(app string) []Event {
	for more := true; more; {
		select {
		case ev := <-r.ch:
			if ev.Type == EventAppReloaded {
				r.events = append(r.events, ev)
			}
		default:
			more = false
		}
	}
	var out []Event
	for _, ev := range r.events {
		if ev.App == app {
			out = append(out, ev)
		}
	}
	return out
}

func TestWatchConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  WatchConfig
		want string
	}{
		{"negative quiet", WatchConfig{Quiet: -1}, "Quiet"},
		{"negative settle", WatchConfig{Settle: -1}, "Settle"},
		{"negative poll", WatchConfig{Poll: -time.Second}, "Poll"},
		{"negative overrides", WatchConfig{Overrides: -time.Second}, "Overrides"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("withDefaults: %v, want an error naming %s", err, tt.want)
			}
		})
	}
	cfg, err := WatchConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if want := (WatchConfig{Quiet: 100 * time.Millisecond, Settle: 500 * time.Millisecond, Poll: 30 * time.Second, Overrides: time.Second}); cfg != want {
		t.Errorf("defaults %+v, want %+v", cfg, want)
	}
	b := newBundle(t, Config{})
	b.start()
	if err := b.engine.Watch(context.Background(), WatchConfig{Settle: -1}); err == nil || !strings.Contains(err.Error(), "Settle") {
		t.Errorf("Watch with a bad config: %v", err)
	}
}

// TestWatchHotReload changes the apps folder under a running engine and
// lets Watch, driven by real file events, reload it.
func TestWatchHotReload(t *testing.T) {
	t.Parallel()
	const tasks = `
tasks:
  - name: tick
    schedule: "* * * * *"
  - name: spin
    termination: { maxRuntime: 1h }
`
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: tasks, modules: map[string][]byte{"tick": wasmtest.Hello(), "spin": wasmtest.Spin()}})
	b.start()
	b.watch(WatchConfig{Settle: testSettle}, false)
	ctx := context.Background()
	dir := filepath.Join(b.home, "apps", "demo")
	ticks := func() int { return len(b.runs("demo", "tick")) }
	loadErrors := func() []store.LoadError {
		t.Helper()
		all, err := b.store.LoadErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return all["demo"]
	}

	steps := []struct {
		name  string
		setup func()
		// done is what the watcher's reload brings about.
		done  func() bool
		check func(t *testing.T, before int)
	}{
		{"add an app", func() {
			writeApp(t, b.home, testApp{name: "other", tasks: "tasks:\n  - name: job\n    schedule: \"* * * * *\"\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
		}, func() bool { return b.hasTask("other", "job") }, func(t *testing.T, before int) {
			if len(b.runs("other", "job")) == 0 {
				t.Errorf("the new app's task did not fire")
			}
			if ticks() != before+1 {
				t.Errorf("demo/tick fired %d times in a minute, want 1", ticks()-before)
			}
		}},
		{"change a schedule", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), strings.Replace(tasks, "* * * * *", "0 0 1 1 *", 1))
		}, func() bool { return b.task("demo", "tick").Task.Schedule.Cron == "0 0 1 1 *" }, func(t *testing.T, before int) {
			if ticks() != before {
				t.Errorf("a task scheduled for new year fired")
			}
		}},
		{"change it back", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), tasks)
		}, func() bool { return b.task("demo", "tick").Task.Schedule.Cron == "* * * * *" }, func(t *testing.T, before int) {
			if ticks() != before+1 {
				t.Errorf("demo/tick fired %d times in a minute, want 1", ticks()-before)
			}
		}},
		{"break the YAML", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), "tasks: [\n")
		}, func() bool { return b.task("demo", "tick").AppLoadError != "" }, func(t *testing.T, before int) {
			if ticks() != before+1 {
				t.Errorf("the last good version stopped firing")
			}
			if len(loadErrors()) == 0 {
				t.Errorf("no load error recorded")
			}
		}},
		{"fix the YAML", func() {
			mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), tasks)
		}, func() bool { return b.task("demo", "tick").AppLoadError == "" }, func(t *testing.T, before int) {
			if errs := loadErrors(); len(errs) != 0 {
				t.Errorf("load errors after the fix: %v", errs)
			}
			if ticks() != before+1 {
				t.Errorf("the fixed app did not fire")
			}
		}},
		{"break the module", func() {
			mustWrite(t, filepath.Join(dir, "tasks", "tick.wasm"), "garbage!") // 8 bytes
		}, func() bool { return b.task("demo", "tick").LoadError != "" }, func(t *testing.T, before int) {
			if le := b.task("demo", "tick").LoadError; !strings.Contains(le, "compiling") {
				t.Errorf("task load error %q, want a compile error", le)
			}
			if len(loadErrors()) == 0 {
				t.Errorf("no load error recorded")
			}
			if ticks() != before+1 {
				t.Errorf("the last good module stopped firing")
			}
			if last := b.runs("demo", "tick"); last[len(last)-1].Status != store.StatusSucceeded {
				t.Errorf("the last good module's run ended %s", last[len(last)-1].Status)
			}
		}},
		{"fix the module", func() {
			mustWrite(t, filepath.Join(dir, "tasks", "tick.wasm"), string(wasmtest.Hello()))
		}, func() bool { return b.task("demo", "tick").LoadError == "" }, func(t *testing.T, before int) {
			if errs := loadErrors(); len(errs) != 0 {
				t.Errorf("load errors after the fix: %v", errs)
			}
			if ticks() != before+1 {
				t.Errorf("the fixed task did not fire")
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.setup()
			b.until(s.name+" is reloaded", testSettle, s.done)
			before := ticks()
			b.advance(time.Minute, time.Minute)
			s.check(t, before)
		})
	}

	t.Run("remove the app while it runs", func(t *testing.T) {
		spinning, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "demo/spin to start", func() bool { return len(b.engine.Running()) > 0 })
		before := ticks()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		// b.until waits for an idle engine, which it is not while spin runs.
		testenv.WaitFor(t, "the removed app's tasks to go from the list", func() bool {
			if !b.hasTask("demo", "tick") && !b.hasTask("demo", "spin") {
				return true
			}
			b.clock.Advance(testSettle)
			return false
		})
		if got := b.engine.Running(); len(got) != 1 || got[0].ID != spinning {
			t.Fatalf("running after removal: %+v, want run %d going on", got, spinning)
		}
		b.clock.Advance(2 * time.Minute)
		if err := b.engine.Cancel(ctx, spinning); err != nil {
			t.Fatal(err)
		}
		b.idle()
		if n := ticks() - before; n > 1 { // one fire may have come before the removal was seen
			t.Errorf("demo/tick fired %d times after its app was removed", n)
		}
		r, err := b.store.GetRun(ctx, spinning)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.StatusCancelled {
			t.Errorf("the running run ended %s (%s), want cancelled", r.Status, r.Error)
		}
		if len(b.runs("other", "job")) == 0 {
			t.Errorf("the other app stopped")
		}
	})
}

// TestWatchHalfCopiedApp copies an app in pieces, with pauses shorter than
// the settle period: the app must be loaded once, complete.
func TestWatchHalfCopiedApp(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{})
	b.start()
	rl := b.recordReloads()
	b.watch(WatchConfig{Settle: testSettle}, false)
	// Each piece is seen by the watch before the next is written, a
	// pause shorter than the settle period later.
	seen := b.loop.fileEvents.Load()
	pause := func() {
		testenv.WaitFor(t, "the watch to see the last piece", func() bool { return b.loop.fileEvents.Load() > seen })
		b.clock.Advance(testSettle * 3 / 10)
		seen = b.loop.fileEvents.Load()
	}
	wasm := wasmtest.Hello()
	dir := filepath.Join(b.home, "apps", "late")
	writeApp(t, b.home, testApp{name: "late", tasks: "tasks:\n  - name: job\n    module: tasks/job.wasm\n"})
	pause()
	f, err := os.Create(filepath.Join(dir, "tasks", "job.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(wasm[:len(wasm)/2]); err != nil {
		t.Fatal(err)
	}
	pause()
	if _, err := f.Write(wasm[len(wasm)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b.until("the app is loaded", testSettle, func() bool { return len(rl.of("late")) > 0 })
	// Later looks must find nothing more to load.
	b.advance(2*time.Minute, testSettle)
	if got := rl.of("late"); len(got) != 1 || got[0].Message != "" {
		t.Fatalf("app reloads %+v, want one without an error", got)
	}
	if ti := b.task("late", "job"); ti.LoadError != "" || ti.AppLoadError != "" {
		t.Fatalf("load errors: task %q, app %q", ti.LoadError, ti.AppLoadError)
	}
	all, err := b.store.LoadErrors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all["late"]) != 0 {
		t.Fatalf("load errors recorded: %v", all["late"])
	}
	id, err := b.engine.Trigger(context.Background(), "late", "job", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	b.idle()
	if r, err := b.store.GetRun(context.Background(), id); err != nil || r.Status != store.StatusSucceeded {
		t.Fatalf("run of the copied task: %+v, %v", r, err)
	}
}

// TestWatcherConfirmsWithFingerprints looks at an app folder that changes
// between looks, as a copy that stalls for longer than the settle period
// does: nothing is loaded until two looks agree.
func TestWatcherConfirmsWithFingerprints(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "keep", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.start()
	rl := b.recordReloads()
	step := b.watcherStep()
	wasm := wasmtest.Hello()
	module := filepath.Join(b.home, "apps", "late", "tasks", "job.wasm")
	writeApp(t, b.home, testApp{name: "late", tasks: "tasks:\n  - name: job\n"})
	mustWrite(t, module, string(wasm[:len(wasm)/2]))
	if step() {
		t.Fatal("reloaded at the first look")
	}
	mustWrite(t, module, string(wasm))
	if step() {
		t.Fatal("reloaded although the module changed between two looks")
	}
	if !step() {
		t.Fatal("two looks agreed and nothing was reloaded")
	}
	if ti := b.task("late", "job"); ti.LoadError != "" {
		t.Fatalf("load error %q", ti.LoadError)
	}
	if step() {
		t.Fatal("reloaded again without a change")
	}
	if n := len(rl.of("late")); n != 1 {
		t.Errorf("late loaded %d times, want once", n)
	}
	if n := len(rl.of("keep")); n != 0 {
		t.Errorf("the unchanged app was reloaded %d times", n)
	}
}

// TestWatcherReloadsOnlyChangedApps checks that a change reloads its own
// app, and that a removal too waits for a second look.
func TestWatcherReloadsOnlyChangedApps(t *testing.T) {
	t.Parallel()
	job := "tasks:\n  - name: job\n"
	b := newBundle(t, Config{},
		testApp{name: "one", tasks: job, modules: map[string][]byte{"job": wasmtest.Hello()}},
		testApp{name: "two", tasks: job, modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.start()
	rl := b.recordReloads()
	step := b.watcherStep()
	mustWrite(t, filepath.Join(b.home, "apps", "two", "config", "tasks.yaml"), job+"  - name: more\n    module: tasks/job.wasm\n")
	if step() || !step() {
		t.Fatal("the change was not reloaded at the second look")
	}
	if one, two := len(rl.of("one")), len(rl.of("two")); one != 0 || two != 1 {
		t.Errorf("apps one and two reloaded %d and %d times, want 0 and 1", one, two)
	}
	if !b.hasTask("two", "more") {
		t.Errorf("the new task is not listed")
	}
	if err := os.RemoveAll(filepath.Join(b.home, "apps", "one")); err != nil {
		t.Fatal(err)
	}
	if step() {
		t.Fatal("reloaded a removal at the first look")
	}
	if !b.hasTask("one", "job") {
		t.Fatal("removed at the first look")
	}
	if !step() {
		t.Fatal("the removal was not applied at the second look")
	}
	if b.hasTask("one", "job") || !b.hasTask("two", "job") {
		t.Errorf("tasks after removing one: %+v", b.engine.Tasks())
	}
	if got := rl.of("one"); len(got) != 1 || got[0].Message != "removed" {
		t.Errorf("app one's events %+v, want one removal", got)
	}
}

// TestWatchPollsWithoutEvents runs Watch as it runs when file events are
// unavailable: changes are found by polling.
func TestWatchPollsWithoutEvents(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{})
	b.start()
	const poll = 30 * time.Second
	b.watch(WatchConfig{Settle: testSettle, Poll: poll}, true)
	writeApp(t, b.home, testApp{name: "demo", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.until("the app is loaded", poll/3, func() bool { return b.hasTask("demo", "job") })
	if d := b.clock.Now().Sub(t0); d < poll {
		t.Errorf("loaded %s after the watch began, before the first poll", d)
	}
	mustWrite(t, filepath.Join(b.home, "apps", "demo", "config", "tasks.yaml"), "tasks:\n  - name: job\n  - name: job2\n    module: tasks/job.wasm\n")
	b.until("the change is loaded", poll/3, func() bool { return b.hasTask("demo", "job2") })
}

// TestWatchOverridesOfAnotherProcess changes an override through a second
// handle on the database, as `cronbox task disable` does from another
// process.
func TestWatchOverridesOfAnotherProcess(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{EventBuffer: 4096},
		testApp{name: "demo", tasks: "tasks:\n  - name: tick\n    schedule: \"* * * * *\"\n", modules: map[string][]byte{"tick": wasmtest.Hello()}},
		testApp{name: "other", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.start()
	rl := b.recordReloads()
	b.watch(WatchConfig{Settle: testSettle, Overrides: time.Second}, false)
	ctx := context.Background()
	other, err := store.Open(ctx, filepath.Join(b.home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	b.advance(time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 1 {
		t.Fatalf("demo/tick fired %d times in the first minute", n)
	}
	off := false
	if err := other.PutOverride(ctx, store.Override{App: "demo", Task: "tick", Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	b.until("the override is applied", time.Second, func() bool { return !b.task("demo", "tick").Task.Enabled })
	before := len(b.runs("demo", "tick"))
	b.advance(3*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")) - before; n != 0 {
		t.Errorf("the disabled task fired %d times", n)
	}
	if n := len(rl.of("other")); n != 0 {
		t.Errorf("an app without changed overrides was reloaded %d times", n)
	}

	if err := other.DeleteOverride(ctx, "demo", "tick"); err != nil {
		t.Fatal(err)
	}
	b.until("the removed override is applied", time.Second, func() bool { return b.task("demo", "tick").Task.Enabled })
	before = len(b.runs("demo", "tick"))
	b.advance(time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")) - before; n != 1 {
		t.Errorf("the enabled task fired %d times in a minute", n)
	}
}

// TestWatchOverridesLoadedOnce checks that the overrides watch reloads an
// app for a change it has not been loaded with, made before the watch
// began too, and not for the engine's own changes, which a reload applied
// already.
func TestWatchOverridesLoadedOnce(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{EventBuffer: 4096},
		testApp{name: "demo", tasks: "tasks:\n  - name: tick\n    schedule: \"* * * * *\"\n", modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	rl := b.recordReloads()
	ctx := context.Background()
	other, err := store.Open(ctx, filepath.Join(b.home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Another process disables the task after Start, before Watch.
	off := false
	if err := other.PutOverride(ctx, store.Override{App: "demo", Task: "tick", Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	b.watch(WatchConfig{Settle: testSettle, Overrides: time.Second}, false)
	// The reload's event follows the change it applies.
	b.until("the override made before the watch is applied", time.Second, func() bool {
		return !b.task("demo", "tick").Task.Enabled && len(rl.of("demo")) > 0
	})
	b.pollOverrides()
	if n := len(rl.of("demo")); n != 1 {
		t.Fatalf("demo reloaded %d times for one change of its overrides", n)
	}

	// The engine's own change is applied by its own reload, once.
	if err := b.engine.UpdateTask(ctx, "demo", "tick", TaskUpdate{Schedule: json.RawMessage(`"*/2 * * * *"`)}); err != nil {
		t.Fatal(err)
	}
	b.pollOverrides()
	if n := len(rl.of("demo")); n != 2 {
		t.Errorf("demo reloaded %d times after one change through the engine; want once more", n-1)
	}
}

// TestWatchReEnableReloadsOnce re-enables a task that failures disabled:
// the engine clears the failures before its reload, so that the reload
// takes the overrides as they end up and the watch has nothing to redo.
func TestWatchReEnableReloadsOnce(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{EventBuffer: 4096}, testApp{name: "demo", tasks: `
tasks:
  - name: broken
    schedule: "* * * * *"
    termination: { maxFailures: 1 }
`, modules: map[string][]byte{"broken": wasmtest.Unreachable()}})
	b.start()
	rl := b.recordReloads()
	b.watch(WatchConfig{Settle: testSettle, Overrides: time.Second}, false)
	b.advance(time.Minute, time.Minute)
	if b.task("demo", "broken").Task.Enabled {
		t.Fatal("a failure did not disable the task")
	}
	settle := func() int {
		b.pollOverrides()
		return len(rl.of("demo"))
	}
	before := settle()
	if err := b.engine.SetEnabled(context.Background(), "demo", "broken", true); err != nil {
		t.Fatal(err)
	}
	if n := settle() - before; n != 1 {
		t.Errorf("re-enabling the task reloaded its app %d times, want once", n)
	}
	if info := b.task("demo", "broken"); !info.Task.Enabled || info.Failures != 0 || info.DisabledReason != "" {
		t.Errorf("after enabling: enabled %v, failures %d, reason %q", info.Task.Enabled, info.Failures, info.DisabledReason)
	}
}

// TestWatchFollowsNewFolders changes files in folders made after Watch
// began; with polling put off, only their file events can tell.
func TestWatchFollowsNewFolders(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{})
	b.start()
	b.watch(WatchConfig{Settle: testSettle, Poll: 1000 * time.Hour}, false)
	writeApp(t, b.home, testApp{name: "late", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.until("the new app is loaded", testSettle, func() bool { return b.hasTask("late", "job") })

	deep := filepath.Join(b.home, "apps", "late", "tasks", "sub", "deeper")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(deep, "job2.wasm"), string(wasmtest.Hello()))
	mustWrite(t, filepath.Join(b.home, "apps", "late", "config", "tasks.yaml"), "tasks:\n  - name: job\n  - name: job2\n    module: tasks/sub/deeper/job2.wasm\n")
	b.until("the new task is loaded", testSettle, func() bool { return b.hasTask("late", "job2") })
	if le := b.task("late", "job2").LoadError; le != "" {
		t.Fatalf("load error %q", le)
	}

	mustWrite(t, filepath.Join(deep, "job2.wasm"), "garbage!")
	b.until("the broken module is seen", testSettle, func() bool { return b.task("late", "job2").LoadError != "" })
}
