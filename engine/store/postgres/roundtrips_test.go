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
