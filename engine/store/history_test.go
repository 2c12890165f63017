package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkHistoryUsage compares history_usage with what each app's runs hold,
// counted from scratch.
func checkHistoryUsage(t *testing.T, s *SQLite) {
	t.Helper()
	rows, err := s.rdb.QueryContext(t.Context(), `SELECT r.app, r.bytes, coalesce(u.bytes, 0) FROM
		(SELECT AppName AS app, sum(coalesce(length(CAST(Output AS BLOB)), 0) + coalesce(length(CAST(Input AS BLOB)), 0)
			+ coalesce(length(CAST(Result AS BLOB)), 0)
			+ coalesce((SELECT sum(length(CAST(message AS BLOB))) FROM run_logs WHERE run_id = ID), 0)) AS bytes
			FROM TaskExecutions GROUP BY AppName) r
		LEFT JOIN history_usage u ON u.app = r.app`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			app        string
			want, kept int64
		)
		if err := rows.Scan(&app, &want, &kept); err != nil {
			t.Fatal(err)
		}
		if want != kept {
			t.Errorf("app %s: history_usage %d, its runs hold %d", app, kept, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// addRun records a finished manual run of app/task with input, logs,
// output and result of the sizes given, and returns its ID.
func addRun(t *testing.T, s *SQLite, app, task string, start time.Time, input, logs, output int) int64 {
	t.Helper()
	r := manual(app, task, start)
	if input > 0 {
		r.Input = json.RawMessage(`"` + strings.Repeat("i", input-2) + `"`)
	}
	id := mustStart(t, s, r)
	if logs > 0 {
		if err := s.AppendLogs(t.Context(), id, []LogLine{{Level: "info", Message: strings.Repeat("é", logs/2)}}); err != nil {
			t.Fatal(err)
		}
	}
	end := RunEnd{Status: StatusSucceeded, EndTime: start.Add(time.Second), Duration: time.Second,
		Output: strings.Repeat("o", output), Result: json.RawMessage(`{"ok":true}`),
		Logs: []LogLine{{Level: "info", Message: "done"}}}
	if err := s.FinishRun(t.Context(), id, end); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHistoryUsage follows what an app's history holds through the writes
// that change it: starting, logging, finishing, pruning, deleting the app.
func TestHistoryUsage(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	var ids []int64
	for i := range 5 {
		ids = append(ids, addRun(t, s, "a", "t", epoch.Add(time.Duration(i)*time.Minute), 100, 1000, 10_000))
	}
	addRun(t, s, "b", "t", epoch, 0, 0, 7)
	checkHistoryUsage(t, s)
	perRun := int64(100 + 1000 + 4 + 10_000 + len(`{"ok":true}`))
	if n, err := s.HistoryUsage(ctx, "a"); err != nil || n != 5*perRun {
		t.Errorf("HistoryUsage(a) = %d, %v; want %d", n, err, 5*perRun)
	}
	if n, err := s.HistoryUsage(ctx, "none"); err != nil || n != 0 {
		t.Errorf("HistoryUsage(none) = %d, %v; want 0", n, err)
	}
	if _, err := s.PruneRuns(ctx, "a", "t", 3, 0, epoch); err != nil {
		t.Fatal(err)
	}
	checkHistoryUsage(t, s)
	if n, _ := s.HistoryUsage(ctx, "a"); n != 3*perRun {
		t.Errorf("HistoryUsage(a) after pruning to 3 runs = %d, want %d", n, 3*perRun)
	}
	if err := s.DeleteAppData(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.HistoryUsage(ctx, "a"); n != 0 {
		t.Errorf("HistoryUsage(a) after DeleteAppData = %d, want 0", n)
	}
	checkHistoryUsage(t, s)
}

// TestPruneHistory deletes an app's oldest finished runs until its history
// fits its quota, keeping running runs and the run that holds a task's
// LastScheduled.
func TestPruneHistory(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	running := mustStart(t, s, manual("a", "t", epoch.Add(-time.Hour)))
	if err := s.AppendLogs(ctx, running, []LogLine{{Level: "info", Message: strings.Repeat("r", 5000)}}); err != nil {
		t.Fatal(err)
	}
	sched := scheduled("a", "u", epoch)
	schedID := mustStart(t, s, sched)
	mustFinish(t, s, schedID, StatusSucceeded, epoch)
	var ids []int64
	for i := range 10 {
		ids = append(ids, addRun(t, s, "a", "t", epoch.Add(time.Duration(i)*time.Minute), 0, 0, 1000))
	}
	other := addRun(t, s, "b", "t", epoch, 0, 0, 1000)
	used, _ := s.HistoryUsage(ctx, "a")

	// Within quota: nothing goes.
	if n, err := s.PruneHistory(ctx, "a", used); err != nil || n != 0 {
		t.Fatalf("PruneHistory within quota = %d, %v; want 0", n, err)
	}
	perRun := int64(1000 + 4 + len(`{"ok":true}`))
	quota := used - 3*perRun // room for all but three runs
	n, err := s.PruneHistory(ctx, "a", quota)
	if err != nil || n != 3 {
		t.Fatalf("PruneHistory = %d, %v; want 3", n, err)
	}
	if got, _ := s.HistoryUsage(ctx, "a"); got > quota {
		t.Errorf("history holds %d after pruning, more than the quota %d", got, quota)
	}
	runs, err := s.ListRuns(ctx, RunFilter{Apps: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	var left []int64
	for _, r := range runs {
		left = append(left, r.ID)
	}
	slices.Sort(left)
	want := append([]int64{running, schedID}, ids[3:]...)
	if !slices.Equal(left, want) {
		t.Errorf("runs left %v, want %v: the oldest finished runs go first", left, want)
	}
	// A quota nothing fits: every finished run goes but the one holding
	// LastScheduled, and the running run stays.
	if _, err := s.PruneHistory(ctx, "a", 0); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.ListRuns(ctx, RunFilter{Apps: []string{"a"}})
	if len(runs) != 2 {
		t.Errorf("%d runs left with a zero quota, want 2 (running, last scheduled)", len(runs))
	}
	if last, err := s.LastScheduled(ctx, "a", "u"); err != nil || !last.Equal(epoch) {
		t.Errorf("LastScheduled = %v, %v; want it kept", last, err)
	}
	if _, err := s.GetRun(ctx, other); err != nil {
		t.Errorf("another app's run: %v", err)
	}
	checkHistoryUsage(t, s)
	for _, bad := range []struct {
		app   string
		quota int64
	}{{"", 1}, {"a", -1}} {
		if _, err := s.PruneHistory(ctx, bad.app, bad.quota); !errors.Is(err, ErrInvalid) {
			t.Errorf("PruneHistory(%q, %d) = %v, want %v", bad.app, bad.quota, err, ErrInvalid)
		}
	}
}

// TestFinishRunLogsDropped adds the lines the engine dropped to the run's
// count.
func TestFinishRunLogsDropped(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{MaxLogLines: 1})
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	if err := s.AppendLogs(ctx, id, []LogLine{{Level: "info", Message: "1"}, {Level: "info", Message: "2"}}); err != nil {
		t.Fatal(err)
	}
	end := RunEnd{Status: StatusSucceeded, EndTime: epoch.Add(time.Second), LogsDropped: 40}
	if err := s.FinishRun(ctx, id, end); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetRun(ctx, id); err != nil || r.LogsDropped != 41 {
		t.Errorf("LogsDropped = %d, %v; want 41", r.LogsDropped, err)
	}
	end.LogsDropped = -1
	if err := s.FinishRun(ctx, mustStart(t, s, manual("a", "t", epoch)), end); !errors.Is(err, ErrInvalid) {
		t.Errorf("FinishRun with negative LogsDropped = %v, want %v", err, ErrInvalid)
	}
}

// TestHistoryUsageOfEarlierData opens a store made before history_usage
// existed: the migration counts what each app's runs held.
func TestHistoryUsageOfEarlierData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	old := rawDB(t, path)
	if err := migrate(ctx, old, migrations()[:3], epoch); err != nil {
		t.Fatal(err)
	}
	for i, app := range []string{"a", "b"} {
		for j := range 3 {
			res, err := old.ExecContext(ctx, `INSERT INTO TaskExecutions (AppName, TaskName, Status, StartTime, Output, Input)
				VALUES (?, 't', 'succeeded', ?, ?, '{}')`, app, formatTime(epoch), strings.Repeat("ö", 100*(i+1)))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := res.LastInsertId()
			if _, err := old.ExecContext(ctx, `INSERT INTO run_logs (run_id, seq, time, level, message) VALUES (?, 1, ?, 'info', ?)`,
				id, formatTime(epoch), fmt.Sprint("line ", j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	old.Close()
	s := openAt(t, path, Options{})
	checkHistoryUsage(t, s)
	if n, err := s.HistoryUsage(ctx, "a"); err != nil || n != 3*(200+2+6) {
		t.Errorf("HistoryUsage(a) = %d, %v; want %d", n, err, 3*(200+2+6))
	}
}

// TestHeartbeat writes the heartbeat row again and again.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	for i := range 3 {
		if err := s.Heartbeat(t.Context(), epoch.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, s, `SELECT count(*) FROM heartbeat`); got != 1 {
		t.Errorf("%d heartbeat rows, want 1", got)
	}
	s.Close()
	if err := s.Heartbeat(t.Context(), epoch); !errors.Is(err, ErrClosed) {
		t.Errorf("Heartbeat on a closed store = %v, want %v", err, ErrClosed)
	}
}

// TestCountHistoryUsage: runs written into the table otherwise than
// through the store, as a copy writes them, are counted by
// CountHistoryUsage, and only then.
func TestCountHistoryUsage(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	addRun(t, s, "a", "t", epoch, 100, 1000, 10)
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO TaskExecutions (AppName, TaskName, Status, StartTime, Output, Input)
			VALUES ('b', 't', 'succeeded', ?, 'copied', '[1]')`, formatTime(epoch))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.HistoryUsage(ctx, "b"); n != 0 {
		t.Fatalf("HistoryUsage(b) before counting = %d; want 0: an insert is not counted", n)
	}
	if err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error { return CountHistoryUsage(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	checkHistoryUsage(t, s)
	if n, err := s.HistoryUsage(ctx, "b"); err != nil || n != int64(len("copied")+len("[1]")) {
		t.Errorf("HistoryUsage(b) = %d, %v; want %d", n, err, len("copied")+len("[1]"))
	}
}
