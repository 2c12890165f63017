package engine

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	st := &store.SQLite{}
	rt := &runtime.Runtime{}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{Runtime: rt}, "Store.Runs"},
		{"no retention", Config{Store: Store{Runs: st, Overrides: st, Outcomes: st, LoadErrors: st, KV: st}, Runtime: rt}, "Store.Retention"},
		{"no kv", Config{Store: Store{Runs: st, Retention: st, Overrides: st, Outcomes: st, LoadErrors: st}, Runtime: rt}, "Store.KV"},
		{"no runtime", Config{Store: SQLiteStore(st)}, "Runtime"},
		{"negative limit", Config{Store: SQLiteStore(st), Runtime: rt, MaxConcurrent: -1}, "MaxConcurrent"},
		{"negative grace", Config{Store: SQLiteStore(st), Runtime: rt, GracePeriod: -time.Second}, "GracePeriod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tt.want)
			}
		})
	}
	e, err := New(Config{Store: SQLiteStore(st), Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.MaxConcurrent <= 0 || e.cfg.Home != "." || e.cfg.Clock == nil {
		t.Errorf("defaults not applied: %+v", e.cfg)
	}
}

// events collects a subscription's events for a test.
type events struct {
	t  *testing.T
	ch <-chan Event
}

func (b *bundle) subscribe() *events {
	ch, cancel := b.engine.Subscribe()
	b.t.Cleanup(cancel)
	return &events{t: b.t, ch: ch}
}

// wait returns the next event of type typ, or fails the test after 30s.
func (ev *events) wait(typ EventType) Event {
	ev.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-ev.ch:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			ev.t.Fatalf("no %s event", typ)
		}
	}
}

// waitAll returns the next event of each type, in whatever order they come.
func (ev *events) waitAll(types ...EventType) map[EventType]Event {
	ev.t.Helper()
	got := map[EventType]Event{}
	timeout := time.After(30 * time.Second)
	for len(got) < len(types) {
		select {
		case e := <-ev.ch:
			for _, typ := range types {
				if _, ok := got[typ]; !ok && e.Type == typ {
					got[typ] = e
				}
			}
		case <-timeout:
			ev.t.Fatalf("got events %v, want one each of %v", got, types)
		}
	}
	return got
}

func TestEveryScheduledTimeFiresOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		step       time.Duration
		wantRuns   int
		wantFirst  time.Time
		schedule   string
		concurency string
	}{
		{"minute steps", time.Minute, 10, t0.Add(time.Minute), "* * * * *", "allow"},
		{"one big step", 10 * time.Minute, 10, t0.Add(time.Minute), "* * * * *", "allow"},
		{"seconds field", 10 * time.Second, 6, t0.Add(10 * time.Second), "*/10 * * * * *", "forbid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newDemo(t, Config{}, `
tasks:
  - name: hello
    schedule: "`+tt.schedule+`"
    concurrency: `+tt.concurency+`
`, map[string][]byte{"hello": wasmtest.Hello()})
			b.start()
			total := time.Duration(tt.wantRuns) * tt.wantFirst.Sub(t0)
			b.advance(total, tt.step)
			runs := b.runs("demo", "hello")
			if len(runs) != tt.wantRuns {
				t.Fatalf("got %d runs, want %d", len(runs), tt.wantRuns)
			}
			seen := map[time.Time]bool{}
			for _, r := range runs {
				if r.Status != store.StatusSucceeded || r.Trigger != store.TriggerSchedule {
					t.Errorf("run %d: %s by %s (%s), want succeeded by schedule", r.ID, r.Status, r.Trigger, r.Error)
				}
				if seen[r.ScheduledTime] {
					t.Errorf("scheduled time %v fired twice", r.ScheduledTime)
				}
				seen[r.ScheduledTime] = true
			}
			if !runs[0].ScheduledTime.Equal(tt.wantFirst) {
				t.Errorf("first scheduled time %v, want %v", runs[0].ScheduledTime, tt.wantFirst)
			}
			got, err := b.store.GetRun(context.Background(), runs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Output != "hello\n" {
				t.Errorf("output %q, want hello", got.Output)
			}
			if next := b.task("demo", "hello").Next; !next.After(b.clock.Now()) {
				t.Errorf("next fire time %v is not after now %v", next, b.clock.Now())
			}
		})
	}
}

func TestOneShotAt(t *testing.T) {
	t.Parallel()
	at := t0.Add(90 * time.Second)
	b := newDemo(t, Config{}, `
tasks:
  - name: once
    schedule: { at: `+at.Format(time.RFC3339)+` }
`, map[string][]byte{"once": wasmtest.Hello()})
	b.start()
	b.advance(5*time.Minute, time.Minute)
	runs := b.runs("demo", "once")
	if len(runs) != 1 || !runs[0].ScheduledTime.Equal(at) {
		t.Fatalf("runs %+v, want one at %v", runs, at)
	}
	if next := b.task("demo", "once").Next; !next.IsZero() {
		t.Errorf("next fire time %v after a one-shot fired, want none", next)
	}
}

func TestOverlapPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy string
		want   map[store.Status]int // after the second fire and a stop
	}{
		{"forbid", map[store.Status]int{store.StatusSkipped: 1, store.StatusInterrupted: 1}},
		{"allow", map[store.Status]int{store.StatusInterrupted: 2}},
		{"replace", map[store.Status]int{store.StatusCancelled: 1, store.StatusInterrupted: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			b := newDemo(t, Config{GracePeriod: time.Millisecond}, `
tasks:
  - name: spin
    schedule: "* * * * *"
    concurrency: `+tt.policy+`
    termination: { maxRuntime: 1h }
`, map[string][]byte{"spin": wasmtest.Spin()})
			ev := b.subscribe()
			b.start()
			b.clock.Advance(time.Minute)
			ev.wait(EventRunStarted)
			b.clock.Advance(time.Minute)
			switch tt.policy {
			case "forbid":
				if e := ev.wait(EventRunSkipped); e.Message != reasonOverlap {
					t.Errorf("skip reason %q, want %q", e.Message, reasonOverlap)
				}
			case "allow":
				ev.wait(EventRunStarted)
			case "replace":
				got := ev.waitAll(EventRunFinished, EventRunStarted)
				if e := got[EventRunFinished]; e.Status != store.StatusCancelled {
					t.Errorf("replaced run ended %s, want cancelled", e.Status)
				}
			}
			if err := b.engine.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[store.Status]int{}
			for _, r := range b.runs("demo", "spin") {
				got[r.Status]++
				if r.Status == store.StatusSkipped && r.Reason != reasonOverlap {
					t.Errorf("skipped run reason %q", r.Reason)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("runs by status %v, want %v", got, tt.want)
			}
			for s, n := range tt.want {
				if got[s] != n {
					t.Errorf("runs by status %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestQuotaFairness(t *testing.T) {
	t.Parallel()
	task := func(name string) string {
		return "tasks:\n  - name: " + name + "\n    concurrency: allow\n"
	}
	b := newBundle(t, Config{MaxConcurrent: 1},
		testApp{name: "flood", quota: 1, tasks: task("work") + "  - name: block\n    termination: { maxRuntime: 1h }\n",
			modules: map[string][]byte{"work": wasmtest.Loop(1000), "block": wasmtest.Spin()}},
		testApp{name: "quiet", quota: 1, tasks: task("one"), modules: map[string][]byte{"one": wasmtest.Loop(1000)}},
	)
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	// A run that holds the only slot until cancelled, so the queues fill.
	block, err := b.engine.Trigger(ctx, "flood", "block", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	for range 50 {
		if _, err := b.engine.Trigger(ctx, "flood", "work", nil, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.engine.Trigger(ctx, "quiet", "one", nil, "test"); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.Cancel(ctx, block); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 51 {
		order = append(order, ev.wait(EventRunStarted).App)
	}
	b.idle()
	pos := -1
	for i, a := range order {
		if a == "quiet" {
			pos = i
		}
	}
	// Round robin serves the quiet app at one of the next two free slots,
	// not after the flood's 50 runs.
	if pos < 0 || pos > 1 {
		t.Fatalf("the quiet app's run started at position %d of %v, want within the first 2", pos, order)
	}
	if n := count(b.runs("flood", "work"), store.StatusSucceeded, store.TriggerManual); n != 50 {
		t.Errorf("flood succeeded %d runs, want 50", n)
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, `
tasks:
  - name: flaky
    retry: { max: 2, backoff: 30s }
`, map[string][]byte{"flaky": wasmtest.Unreachable()})
	b.start()
	if _, err := b.engine.Trigger(context.Background(), "demo", "flaky", nil, "test"); err != nil {
		t.Fatal(err)
	}
	b.idle()
	steps := []struct {
		advance  time.Duration
		wantRuns int
	}{
		{29 * time.Second, 1},
		{time.Second, 2}, // first retry after 30s
		{59 * time.Second, 2},
		{time.Second, 3}, // second retry 60s later
		{time.Hour, 3},   // no more
	}
	for i, s := range steps {
		b.clock.Advance(s.advance)
		b.idle()
		if n := len(b.runs("demo", "flaky")); n != s.wantRuns {
			t.Fatalf("step %d: %d runs, want %d", i, n, s.wantRuns)
		}
	}
	for i, r := range b.runs("demo", "flaky") {
		wantTrigger := store.TriggerRetry
		if i == 0 {
			wantTrigger = store.TriggerManual
		}
		if r.Attempt != i || r.Trigger != wantTrigger || r.Status != store.StatusTrapped {
			t.Errorf("run %d: attempt %d by %s, %s; want attempt %d by %s, trapped", i, r.Attempt, r.Trigger, r.Status, i, wantTrigger)
		}
	}
}

func TestDependencies(t *testing.T) {
	t.Parallel()
	hello := wasmtest.Hello()
	b := newDemo(t, Config{}, `
tasks:
  - name: fetch
  - name: rotate
  - name: report
    after: [fetch, rotate]
`, map[string][]byte{"fetch": hello, "rotate": hello, "report": hello})
	b.start()
	steps := []struct {
		trigger     string
		wantReports int
	}{
		{"fetch", 0},
		{"rotate", 1}, // both succeeded since report's last run
		{"fetch", 1},  // rotate has not succeeded again
		{"rotate", 2},
	}
	for i, s := range steps {
		if _, err := b.engine.Trigger(context.Background(), "demo", s.trigger, nil, "test"); err != nil {
			t.Fatal(err)
		}
		b.idle()
		runs := b.runs("demo", "report")
		if len(runs) != s.wantReports {
			t.Fatalf("step %d: %d runs of report, want %d", i, len(runs), s.wantReports)
		}
		if n := count(runs, store.StatusSucceeded, store.TriggerDependency); n != s.wantReports {
			t.Errorf("step %d: %d succeeded dependency runs, want %d", i, n, s.wantReports)
		}
	}
}

func TestAutoDisableAndReEnable(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, `
tasks:
  - name: broken
    schedule: "* * * * *"
    termination: { maxFailures: 2 }
`, map[string][]byte{"broken": wasmtest.Unreachable()})
	b.start()
	b.advance(5*time.Minute, time.Minute)
	if n := len(b.runs("demo", "broken")); n != 2 {
		t.Fatalf("%d runs, want 2 before the task disables itself", n)
	}
	info := b.task("demo", "broken")
	if info.Task.Enabled || info.DisabledReason == "" || info.Failures != 2 || !info.Next.IsZero() {
		t.Fatalf("after 2 failures: enabled %v, reason %q, failures %d, next %v", info.Task.Enabled, info.DisabledReason, info.Failures, info.Next)
	}
	// The task as the app loaded it, which overrides are checked against,
	// is not the one disabled.
	b.engine.mu.Lock()
	loaded, _ := b.engine.apps["demo"].app.Task("broken")
	b.engine.mu.Unlock()
	if !loaded.Enabled {
		t.Fatal("disabling the task changed the app as loaded")
	}
	// A reload keeps it disabled: the store's override says so.
	if err := b.engine.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.task("demo", "broken").Task.Enabled {
		t.Fatal("enabled again by a reload")
	}
	if err := b.engine.SetEnabled(context.Background(), "demo", "broken", true); err != nil {
		t.Fatal(err)
	}
	info = b.task("demo", "broken")
	if !info.Task.Enabled || info.DisabledReason != "" || info.Failures != 0 || info.Next.IsZero() {
		t.Fatalf("after enabling: enabled %v, reason %q, failures %d, next %v", info.Task.Enabled, info.DisabledReason, info.Failures, info.Next)
	}
	b.advance(time.Minute, time.Minute)
	if n := len(b.runs("demo", "broken")); n != 3 {
		t.Fatalf("%d runs, want 3 after enabling", n)
	}
}

func TestMisfirePolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		misfire     string
		window      string
		downtime    time.Duration
		wantCatchUp int
		wantSkipped int
	}{
		{"skip", "skip", "1h", 30 * time.Minute, 0, 1},
		{"run-once", "run-once", "1h", 30 * time.Minute, 1, 0},
		{"run-once outside window", "run-once", "1m", 32 * time.Minute, 0, 1},
		{"nothing missed", "run-once", "1h", 4 * time.Minute, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newDemo(t, Config{}, `
tasks:
  - name: tick
    schedule: "*/5 * * * *"
    misfire: `+tt.misfire+`
    misfireWindow: `+tt.window+`
`, map[string][]byte{"tick": wasmtest.Hello()})
			b.start()
			b.advance(5*time.Minute, 5*time.Minute)
			if err := b.engine.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(tt.downtime)
			b.restart()
			runs := b.runs("demo", "tick")
			if n := count(runs, store.StatusSucceeded, store.TriggerCatchUp); n != tt.wantCatchUp {
				t.Fatalf("%d catch-up runs, want %d", n, tt.wantCatchUp)
			}
			for _, r := range runs {
				if r.Status == store.StatusSkipped && r.Reason != reasonMissed {
					t.Errorf("skipped run with reason %q, want %q", r.Reason, reasonMissed)
				}
			}
			if n := count(runs, store.StatusSkipped, ""); n != tt.wantSkipped {
				t.Errorf("%d missed times recorded as skipped, want %d", n, tt.wantSkipped)
			}
			if tt.wantCatchUp > 0 {
				last := runs[len(runs)-1]
				if want := t0.Add(5*time.Minute + tt.downtime); !last.ScheduledTime.Equal(want) {
					t.Errorf("catch-up for %v, want the latest missed time %v", last.ScheduledTime, want)
				}
			}
			b.advance(5*time.Minute, 5*time.Minute)
			if n := count(b.runs("demo", "tick"), store.StatusSucceeded, store.TriggerSchedule); n != 2 {
				t.Errorf("%d scheduled runs, want 2", n)
			}
		})
	}
}

func TestTriggerRecordsInput(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, "tasks:\n  - name: hello\n", map[string][]byte{"hello": wasmtest.Hello()})
	b.start()
	ctx := context.Background()
	r := b.trigger("demo", "hello", []byte(`{"x":1}`))
	if string(r.Input) != `{"x":1}` || r.TriggeredByUser != "alice" || r.Trigger != store.TriggerManual || r.Status != store.StatusSucceeded {
		t.Errorf("run %+v, want input {\"x\":1} by alice, manual, succeeded", r)
	}
	errTests := []struct {
		name      string
		app, task string
		input     string
		want      error
	}{
		{"unknown task", "demo", "nope", "", ErrNotFound},
		{"unknown app", "nope", "hello", "", ErrNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := b.engine.Trigger(ctx, tt.app, tt.task, nil, ""); !errors.Is(err, tt.want) {
				t.Errorf("Trigger: %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := b.engine.Trigger(ctx, "demo", "hello", []byte(`{`), ""); err == nil {
		t.Error("Trigger with invalid JSON input succeeded")
	}
}

func TestStopIsGraceful(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{GracePeriod: 50 * time.Millisecond}, `
tasks:
  - name: spin
    termination: { maxRuntime: 1h }
`, map[string][]byte{"spin": wasmtest.Spin()})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	if err := b.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := b.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusInterrupted {
		t.Errorf("run ended %s, want interrupted", r.Status)
	}
	if _, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Trigger after Stop: %v, want ErrNotRunning", err)
	}
}

// TestStopLeavesNothing checks that Stop cancels a pending retry and
// returns with no goroutine or timer of the engine left. It does not run in
// parallel, so that the goroutines it counts are its own.
func TestStopLeavesNothing(t *testing.T) {
	b := newDemo(t, Config{}, `
tasks:
  - name: flaky
    retry: { max: 3, backoff: 1h }
`, map[string][]byte{"flaky": wasmtest.Unreachable()})
	before := goruntime.NumGoroutine()
	b.start()
	ctx := context.Background()
	if _, err := b.engine.Trigger(ctx, "demo", "flaky", nil, "test"); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if n := b.clock.Pending(); n < 2 { // the history sweep and the retry
		t.Fatalf("%d timers pending before Stop, want the retry's among them", n)
	}
	if err := b.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.clock.Pending(); n != 0 {
		t.Errorf("%d timers left on the clock after Stop, want none", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
		goruntime.Gosched()
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Stop, %d before Start", n, before)
	}
	b.clock.Advance(2 * time.Hour) // when the retry would have come due
	if runs := b.runs("demo", "flaky"); len(runs) != 1 {
		t.Errorf("%d runs after Stop and the backoff, want the first alone", len(runs))
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, `
tasks:
  - name: spin
    termination: { maxRuntime: 1h }
`, map[string][]byte{"spin": wasmtest.Spin()})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	if _, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test"); !errors.Is(err, ErrBusy) {
		t.Errorf("second Trigger under forbid: %v, want ErrBusy", err)
	}
	if err := b.engine.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	b.idle()
	r, err := b.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusCancelled {
		t.Errorf("run ended %s, want cancelled", r.Status)
	}
	if err := b.engine.Cancel(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel of a finished run: %v, want ErrNotFound", err)
	}
}

func TestOneShotMissedWhileDown(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Minute)
	tests := []struct {
		misfire     string
		wantCatchUp int
	}{
		{"skip", 0},
		{"run-once", 1},
	}
	for _, tt := range tests {
		t.Run(tt.misfire, func(t *testing.T) {
			t.Parallel()
			b := newDemo(t, Config{}, `
tasks:
  - name: once
    schedule: { at: `+at.Format(time.RFC3339)+` }
    misfire: `+tt.misfire+`
`, map[string][]byte{"once": wasmtest.Hello()})
			b.clock.Advance(10 * time.Minute) // down when it was due
			b.start()
			b.advance(time.Hour, 10*time.Minute)
			runs := b.runs("demo", "once")
			if n := count(runs, store.StatusSucceeded, store.TriggerCatchUp); n != tt.wantCatchUp || len(runs) != tt.wantCatchUp {
				t.Fatalf("runs %+v, want %d catch-up run", runs, tt.wantCatchUp)
			}
			if tt.wantCatchUp > 0 && !runs[0].ScheduledTime.Equal(at) {
				t.Errorf("caught up %v, want %v", runs[0].ScheduledTime, at)
			}
		})
	}
}

func TestDependencyStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	hello := wasmtest.Hello()
	b := newDemo(t, Config{}, `
tasks:
  - name: fetch
  - name: rotate
  - name: report
    after: [fetch, rotate]
`, map[string][]byte{"fetch": hello, "rotate": hello, "report": hello})
	b.start()
	ctx := context.Background()
	if _, err := b.engine.Trigger(ctx, "demo", "fetch", nil, "test"); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if err := b.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	b.restart()
	if _, err := b.engine.Trigger(ctx, "demo", "rotate", nil, "test"); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if n := count(b.runs("demo", "report"), store.StatusSucceeded, store.TriggerDependency); n != 1 {
		t.Fatalf("%d dependency runs of report, want 1: fetch succeeded before the restart", n)
	}
}

// TestCatchUpLeavesNextFireToScheduler covers the moment between Start's
// Reload, which sets a task's next fire time from the clock, and its
// catch-up, which reads the clock again: a fire time that passes in
// between is the scheduler's to fire, not a missed one.
func TestCatchUpLeavesNextFireToScheduler(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, `
tasks:
  - name: tick
    schedule: "*/5 * * * *"
    misfire: run-once
    misfireWindow: 1h
`, map[string][]byte{"tick": wasmtest.Hello()})
	ctx := context.Background()
	// The last fire a previous process recorded: 10:00, and it is 10:12.
	if _, err := b.store.RecordSkipped(ctx, store.Run{App: "demo", Task: "tick", Trigger: store.TriggerSchedule,
		ScheduledTime: t0, StartTime: t0, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(12 * time.Minute)
	if err := b.engine.Reload(ctx); err != nil { // next fire: 10:15
		t.Fatal(err)
	}
	b.clock.Advance(4 * time.Minute) // 10:16: past 10:15 before catch-up looks
	b.engine.mu.Lock()
	b.engine.started = true // as Start has, so that the catch-up run is taken
	b.engine.mu.Unlock()
	b.engine.catchUp(ctx)
	b.idle()
	runs := b.runs("demo", "tick")
	if n := count(runs, store.StatusSucceeded, store.TriggerCatchUp); n != 1 {
		t.Fatalf("%d catch-up runs, want 1: %+v", n, runs)
	}
	for _, r := range runs {
		if r.Trigger == store.TriggerCatchUp && !r.ScheduledTime.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("catch-up for %v, want 10:10, the last time before the next fire (10:15)", r.ScheduledTime.Format("15:04"))
		}
	}
}

func TestTasksShareTheAppAsLoaded(t *testing.T) {
	t.Parallel()
	b := newDemo(t, Config{}, `
tasks:
  - name: kept
    schedule: "5 * * * *"
  - name: overridden
    schedule: "5 * * * *"
  - name: other
    schedule: "6 * * * *"
`, map[string][]byte{"kept": wasmtest.Hello(), "overridden": wasmtest.Hello(), "other": wasmtest.Hello()})
	b.start()
	if err := b.engine.SetEnabled(context.Background(), "demo", "overridden", false); err != nil {
		t.Fatal(err)
	}
	b.engine.mu.Lock()
	defer b.engine.mu.Unlock()
	a := b.engine.apps["demo"].app
	kept, overridden, other := b.engine.tasks["demo/kept"], b.engine.tasks["demo/overridden"], b.engine.tasks["demo/other"]
	if kept.task != &a.Tasks[0] {
		t.Error("a task without an override is a copy of the app's, not the app's")
	}
	if overridden.task == &a.Tasks[1] || overridden.task.Enabled || !a.Tasks[1].Enabled {
		t.Errorf("overridden task: shared %v, enabled %v, enabled as loaded %v; want a copy, disabled, the app's enabled",
			overridden.task == &a.Tasks[1], overridden.task.Enabled, a.Tasks[1].Enabled)
	}
	if kept.sched != overridden.sched || kept.sched == other.sched {
		t.Errorf("schedules: kept and overridden (both %q) shared %v, kept and other (%q) shared %v; want one schedule for the same expression",
			kept.sched, kept.sched == overridden.sched, other.sched, kept.sched == other.sched)
	}
}
