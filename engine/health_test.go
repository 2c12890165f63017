package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// errDiskFull is the error a failingStore's writes return.
var errDiskFull = errors.New("database or disk is full (13) (SQLITE_FULL)")

// failingStore is a store whose writes fail on demand, as a full disk
// makes them fail: every write while full is set, and FinishRun alone
// while endsFail is.
type failingStore struct {
	*store.SQLite
	full, endsFail atomic.Bool
}

// engineStore is s as the engine's store: the parts whose writes fail on
// demand are s, the others its SQLite store.
func (s *failingStore) engineStore() Store {
	st := SQLiteStore(s.SQLite)
	st.Runs, st.Retention, st.Outcomes = s, s, s
	return st
}

func (s *failingStore) fail() error {
	if s.full.Load() {
		return errDiskFull
	}
	return nil
}

func (s *failingStore) StartRun(ctx context.Context, r store.Run) (int64, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.SQLite.StartRun(ctx, r)
}

func (s *failingStore) RecordSkipped(ctx context.Context, r store.Run) (int64, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.SQLite.RecordSkipped(ctx, r)
}

func (s *failingStore) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	if err := s.fail(); err != nil {
		out := make([]store.Recorded, len(runs))
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	return s.SQLite.RecordRuns(ctx, runs)
}

func (s *failingStore) FinishRun(ctx context.Context, id int64, end store.RunEnd) error {
	if err := s.fail(); err != nil {
		return err
	}
	if s.endsFail.Load() {
		return errDiskFull
	}
	return s.SQLite.FinishRun(ctx, id, end)
}

func (s *failingStore) EndRun(ctx context.Context, id int64, end store.RunEnd, after store.AfterEnd) (store.Ended, error) {
	if err := s.fail(); err != nil {
		return store.Ended{}, err
	}
	if s.endsFail.Load() {
		return store.Ended{}, errDiskFull
	}
	return s.SQLite.EndRun(ctx, id, end, after)
}

func (s *failingStore) AppendLogs(ctx context.Context, id int64, lines []store.LogLine) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.SQLite.AppendLogs(ctx, id, lines)
}

func (s *failingStore) RecordOutcome(ctx context.Context, app, task string, o store.Outcome) (store.FailureState, error) {
	if err := s.fail(); err != nil {
		return store.FailureState{}, err
	}
	return s.SQLite.RecordOutcome(ctx, app, task, o)
}

func (s *failingStore) PruneRuns(ctx context.Context, app, task string, keep int, maxAge time.Duration, now time.Time) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.SQLite.PruneRuns(ctx, app, task, keep, maxAge, now)
}

func (s *failingStore) PruneDue(ctx context.Context, limits []store.PruneLimit, now time.Time) ([]store.TaskRef, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.SQLite.PruneDue(ctx, limits, now)
}

func (s *failingStore) PruneHistory(ctx context.Context, app string, quota int64) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.SQLite.PruneHistory(ctx, app, quota)
}

func (s *failingStore) Heartbeat(ctx context.Context, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.SQLite.Heartbeat(ctx, now)
}

// newFailingBundle is newBundle with an engine whose store fails on
// demand.
func newFailingBundle(t *testing.T, cfg Config, apps ...testApp) (*bundle, *failingStore) {
	t.Helper()
	b := newBundle(t, cfg, apps...)
	fs := &failingStore{SQLite: b.store}
	b.engine = b.newEngine(cfg, fs.engineStore())
	return b, fs
}

