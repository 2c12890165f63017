package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStats computes the overview and a task's statistics over a day
// of 100,000 runs of 1,000 tasks (every 20th failed, every 7th scheduled
// run late), the history of a busy server, beside a baseline of one pass
// over the day's runs: Overview takes a few of those, whatever the load
// of the machine.
//
//	go test -run '^$' -bench Stats -benchtime 2s ./engine/store/
func BenchmarkStats(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "cronbox.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	const runs, tasks = 100_000, 1_000
	err = s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
			INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, ScheduledTime, Attempt, StartTime, EndTime, Duration, ErrorMessage)
			SELECT 'app' || (i % 10), 'task' || (i % ?),
				CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 'schedule',
				strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 86400 / ?, 'unixepoch'), 0,
				strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 86400 / ? + CASE WHEN i % 7 = 0 THEN 30 ELSE 0 END, 'unixepoch'),
				strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 86400 / ? + 1 + i % 50, 'unixepoch'),
				(1 + i % 50) * 1000, CASE WHEN i % 20 = 0 THEN 'exit 1' END
			FROM c`, runs, tasks, now.Add(-24*time.Hour).Unix(), runs, now.Add(-24*time.Hour).Unix(), runs, now.Add(-24*time.Hour).Unix(), runs)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// The baseline: the least a per-task answer costs, one pass over the
	// day's runs grouped by task. Overview is judged by its ratio to it.
	b.Run("Baseline", func(b *testing.B) {
		for b.Loop() {
			rows, err := s.rdb.QueryContext(ctx, `SELECT AppName, TaskName, count(*) FROM TaskExecutions
				WHERE StartTime >= ? GROUP BY AppName, TaskName`, formatTime(now.Add(-24*time.Hour)))
			n, err := collect(rows, err, func(sc scanner) (int, error) {
				var a, t string
				var c int
				return c, sc.Scan(&a, &t, &c)
			})
			if err != nil || len(n) != tasks {
				b.Fatalf("%v, %d tasks", err, len(n))
			}
		}
	})
	b.Run("Overview", func(b *testing.B) {
		for b.Loop() {
			o, err := s.Overview(ctx, OverviewQuery{Since: now.Add(-24 * time.Hour), TimelineSince: now.Add(-3 * time.Hour)})
			if err != nil || len(o.Hours) == 0 || len(o.Failing) == 0 || len(o.Late) == 0 {
				b.Fatalf("%v, %d hours, %d failing, %d late", err, len(o.Hours), len(o.Failing), len(o.Late))
			}
		}
	})
	b.Run("TaskStats", func(b *testing.B) {
		for b.Loop() {
			ts, err := s.TaskStats(ctx, "app0", "task0", TaskStatsQuery{Since: now.Add(-14 * 24 * time.Hour)})
			if err != nil || len(ts.Runs) != 50 || len(ts.Days) == 0 {
				b.Fatalf("%v, %d runs, %d days", err, len(ts.Runs), len(ts.Days))
			}
		}
	})
}
