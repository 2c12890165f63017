package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// roundTrips counts the queries and batches sent to the server: each is
// one round trip.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestRoundTripsPerRun counts what the store sends for the life of a run
// as the engine records it: StartRun, a batch of log lines, FinishRun
// with the last lines, the outcome of a success, the prunes that find
// nothing to do, and the run's two events.
func TestRoundTripsPerRun(t *testing.T) {
	t.Parallel()
	count := &roundTrips{}
	s := openTest(t, pgtest.URL(t), Options{tracer: count})
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
		{"FinishRun", 1, func(id *int64) error {
			return s.FinishRun(ctx, *id, store.RunEnd{Status: store.StatusSucceeded, EndTime: at, Logs: lines, Output: "ok"})
		}},
		{"RecordOutcome", 1, func(*int64) error {
			_, err := s.RecordOutcome(ctx, "a", "t", store.Outcome{MaxFailures: 3})
			return err
		}},
		{"PruneRuns", 1, func(*int64) error { _, err := s.PruneRuns(ctx, "a", "t", 1000, 0, at); return err }},
		{"PruneHistory", 1, func(*int64) error { _, err := s.PruneHistory(ctx, "a", 1<<30); return err }},
		{"AppendEvent", 1, func(*int64) error {
			_, err := s.AppendEvent(ctx, store.Event{Type: "run.finished", App: "a"})
			return err
		}},
	}
	var id int64
	for _, st := range steps {
		before := count.n.Load()
		if err := st.do(&id); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := count.n.Load() - before; got != st.want {
			t.Errorf("%s took %d round trips, want %d", st.name, got, st.want)
		}
	}
}
