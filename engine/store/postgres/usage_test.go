package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestUsageCountersApart records the start and the end of a run of an
// app in a transaction left open, and then another run of the same app
// from a connection that adds to other rows of its counters: it does not
// wait for the first transaction (lock_timeout fails it if it does), and
// the counters sum both runs once both commit.
func TestUsageCountersApart(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{})
	ctx := t.Context()
	connect := func() (*pgx.Conn, int) {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		var shard int
		if err := conn.QueryRow(ctx, `SELECT `+usageShard).Scan(&shard); err != nil {
			t.Fatal(err)
		}
		return conn, shard
	}
	first, shard := connect()
	second, other := connect()
	for other == shard { // a connection of another row
		second, other = connect()
	}
	if _, err := second.Exec(ctx, `SET lock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	run := func(tx pgx.Tx, output string) {
		t.Helper()
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, StartTime, Output)
			VALUES ('a', 't', 'succeeded', 'manual', now(), $1) RETURNING ID`, []byte(output)).Scan(&id)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO run_usage (run_id, app, end_time, cpu_ns, peak_memory, output_bytes, log_bytes,
				http_sent, http_received, kv_written, files_written) VALUES ($1, 'a', now(), 1000, $2, $2, 0, 0, 0, 0, 0)`, id, len(output))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tx1, err := first.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run(tx1, "first")
	tx2, err := second.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run(tx2, "second run") // waits for tx1 if the rows are shared
	for _, tx := range []pgx.Tx{tx2, tx1} {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}

	if n, err := s.HistoryUsage(ctx, "a"); err != nil || n != int64(len("first")+len("second run")) {
		t.Errorf("HistoryUsage = %d, %v; want %d", n, err, len("first")+len("second run"))
	}
	totals, err := s.UsageTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.AppUsage{Runs: 2, Usage: store.Usage{CPUTime: 2 * time.Microsecond, PeakMemory: int64(len("second run")), OutputBytes: int64(len("first") + len("second run"))}}
	if got := totals["a"]; got != want {
		t.Errorf("UsageTotals[a] = %+v, want %+v", got, want)
	}
}