// TestFiresDuringOutageFollowMisfirePolicy fires schedules while the store
// cannot write: the engine says it is unhealthy, and once the store writes
// again each task's misfire policy applies to the fire times it could not
// record: skip records the latest as skipped, run-once runs it.
func TestFiresDuringOutageFollowMisfirePolicy(t *testing.T) {
	t.Parallel()
	b, fs := newFailingBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: skipper
    schedule: "*/10 * * * *"
  - name: catcher
    schedule: "*/10 * * * *"
    misfire: run-once
`, modules: map[string][]byte{"skipper": wasmtest.Hello(), "catcher": wasmtest.Hello()}})
	b.start()
	if err := b.engine.Healthy(); err != nil {
		t.Fatalf("Healthy before the outage: %v", err)
	}
	fs.full.Store(true)
	b.advance(25*time.Minute, time.Minute) // t0+10m and t0+20m fire
	err := b.engine.Healthy()
	if err == nil || !errors.Is(err, errDiskFull) {
		t.Fatalf("Healthy during the outage = %v, want it to name %v", err, errDiskFull)
	}
	for _, task := range []string{"skipper", "catcher"} {
		if runs := b.runs("demo", task); len(runs) != 0 {
			t.Fatalf("%s: %d runs recorded by a store that cannot write", task, len(runs))
		}
	}

	fs.full.Store(false)
	b.advance(3*time.Minute, 10*time.Second) // to t0+28m: the retries' wait is at most 1m
	if err := b.engine.Healthy(); err != nil {
		t.Fatalf("Healthy after the store writes again: %v", err)
	}
	skipped := b.runs("demo", "skipper")
	if len(skipped) != 1 || skipped[0].Status != store.StatusSkipped || !skipped[0].ScheduledTime.Equal(t0.Add(20*time.Minute)) ||
		skipped[0].Reason == "" {
		t.Fatalf("skipper: %+v; want the fire time of t0+20m recorded as skipped, with a reason", skipped)
	}
	caught := b.runs("demo", "catcher")
	if len(caught) != 1 || caught[0].Status != store.StatusSucceeded || caught[0].Trigger != store.TriggerCatchUp ||
		!caught[0].ScheduledTime.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("catcher: %+v; want one catch-up run for t0+20m", caught)
	}
	// The schedules go on as before.
	b.advance(3*time.Minute, time.Minute)
	if n := count(b.runs("demo", "skipper"), store.StatusSucceeded, store.TriggerSchedule); n != 1 {
		t.Errorf("skipper: %d scheduled runs at t0+30m, want 1", n)
	}
}

// TestRunEndKeptUntilStoreWrites ends a run while the store cannot write
// its end: the end is kept and written once the store writes again, so no
// run stays running without an instance.
func TestRunEndKeptUntilStoreWrites(t *testing.T) {
	t.Parallel()
	b, fs := newFailingBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: hello\n",
		modules: map[string][]byte{"hello": wasmtest.Hello()}})
	b.start()
	ctx := context.Background()
	fs.endsFail.Store(true)
	id, err := b.engine.Trigger(ctx, "demo", "hello", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.idle()
	if r, err := b.store.GetRun(ctx, id); err != nil || r.Status != store.StatusRunning {
		t.Fatalf("run %+v, %v; want it still running in the store", r, err)
	}
	if b.engine.Healthy() == nil {
		t.Fatal("Healthy is nil while the store cannot write a run's end")
	}
	b.advance(5*time.Second, time.Second) // tries at +1s, +3s: still failing
	if r, _ := b.store.GetRun(ctx, id); r.Status != store.StatusRunning {
		t.Fatalf("run %s while its end cannot be written", r.Status)
	}

	fs.endsFail.Store(false)
	b.advance(10*time.Second, time.Second) // the next try, at +7s, writes it
	r, err := b.store.GetRun(ctx, id)
	if err != nil || r.Status != store.StatusSucceeded || r.Output != "hello\n" {
		t.Fatalf("run %+v, %v; want it recorded as succeeded with its output", r, err)
	}
	if err := b.engine.Healthy(); err != nil {
		t.Fatalf("Healthy after the end was written: %v", err)
	}
}

// TestStopWritesKeptEnds stops the engine with a run's end kept: Stop
// writes it one last time; one it still cannot write is left running for
// the next start, which marks it interrupted.
func TestStopWritesKeptEnds(t *testing.T) {
	t.Parallel()
	b, fs := newFailingBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: hello\n",
		modules: map[string][]byte{"hello": wasmtest.Hello()}})
	b.start()
	ctx := context.Background()
	trigger := func() int64 {
		t.Helper()
		id, err := b.engine.Trigger(ctx, "demo", "hello", nil, "alice")
		if err != nil {
			t.Fatal(err)
		}
		b.idle()
		return id
	}
	fs.endsFail.Store(true)
	written := trigger()
	fs.endsFail.Store(false) // the store writes again, but no try came yet
	stopEngine(t, b.engine)
	if r, _ := b.store.GetRun(ctx, written); r.Status != store.StatusSucceeded {
		t.Fatalf("run %s after Stop, want Stop to have written its end", r.Status)
	}

	b.engine = b.newEngine(Config{}, fs.engineStore())
	b.start()
	fs.endsFail.Store(true)
	left := trigger()
	stopEngine(t, b.engine)
	if r, _ := b.store.GetRun(ctx, left); r.Status != store.StatusRunning {
		t.Fatalf("run %s after Stop with a store that cannot write it", r.Status)
	}
	fs.endsFail.Store(false)
	b.engine = b.newEngine(Config{}, fs.engineStore())
	b.start()
	if r, _ := b.store.GetRun(ctx, left); r.Status != store.StatusInterrupted {
		t.Fatalf("run %s after the next start, want interrupted", r.Status)
	}
}
