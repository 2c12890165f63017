package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestRoundTripsPerRun counts what the store sends for the life of a run
// as the engine records it: StartRun; EndRun with the last lines, the
// outcome of a success and the retention check that finds nothing to
// prune; and the run's two events, appended together as the server's hub
// appends the events that arrive while it writes. At most three round
// trips a run, plus one per batch of log lines written while it runs.
func TestRoundTripsPerRun(t *testing.T) {
	t.Parallel()
	count := &RoundTrips{}
	s := openTest(t, pgtest.URL(t), Options{Tracer: count})
	ctx := t.Context()
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	lines := []store.LogLine{{Time: at, Level: "info", Message: "a"}, {Time: at, Level: "info", Message: "b"}}
	steps := []struct {
		name string
		want int64
		do   func(id *int64) error
	}{
		{"StartRun", 1, func(id *int64) (err error) {
			*id, err = s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at})
			return err
		}},
		{"AppendLogs", 1, func(id *int64) error { return s.AppendLogs(ctx, *id, lines) }},
		{"EndRun", 1, func(id *int64) error {
			ended, err := s.EndRun(ctx, *id, store.RunEnd{Status: store.StatusSucceeded, EndTime: at, Logs: lines, Output: "ok"},
				store.AfterEnd{App: "a", Task: "t", Outcome: &store.Outcome{MaxFailures: 3}, Keep: 1000, MaxAge: time.Hour, Now: at, HistoryQuota: 1 << 30})
			if err == nil && (ended.State == nil || ended.PruneDue) {
				err = fmt.Errorf("EndRun = %+v, want an outcome and nothing to prune", ended)
			}
			return err
		}},
		{"AppendEvents", 1, func(*int64) error {
			_, err := s.AppendEvents(ctx, []store.Event{{Type: "run.started", App: "a"}, {Type: "run.finished", App: "a"}})
			return err
		}},
	}
	var id int64
	total := count.Load()
	for _, st := range steps {
		before := count.Load()
		if err := st.do(&id); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := count.Load() - before; got != st.want {
			t.Errorf("%s took %d round trips, want %d", st.name, got, st.want)
		}
	}
	// Without the log batch written while it ran.
	if got := count.Load() - total - 1; got > 3 {
		t.Errorf("a run took %d round trips, want at most 3", got)
	}
}

// TestRoundTripsOfASlot counts what a slot of an app's quotas costs a
// node of a cluster: nothing more when the run takes it with its start
// and gives it back with its end; one round trip for a run that takes it
// later.
func TestRoundTripsOfASlot(t *testing.T) {
	t.Parallel()
	count := &RoundTrips{}
	s := openTest(t, pgtest.URL(t), Options{Tracer: count})
	ctx := t.Context()
	if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: "n"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	one := store.Slot{Concurrency: 1, Memory: 1 << 20, MemoryQuota: 1 << 30}
	start := func() (int64, bool) {
		slot := one
		id, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: "n", Slot: &slot})
		if err != nil {
			t.Fatal(err)
		}
		return id, slot.Taken
	}
	var first, second int64
	steps := []struct {
		name string
		do   func() error
	}{{"StartRun taking a slot", func() error {
		var ok bool
		if first, ok = start(); !ok {
			return fmt.Errorf("no slot taken")
		}
		return nil
	}}, {"StartRun finding none", func() error {
		var ok bool
		if second, ok = start(); ok {
			return fmt.Errorf("a second slot taken under a quota of 1")
		}
		return nil
	}}, {"EndRun giving it back", func() error {
		_, err := s.EndRun(ctx, first, store.RunEnd{Status: store.StatusSucceeded, EndTime: at},
			store.AfterEnd{App: "a", Task: "t", Outcome: &store.Outcome{MaxFailures: 3}, Keep: 1000, Now: at})
		return err
	}}, {"TakeSlot", func() error {
		if ok, err := s.TakeSlot(ctx, second, one); err != nil || !ok {
			return fmt.Errorf("TakeSlot = %v, %v; want the slot given back", ok, err)
		}
		return nil
	}}}
	for _, st := range steps {
		before := count.Load()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := count.Load() - before; got != 1 {
			t.Errorf("%s took %d round trips, want 1", st.name, got)
		}
	}
}

// TestRoundTripsOfAHandoff counts what a run that waited for room on its
// node costs: nothing more to be recorded waiting; one round trip to
// start, with the slot of its app; one round trip for a node to take over
// several.
func TestRoundTripsOfAHandoff(t *testing.T) {
	t.Parallel()
	count := &RoundTrips{}
	s := openTest(t, pgtest.URL(t), Options{Tracer: count})
	registerNodes(t, s, "a", "b")
	var first int64
	steps := []struct {
		name string
		do   func() error
	}{{"StartRun waiting", func() error {
		first = startWaiting(t, s, "a", "m")
		startWaiting(t, s, "a", "m")
		startWaiting(t, s, "a", "m")
		return nil
	}}, {"BeginRun with a slot", func() error {
		slot := store.Slot{Concurrency: 1, Memory: 1, MemoryQuota: 100}
		if began, err := s.BeginRun(t.Context(), first, "a", &slot); err != nil || !began {
			return fmt.Errorf("BeginRun = %v, %v; want started", began, err)
		}
		return nil
	}}, {"ClaimRuns of two", func() error {
		if runs, err := s.ClaimRuns(t.Context(), "b", moduleM, 5); err != nil || len(runs) != 2 {
			return fmt.Errorf("ClaimRuns = %d runs, %v; want 2", len(runs), err)
		}
		return nil
	}}}
	for i, st := range steps {
		before := count.Load()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := int64(1)
		if i == 0 {
			want = 3 // a StartRun each
		}
		if got := count.Load() - before; got != want {
			t.Errorf("%s took %d round trips, want %d", st.name, got, want)
		}
	}
}
