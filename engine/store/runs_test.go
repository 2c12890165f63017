package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// manual returns a manual run of app/task that starts at start.
func manual(app, task string, start time.Time) Run {
	return Run{App: app, Task: task, Trigger: TriggerManual, StartTime: start}
}

// scheduled returns a run of app/task fired for the scheduled time at.
func scheduled(app, task string, at time.Time) Run {
	return Run{App: app, Task: task, Trigger: TriggerSchedule, ScheduledTime: at, StartTime: at.Add(time.Millisecond)}
}

// mustStart starts r or fails the test.
func mustStart(t *testing.T, s *SQLite, r Run) int64 {
	t.Helper()
	id, err := s.StartRun(t.Context(), r)
	if err != nil {
		t.Fatalf("StartRun(%s/%s): %v", r.App, r.Task, err)
	}
	return id
}

// mustFinish finishes run id with status, a second after start.
func mustFinish(t *testing.T, s *SQLite, id int64, status Status, start time.Time) {
	t.Helper()
	end := RunEnd{Status: status, EndTime: start.Add(time.Second), Duration: time.Second}
	if err := s.FinishRun(t.Context(), id, end); err != nil {
		t.Fatalf("FinishRun(%d): %v", id, err)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{MaxLogLines: 5})
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	quiet := mustStart(t, s, manual("a", "t", epoch))
	line := func(i int) LogLine {
		return LogLine{Time: epoch.Add(time.Duration(i) * time.Second), Level: "info", Message: fmt.Sprintf("line %d", i)}
	}
	if err := s.AppendLogs(ctx, id, []LogLine{line(1), line(2), line(3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, id, nil); err != nil {
		t.Fatalf("AppendLogs(nothing) = %v", err)
	}
	// Two fit, two are dropped; then everything is dropped.
	if err := s.AppendLogs(ctx, id, []LogLine{line(4), {Level: "warn", Message: "no time"}, line(6), line(7)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, id, []LogLine{line(8)}); err != nil {
		t.Fatal(err)
	}
	for _, unknown := range [][]LogLine{{line(1)}, make([]LogLine, 9)} {
		if err := s.AppendLogs(ctx, 9999, unknown); !errors.Is(err, ErrNotFound) {
			t.Errorf("AppendLogs(unknown run, %d lines) = %v, want %v", len(unknown), err, ErrNotFound)
		}
	}
	if r, err := s.GetRun(ctx, id); err != nil || r.LogsDropped != 3 {
		t.Errorf("LogsDropped = %d, %v; want 3", r.LogsDropped, err)
	}

	all := []LogLine{line(1), line(2), line(3), line(4), {Level: "warn", Message: "no time", Time: epoch}}
	for i := range all {
		all[i].Seq = int64(i + 1)
	}
	tests := []struct {
		name       string
		run, after int64
		limit      int
		want       []LogLine
		wantErr    error
	}{
		{"all", id, 0, 0, all, nil},
		{"first page", id, 0, 2, all[:2], nil},
		{"next page", id, 2, 2, all[2:4], nil},
		{"last page", id, 4, 2, all[4:], nil},
		{"past the end", id, 5, 2, nil, nil},
		{"run without lines", quiet, 0, 10, nil, nil},
		{"unknown run", 9999, 0, 10, nil, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RunLogs(t.Context(), tt.run, tt.after, tt.limit)
			if !errors.Is(err, tt.wantErr) || !slices.EqualFunc(got, tt.want, func(a, b LogLine) bool { return a == b }) {
				t.Errorf("RunLogs = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestClampLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want int }{
		{-1, DefaultLimit}, {0, DefaultLimit}, {1, 1}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit},
	} {
		if got := clampLimit(tt.in); got != tt.want {
			t.Errorf("clampLimit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestRecordRunsFallsBackAlone: a batch that fails on an error other than
// a duplicate is undone, and each run is written alone, to its own
// outcome; the runs recorded are numbered in their order.
func TestRecordRunsFallsBackAlone(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	// A trigger on the writer's connection refuses the runs of one task,
	// as a full disk or a broken row would, with an error of its own.
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TEMP TRIGGER refuse BEFORE INSERT ON TaskExecutions
			WHEN NEW.TaskName = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fired := mustStart(t, s, scheduled("a", "fired", epoch))
	runs := []Run{
		scheduled("a", "t1", epoch),
		scheduled("a", "refused", epoch),
		scheduled("a", "fired", epoch),
		scheduled("a", "t2", epoch),
		scheduled("a", "t1", epoch),
		scheduled("a", "t1", epoch.Add(time.Minute)),
	}
	out := s.RecordRuns(ctx, runs)
	last := fired
	for i, o := range out {
		switch i {
		case 1:
			if o.Err == nil || !strings.Contains(o.Err.Error(), "refused by the test") || errors.Is(o.Err, ErrDuplicate) {
				t.Errorf("run %d, refused: error %v; want the trigger's", i, o.Err)
			}
		case 2, 4:
			if !errors.Is(o.Err, ErrDuplicate) {
				t.Errorf("run %d, fired before: error %v; want %v", i, o.Err, ErrDuplicate)
			}
		default:
			if o.Err != nil || o.ID <= last {
				t.Errorf("run %d: ID %d, error %v; want an ID after %d", i, o.ID, o.Err, last)
			}
			last = o.ID
		}
	}
	list, err := s.ListRuns(ctx, RunFilter{Limit: MaxLimit})
	if err != nil || len(list) != 4 {
		t.Errorf("ListRuns = %d runs, %v; want 4: the first, and three of the batch", len(list), err)
	}
}

// TestRecordRunsInput: a run's input is set apart from its insert, and
// counted in its app's history once, with the insert or not at all: a
// duplicate holds nothing, and a run whose input cannot be written is
// not recorded.
func TestRecordRunsInput(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	// A trigger on the writer's connection refuses the input of one
	// task, as a full disk would, with an error of its own.
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TEMP TRIGGER refuse BEFORE UPDATE OF Input ON TaskExecutions
			WHEN NEW.TaskName = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	withInput := func(r Run, input string) Run {
		r.Input = json.RawMessage(input)
		return r
	}
	mustStart(t, s, scheduled("a", "fired", epoch))
	runs := []Run{
		withInput(scheduled("a", "t1", epoch), `{"n":1}`),
		scheduled("a", "t2", epoch),
		withInput(scheduled("a", "fired", epoch), `{"n":2}`),
		withInput(scheduled("a", "refused", epoch), `{"n":3}`),
		withInput(scheduled("b", "t3", epoch), `[1,2,3]`),
	}
	out := s.RecordRuns(ctx, runs)
	for i, o := range out {
		switch i {
		case 2:
			if !errors.Is(o.Err, ErrDuplicate) {
				t.Errorf("run %d, fired before: error %v; want %v", i, o.Err, ErrDuplicate)
			}
		case 3:
			if o.Err == nil || !strings.Contains(o.Err.Error(), "refused by the test") {
				t.Errorf("run %d, refused: error %v; want the trigger's", i, o.Err)
			}
		default:
			if o.Err != nil {
				t.Fatalf("run %d: %v", i, o.Err)
			}
			got, err := s.GetRun(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Input) != string(runs[i].Input) {
				t.Errorf("run %d: input %s, want %s", i, got.Input, runs[i].Input)
			}
		}
	}
	if list, err := s.ListRuns(ctx, RunFilter{Task: "refused"}); err != nil || len(list) != 0 {
		t.Errorf("runs of the refused task = %d, %v; want none", len(list), err)
	}
	checkHistoryUsage(t, s)
	for app, want := range map[string]int64{"a": int64(len(`{"n":1}`)), "b": int64(len(`[1,2,3]`))} {
		if n, err := s.HistoryUsage(ctx, app); err != nil || n != want {
			t.Errorf("HistoryUsage(%s) = %d, %v; want %d", app, n, err, want)
		}
	}
}

// refuseFailureState makes every change of kind (INSERT, UPDATE) to a
// task's failure state fail, as a broken row would, with an error of its
// own: by a trigger on the writer's connection.
func refuseFailureState(t *testing.T, s *SQLite, kind string) {
	t.Helper()
	err := s.w.do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TEMP TRIGGER refuse BEFORE `+kind+` ON TaskConfigurations
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEndRunOutcomeFails: an outcome that cannot be counted leaves the
// run's end recorded with it in the same write, and counts nothing.
func TestEndRunOutcomeFails(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	refuseFailureState(t, s, "INSERT")
	id := mustStart(t, s, manual("a", "t", epoch))
	end := RunEnd{Status: StatusFailed, EndTime: epoch.Add(time.Second), Duration: time.Second, Output: "out",
		Logs: []LogLine{{Level: "error", Message: "broken"}}}
	ended, err := s.EndRun(ctx, id, end, AfterEnd{App: "a", Task: "t", Outcome: &Outcome{Failed: true, MaxFailures: 3}})
	if err == nil || !strings.Contains(err.Error(), "refused by the test") || !ended.Recorded || ended.State != nil {
		t.Fatalf("EndRun = %+v, %v; want the end recorded, no state, and the trigger's error", ended, err)
	}
	r, err := s.GetRun(ctx, id)
	if err != nil || r.Status != StatusFailed || r.Output != "out" {
		t.Fatalf("GetRun = %+v, %v; want it failed, with its output", r, err)
	}
	if lines, err := s.RunLogs(ctx, id, 0, 10); err != nil || len(lines) != 1 {
		t.Errorf("RunLogs = %v, %v; want its line", lines, err)
	}
	if u, err := s.RunUsage(ctx, id); err != nil {
		t.Errorf("RunUsage = %+v, %v; want its usage recorded", u, err)
	}
	checkHistoryUsage(t, s)
	if ovs, err := s.Overrides(ctx); err != nil || len(ovs) != 0 {
		t.Errorf("Overrides = %+v, %v; want no failure state recorded", ovs, err)
	}
}

// TestEndRunSuccessOutcomeFails: a success whose clearing of the failure
// count fails leaves the run's end recorded and the count as it was.
func TestEndRunSuccessOutcomeFails(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	fail := &Outcome{Failed: true, MaxFailures: 5}
	for range 2 {
		id := mustStart(t, s, manual("a", "t", epoch))
		if _, err := s.EndRun(ctx, id, RunEnd{Status: StatusFailed, EndTime: epoch}, AfterEnd{App: "a", Task: "t", Outcome: fail}); err != nil {
			t.Fatal(err)
		}
	}
	refuseFailureState(t, s, "UPDATE")
	id := mustStart(t, s, manual("a", "t", epoch))
	ended, err := s.EndRun(ctx, id, RunEnd{Status: StatusSucceeded, EndTime: epoch.Add(time.Second), Output: "out"},
		AfterEnd{App: "a", Task: "t", Outcome: &Outcome{MaxFailures: 5}})
	if err == nil || !strings.Contains(err.Error(), "refused by the test") || !ended.Recorded || ended.State != nil {
		t.Fatalf("EndRun = %+v, %v; want the end recorded, no state, and the trigger's error", ended, err)
	}
	if r, err := s.GetRun(ctx, id); err != nil || r.Status != StatusSucceeded || r.Output != "out" {
		t.Fatalf("GetRun = %+v, %v; want it succeeded, with its output", r, err)
	}
	ovs, err := s.Overrides(ctx)
	if err != nil || len(ovs) != 1 || ovs[0].Failures.ConsecutiveFailures != 2 {
		t.Errorf("Overrides = %+v, %v; want the 2 failures still counted", ovs, err)
	}
}

// TestEndRunHistoryQuota: the end reports pruning due once the app's
// history, this run's output included, passes its quota.
func TestEndRunHistoryQuota(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	for _, tt := range []struct {
		quota int64
		due   bool
	}{{1 << 20, false}, {15, true}} { // the second run's output takes the history to 20 bytes
		id := mustStart(t, s, manual("a", "t", epoch))
		ended, err := s.EndRun(ctx, id, RunEnd{Status: StatusSucceeded, EndTime: epoch, Output: "0123456789"},
			AfterEnd{App: "a", Task: "t", HistoryQuota: tt.quota})
		if err != nil || ended.PruneDue != tt.due {
			t.Errorf("EndRun with a quota of %d = %+v, %v; want PruneDue %v", tt.quota, ended, err, tt.due)
		}
	}
}
