package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// restartEngine stops b's engine and starts a new one on the same home,
// store, runtime and clock, as a new process would.
func (b *bundle) restartEngine() {
	b.t.Helper()
	if err := b.engine.Stop(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	e, err := New(Config{Home: b.home, Store: SQLiteStore(b.store), Runtime: b.rt, Clock: b.clock})
	if err != nil {
		b.t.Fatal(err)
	}
	b.engine = e
	b.t.Cleanup(func() { e.Stop(context.Background()) })
	b.start()
}

func TestRetrySurvivesRestart(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: flaky
    retry: { max: 2, backoff: 30s }
`, modules: map[string][]byte{"flaky": wasmtest.Unreachable()}})
	b.start()
	ctx := context.Background()
	if _, err := b.engine.Trigger(ctx, "demo", "flaky", []byte(`{"n":1}`), "alice"); err != nil {
		t.Fatal(err)
	}
	b.idle()
	b.clock.Advance(10 * time.Second) // the first retry is due 20s from now
	b.idle()
	b.restartEngine()

	steps := []struct {
		advance  time.Duration
		wantRuns int
	}{
		{19 * time.Second, 1},
		{time.Second, 2}, // 30s after the failure, as without the restart
		{59 * time.Second, 2},
		{time.Second, 3}, // the second retry, scheduled by the new engine itself
		{time.Hour, 3},
	}
	for i, s := range steps {
		b.clock.Advance(s.advance)
		b.idle()
		if n := len(b.runs("demo", "flaky")); n != s.wantRuns {
			t.Fatalf("step %d: %d runs, want %d", i, n, s.wantRuns)
		}
	}
	for i, r := range b.runs("demo", "flaky")[1:] {
		got, err := b.store.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Trigger != store.TriggerRetry || got.Attempt != i+1 || string(got.Input) != `{"n":1}` || got.TriggeredByUser != "alice" || got.Status != store.StatusTrapped {
			t.Errorf("retry %d: %s attempt %d, input %s, user %q, %s; want retry attempt %d, input {\"n\":1}, user alice, trapped",
				i+1, got.Trigger, got.Attempt, got.Input, got.TriggeredByUser, got.Status, i+1)
		}
	}
}

func TestRestoreRetries(t *testing.T) {
	t.Parallel()
	type seed struct {
		status  store.Status // "" leaves the run running, as a crash does
		attempt int
		ended   time.Duration // end time, relative to the start of the new engine
		trigger store.Trigger // default manual
	}
	failedAgo := func(ago time.Duration) seed { return seed{status: store.StatusTrapped, ended: -ago} }
	tests := []struct {
		name  string
		entry string // the task's entry past its name; default: retry max 2, backoff 30s
		seeds []seed
		// due is when the retry comes, after the start; none: no retry.
		due         time.Duration
		none        bool
		wantAttempt int
	}{
		{name: "failed, backoff pending", seeds: []seed{failedAgo(10 * time.Second)}, due: 20 * time.Second, wantAttempt: 1},
		{name: "failed long ago", seeds: []seed{failedAgo(time.Hour)}, due: 0, wantAttempt: 1},
		{name: "exit code", seeds: []seed{{status: store.StatusFailed, ended: -5 * time.Second}}, due: 25 * time.Second, wantAttempt: 1},
		{name: "timed out", seeds: []seed{{status: store.StatusTimedOut, ended: -5 * time.Second}}, due: 25 * time.Second, wantAttempt: 1},
		{name: "out of memory", seeds: []seed{{status: store.StatusOutOfMemory, ended: -5 * time.Second}}, due: 25 * time.Second, wantAttempt: 1},
		{name: "running at a crash", seeds: []seed{{status: ""}}, due: 30 * time.Second, wantAttempt: 1},
		{name: "interrupted by a stop", seeds: []seed{{status: store.StatusInterrupted, ended: -10 * time.Second}}, due: 20 * time.Second, wantAttempt: 1},
		{name: "scheduled run", seeds: []seed{{status: store.StatusTrapped, ended: -10 * time.Second, trigger: store.TriggerSchedule}}, due: 20 * time.Second, wantAttempt: 1},
		{name: "second attempt failed", seeds: []seed{failedAgo(time.Minute), {status: store.StatusTrapped, attempt: 1, ended: -10 * time.Second, trigger: store.TriggerRetry}}, due: 50 * time.Second, wantAttempt: 2},
		{name: "skipped run after the failure", seeds: []seed{failedAgo(10 * time.Second), {status: store.StatusSkipped, ended: -5 * time.Second}}, due: 20 * time.Second, wantAttempt: 1},
		{name: "attempts used up", seeds: []seed{{status: store.StatusTrapped, attempt: 2, ended: -10 * time.Second, trigger: store.TriggerRetry}}, none: true},
		{name: "succeeded", seeds: []seed{{status: store.StatusSucceeded, ended: -10 * time.Second}}, none: true},
		{name: "cancelled", seeds: []seed{{status: store.StatusCancelled, ended: -10 * time.Second}}, none: true},
		{name: "a later run succeeded", seeds: []seed{failedAgo(20 * time.Second), {status: store.StatusSucceeded, ended: -10 * time.Second}}, none: true},
		{name: "no history", none: true},
		{name: "no retries", entry: "    retry: { max: 0 }\n", seeds: []seed{failedAgo(10 * time.Second)}, none: true},
		{name: "task disabled", entry: "    enabled: false\n    retry: { max: 2, backoff: 30s }\n", seeds: []seed{failedAgo(10 * time.Second)}, none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entry := tt.entry
			if entry == "" {
				entry = "    retry: { max: 2, backoff: 30s }\n"
			}
			b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: flaky\n" + entry,
				modules: map[string][]byte{"flaky": wasmtest.Unreachable()}})
			ctx := context.Background()
			var last store.Run
			for i, s := range tt.seeds {
				start := t0.Add(s.ended - time.Second)
				r := store.Run{App: "demo", Task: "flaky", Trigger: store.TriggerManual, TriggeredByUser: "bob",
					Attempt: s.attempt, StartTime: start, Input: []byte(`{"n":7}`)}
				if s.trigger != "" {
					r.Trigger = s.trigger
				}
				if r.Trigger != store.TriggerManual {
					r.TriggeredByUser = ""
					r.ScheduledTime = t0.Add(-time.Duration(len(tt.seeds)-i) * time.Hour)
				}
				if s.status == store.StatusSkipped {
					r.Reason = "previous run still running"
					if _, err := b.store.RecordSkipped(ctx, r); err != nil {
						t.Fatal(err)
					}
					continue
				}
				id, err := b.store.StartRun(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				if s.status != "" {
					end := store.RunEnd{Status: s.status, EndTime: t0.Add(s.ended), Duration: time.Second, ExitCode: -1}
					if err := b.store.FinishRun(ctx, id, end); err != nil {
						t.Fatal(err)
					}
				}
				r.ID = id
				last = r
			}
			before := len(b.runs("demo", "flaky"))
			b.start()
			retries := func() []store.Run {
				var out []store.Run
				for _, r := range b.runs("demo", "flaky") {
					if r.ID > last.ID && r.Trigger == store.TriggerRetry {
						out = append(out, r)
					}
				}
				return out
			}
			if tt.none {
				b.advance(2*time.Hour, time.Minute)
				if got := retries(); len(got) != 0 {
					t.Fatalf("retried: %+v", got)
				}
				if n := len(b.runs("demo", "flaky")); n != before {
					t.Fatalf("%d runs after the start, want the %d seeded", n, before)
				}
				return
			}
			if tt.due > 0 {
				b.clock.Advance(tt.due - time.Millisecond)
				b.idle()
				if got := retries(); len(got) != 0 {
					t.Fatalf("retried %v after the start, before its backoff (%v) ended: %+v", tt.due-time.Millisecond, tt.due, got)
				}
			}
			b.clock.Advance(time.Millisecond)
			b.idle()
			got := retries()
			if len(got) != 1 {
				t.Fatalf("%d retries at %v after the start, want 1: %+v", len(got), tt.due, got)
			}
			r, err := b.store.GetRun(ctx, got[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Attempt != tt.wantAttempt || !r.StartTime.Equal(t0.Add(tt.due)) || string(r.Input) != `{"n":7}` ||
				r.TriggeredByUser != last.TriggeredByUser || !r.ScheduledTime.Equal(last.ScheduledTime) {
				t.Errorf("retry: attempt %d at %v, input %s, user %q, scheduled %v; want attempt %d at %v, input {\"n\":7}, user %q, scheduled %v",
					r.Attempt, r.StartTime.Sub(t0), r.Input, r.TriggeredByUser, r.ScheduledTime,
					tt.wantAttempt, tt.due, last.TriggeredByUser, last.ScheduledTime)
			}
			if r.Status != store.StatusTrapped {
				t.Errorf("retry ended %s, want trapped", r.Status)
			}
		})
	}
}

// clockOnList advances a fake clock the first time runs are listed, as
// real time goes on while Start restores the state of a crash.
type clockOnList struct {
	store.Runs
	once  sync.Once
	clock *FakeClock
	idle  func()
}

func (c *clockOnList) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	c.once.Do(func() {
		c.clock.Advance(3 * time.Second)
		c.idle()
	})
	return c.Runs.ListRuns(ctx, f)
}

// TestNoFireBeforeRetriesRestored starts an engine on the run a crash
// left running, of a task due every second, while the clock moves on
// during the start: the retry restored from that run must not be hidden
// by a scheduled run that fired before the engine looked for retries.
func TestNoFireBeforeRetriesRestored(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: tick
    schedule: "@every 1s"
    retry: { max: 1, backoff: 1s }
`, modules: map[string][]byte{"tick": wasmtest.Hello()}})
	ctx := context.Background()
	crashed, err := b.store.StartRun(ctx, store.Run{App: "demo", Task: "tick", Trigger: store.TriggerSchedule,
		ScheduledTime: t0.Add(-time.Second), StartTime: t0.Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	runs := &clockOnList{Runs: b.store, clock: b.clock, idle: b.idle}
	e, err := New(Config{Home: b.home, Store: Store{Runs: runs, Retention: b.store, Overrides: b.store,
		Outcomes: b.store, LoadErrors: b.store, KV: b.store}, Runtime: b.rt, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	b.engine = e
	t.Cleanup(func() { e.Stop(context.Background()) })
	b.start()
	b.advance(5*time.Second, time.Second)
	var retries int
	var seen []string
	for _, r := range b.runs("demo", "tick") {
		if r.ID > crashed && r.Trigger == store.TriggerRetry {
			retries++
		}
		seen = append(seen, fmt.Sprintf("%d %s %s", r.ID, r.Trigger, r.Status))
	}
	if retries != 1 {
		t.Fatalf("%d retries of the run the crash cut short, want 1; runs: %s", retries, strings.Join(seen, ", "))
	}
}
