package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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

func TestStartRun(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	at := epoch.Add(time.Hour)
	withInput := scheduled("a", "t", epoch)
	withInput.TriggeredByUser, withInput.Attempt, withInput.Input = "", 0, json.RawMessage(`{"n":1}`)
	retry := scheduled("a", "t", at)
	retry.Trigger, retry.Attempt = TriggerRetry, 1
	catchUp := scheduled("a", "t", at)
	catchUp.Trigger = TriggerCatchUp
	byUser := manual("a", "t", epoch)
	byUser.TriggeredByUser = "ada"
	badInput := manual("a", "t", epoch)
	badInput.Input = json.RawMessage(`{`)
	negative := manual("a", "t", epoch)
	negative.Attempt = -1
	noTime := scheduled("a", "t", epoch)
	noTime.ScheduledTime = time.Time{}
	unknown := manual("a", "t", epoch)
	unknown.Trigger = "cron"

	// The cases run in order on one store.
	tests := []struct {
		name string
		run  Run
		want error
	}{
		{"scheduled with input", withInput, nil},
		{"manual by user", byUser, nil},
		{"another scheduled time", scheduled("a", "t", at), nil},
		{"same scheduled time again", scheduled("a", "t", at), ErrDuplicate},
		{"same time as catch-up", catchUp, ErrDuplicate},
		{"same time as retry", retry, nil},
		{"same time, other task", scheduled("a", "u", at), nil},
		{"same time, other app", scheduled("b", "t", at), nil},
		{"no app", manual("", "t", epoch), ErrInvalid},
		{"no task", manual("a", "", epoch), ErrInvalid},
		{"no start time", manual("a", "t", time.Time{}), ErrInvalid},
		{"unknown trigger", unknown, ErrInvalid},
		{"schedule without scheduled time", noTime, ErrInvalid},
		{"input not JSON", badInput, ErrInvalid},
		{"negative attempt", negative, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.StartRun(t.Context(), tt.run)
			if !errors.Is(err, tt.want) {
				t.Fatalf("StartRun = %d, %v; want %v", id, err, tt.want)
			}
			if err != nil {
				return
			}
			got, err := s.GetRun(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.run
			want.ID, want.Status, want.ExitCode = id, StatusRunning, -1
			want.StartTime, want.ScheduledTime = want.StartTime.UTC(), want.ScheduledTime.UTC()
			if !runsEqual(*got, want) {
				t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

// runsEqual compares runs field by field: times with Equal, JSON by bytes.
func runsEqual(a, b Run) bool {
	if !a.StartTime.Equal(b.StartTime) || !a.EndTime.Equal(b.EndTime) || !a.ScheduledTime.Equal(b.ScheduledTime) ||
		!bytes.Equal(a.Input, b.Input) || !bytes.Equal(a.Result, b.Result) {
		return false
	}
	for _, r := range []*Run{&a, &b} {
		r.StartTime, r.EndTime, r.ScheduledTime, r.Input, r.Result = time.Time{}, time.Time{}, time.Time{}, nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func TestFinishRun(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	running := mustStart(t, s, manual("a", "t", epoch))
	done := mustStart(t, s, manual("a", "t", epoch))
	mustFinish(t, s, done, StatusFailed, epoch)
	skipped, err := s.RecordSkipped(ctx, Run{App: "a", Task: "t", Trigger: TriggerManual, StartTime: epoch, Reason: "quota"})
	if err != nil {
		t.Fatal(err)
	}
	end := RunEnd{
		Status:     StatusSucceeded,
		EndTime:    epoch.Add(1500 * time.Millisecond),
		Duration:   1500 * time.Millisecond,
		ExitCode:   0,
		Output:     "hello\x00\xff",
		Result:     json.RawMessage(`{"ok":true}`),
		PeakMemory: 3 << 20,
	}
	tests := []struct {
		name string
		id   int64
		end  RunEnd
		want error
	}{
		{"running", running, end, nil},
		{"again", running, end, ErrFinished},
		{"already finished", done, end, ErrFinished},
		{"skipped", skipped, end, ErrFinished},
		{"unknown", 9999, end, ErrNotFound},
		{"status running", done, RunEnd{Status: StatusRunning, EndTime: epoch}, ErrInvalid},
		{"status skipped", done, RunEnd{Status: StatusSkipped, EndTime: epoch}, ErrInvalid},
		{"no end time", done, RunEnd{Status: StatusFailed}, ErrInvalid},
		{"result not JSON", done, RunEnd{Status: StatusFailed, EndTime: epoch, Result: json.RawMessage("nope")}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.FinishRun(t.Context(), tt.id, tt.end); !errors.Is(err, tt.want) {
				t.Errorf("FinishRun = %v, want %v", err, tt.want)
			}
		})
	}
	got, err := s.GetRun(ctx, running)
	if err != nil {
		t.Fatal(err)
	}
	want := manual("a", "t", epoch)
	want.ID, want.Status, want.EndTime, want.Duration = running, end.Status, end.EndTime, end.Duration
	want.Output, want.Result, want.PeakMemory = end.Output, end.Result, end.PeakMemory
	if !runsEqual(*got, want) {
		t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
	}
}

func TestFinishRunFailure(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	id := mustStart(t, s, manual("a", "t", epoch))
	err := s.FinishRun(t.Context(), id, RunEnd{Status: StatusTrapped, EndTime: epoch.Add(time.Second), ExitCode: -1, Error: "unreachable"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(t.Context(), id)
	if err != nil || got.ExitCode != -1 || got.Error != "unreachable" || got.Result != nil {
		t.Errorf("GetRun = %+v, %v", got, err)
	}
}

func TestGetRunNotFound(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	if _, err := s.GetRun(t.Context(), 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun = %v, want %v", err, ErrNotFound)
	}
}

func TestRecordSkipped(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	at := epoch.Add(time.Hour)
	skip := scheduled("a", "t", at)
	skip.Reason = "the previous run is still running"
	noReason := scheduled("a", "t", epoch)
	tests := []struct {
		name string
		run  Run
		want error
	}{
		{"scheduled", skip, nil},
		{"same time again", skip, ErrDuplicate},
		{"no reason", noReason, ErrInvalid},
		{"no app", Run{Task: "t", Trigger: TriggerManual, StartTime: epoch, Reason: "x"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.RecordSkipped(t.Context(), tt.run)
			if !errors.Is(err, tt.want) {
				t.Fatalf("RecordSkipped = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			got, err := s.GetRun(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.run
			want.ID, want.Status, want.ExitCode, want.EndTime = id, StatusSkipped, -1, tt.run.StartTime
			if !runsEqual(*got, want) {
				t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
	// A skipped time is a handled time: it cannot be started either.
	if _, err := s.StartRun(t.Context(), scheduled("a", "t", at)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("StartRun of a skipped time = %v, want %v", err, ErrDuplicate)
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

func TestListRuns(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	// IDs 1-9: apps a, b, c round robin; tasks x, y; every third running.
	var all []Run
	for i := range 9 {
		r := manual(string(rune('a'+i%3)), []string{"x", "y"}[i%2], epoch.Add(time.Duration(i)*time.Minute))
		id := mustStart(t, s, r)
		r.ID, r.Status, r.ExitCode = id, StatusRunning, -1
		if i%3 != 2 {
			mustFinish(t, s, id, StatusSucceeded, r.StartTime)
			r.Status, r.ExitCode, r.EndTime, r.Duration = StatusSucceeded, 0, r.StartTime.Add(time.Second), time.Second
		}
		all = append(all, r)
	}
	if err := s.FinishRun(ctx, 1, RunEnd{Status: StatusFailed, EndTime: epoch, Output: "big output"}); !errors.Is(err, ErrFinished) {
		t.Fatal(err)
	}
	ids := func(idx ...int) []int64 {
		var out []int64
		for _, i := range idx {
			out = append(out, int64(i))
		}
		return out
	}
	tests := []struct {
		name   string
		filter RunFilter
		want   []int64
	}{
		{"all", RunFilter{}, ids(9, 8, 7, 6, 5, 4, 3, 2, 1)},
		{"one app", RunFilter{Apps: []string{"a"}}, ids(7, 4, 1)},
		{"allowed apps", RunFilter{Apps: []string{"a", "b"}}, ids(8, 7, 5, 4, 2, 1)},
		{"no allowed apps", RunFilter{Apps: []string{}}, nil},
		{"unknown app", RunFilter{Apps: []string{"zz"}}, nil},
		{"task", RunFilter{Task: "x"}, ids(9, 7, 5, 3, 1)},
		{"app and task", RunFilter{Apps: []string{"a"}, Task: "y"}, ids(4)},
		{"running", RunFilter{Statuses: []Status{StatusRunning}}, ids(9, 6, 3)},
		{"two statuses", RunFilter{Statuses: []Status{StatusRunning, StatusFailed}}, ids(9, 6, 3)},
		{"since", RunFilter{Since: epoch.Add(6 * time.Minute)}, ids(9, 8, 7)},
		{"before", RunFilter{BeforeID: 4}, ids(3, 2, 1)},
		{"limit", RunFilter{Limit: 2}, ids(9, 8)},
		{"page", RunFilter{BeforeID: 8, Limit: 2}, ids(7, 6)},
		{"everything", RunFilter{Apps: []string{"b", "c"}, Task: "x", Statuses: []Status{StatusRunning}, Since: epoch, BeforeID: 9, Limit: 5}, ids(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.ListRuns(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
				if want := all[r.ID-1]; !runsEqual(r, want) {
					t.Errorf("run %d =\n%+v\nwant\n%+v", r.ID, r, want)
				}
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("ListRuns = %v, want %v", gotIDs, tt.want)
			}
		})
	}
}

func TestListRunsSummaries(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	r := manual("a", "t", epoch)
	r.Input = json.RawMessage(`[1]`)
	id := mustStart(t, s, r)
	err := s.FinishRun(t.Context(), id, RunEnd{Status: StatusFailed, EndTime: epoch, ExitCode: 3, Output: "out", Error: "exit 3", Result: json.RawMessage(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.ListRuns(t.Context(), RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	if got := runs[0]; got.Output != "" || got.Input != nil || got.Result != nil || got.Error != "exit 3" || got.ExitCode != 3 {
		t.Errorf("summary = %+v; want no output, input or result, but the error and exit code", got)
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

func TestMarkInterrupted(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	a := mustStart(t, s, manual("a", "t", epoch))
	b := mustStart(t, s, manual("b", "t", epoch))
	done := mustStart(t, s, manual("a", "t", epoch))
	mustFinish(t, s, done, StatusSucceeded, epoch)
	now := epoch.Add(90 * time.Second)

	n, err := s.MarkInterrupted(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("MarkInterrupted = %d, %v; want 2", n, err)
	}
	for _, id := range []int64{a, b} {
		r, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != StatusInterrupted || !r.EndTime.Equal(now) || r.Duration != 90*time.Second || r.Error == "" {
			t.Errorf("run %d = %+v; want interrupted at %v after 90s, with an error", id, r, now)
		}
	}
	if r, _ := s.GetRun(ctx, done); r.Status != StatusSucceeded {
		t.Errorf("finished run became %s", r.Status)
	}
	if n, err := s.MarkInterrupted(ctx, now); err != nil || n != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0", n, err)
	}
	if err := s.FinishRun(ctx, a, RunEnd{Status: StatusSucceeded, EndTime: now}); !errors.Is(err, ErrFinished) {
		t.Errorf("FinishRun of an interrupted run = %v, want %v", err, ErrFinished)
	}
}

func TestLastScheduled(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	hour := func(h int) time.Time { return epoch.Add(time.Duration(h) * time.Hour) }
	mustStart(t, s, scheduled("a", "t", hour(1)))
	mustStart(t, s, scheduled("a", "t", hour(3)))
	catchUp := scheduled("a", "t", hour(2))
	catchUp.Trigger = TriggerCatchUp
	mustStart(t, s, catchUp)
	retry := scheduled("a", "t", hour(9)) // a retry carries the time, but was not fired for it
	retry.Trigger = TriggerRetry
	mustStart(t, s, retry)
	mustStart(t, s, manual("a", "t", hour(10)))
	mustStart(t, s, scheduled("a", "u", hour(8)))
	skip := scheduled("b", "t", hour(5))
	skip.Reason = "quota"
	if _, err := s.RecordSkipped(ctx, skip); err != nil {
		t.Fatal(err)
	}
	catchUp = scheduled("c", "t", hour(6))
	catchUp.Trigger = TriggerCatchUp
	mustStart(t, s, catchUp)

	tests := []struct {
		name, app, task string
		want            time.Time
	}{
		{"schedule", "a", "t", hour(3)},
		{"other task", "a", "u", hour(8)},
		{"skipped", "b", "t", hour(5)},
		{"catch-up", "c", "t", hour(6)},
		{"none", "a", "none", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.LastScheduled(t.Context(), tt.app, tt.task)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("LastScheduled = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestPruneRuns(t *testing.T) {
	t.Parallel()
	// fixture records, for a/t, a running run started long ago (ID 1) and
	// six finished runs (IDs 2-7) started at epoch+0h…5h, the second of
	// them (ID 3) scheduled; it adds runs of a/u and b/t as bystanders.
	fixture := func(t *testing.T) *SQLite {
		s := openTest(t, Options{})
		mustStart(t, s, manual("a", "t", epoch.Add(-100*time.Hour)))
		for i := range 6 {
			start := epoch.Add(time.Duration(i) * time.Hour)
			r := manual("a", "t", start)
			if i == 1 {
				r = scheduled("a", "t", start)
				r.StartTime = start
			}
			id := mustStart(t, s, r)
			if err := s.AppendLogs(t.Context(), id, []LogLine{{Level: "info", Message: "hi"}}); err != nil {
				t.Fatal(err)
			}
			mustFinish(t, s, id, StatusSucceeded, start)
		}
		for _, app := range []string{"a", "b"} {
			task := map[string]string{"a": "u", "b": "t"}[app]
			id := mustStart(t, s, manual(app, task, epoch.Add(-100*time.Hour)))
			mustFinish(t, s, id, StatusFailed, epoch)
		}
		return s
	}
	now := epoch.Add(5 * time.Hour)
	tests := []struct {
		name      string
		app, task string
		keepLast  int
		maxAge    time.Duration
		wantIDs   []int64 // the runs of a/t left
		wantErr   error
	}{
		{"by count", "a", "t", 2, 0, []int64{1, 3, 6, 7}, nil},
		{"by count, keep all", "a", "t", 6, 0, []int64{1, 2, 3, 4, 5, 6, 7}, nil},
		{"by count, keep one", "a", "t", 1, 0, []int64{1, 3, 7}, nil},
		{"by age", "a", "t", 0, 150 * time.Minute, []int64{1, 3, 5, 6, 7}, nil},
		{"by count or age", "a", "t", 4, 90 * time.Minute, []int64{1, 3, 6, 7}, nil},
		{"no limits", "a", "t", 0, 0, []int64{1, 2, 3, 4, 5, 6, 7}, nil},
		{"other task", "a", "none", 1, time.Nanosecond, []int64{1, 2, 3, 4, 5, 6, 7}, nil},
		{"negative count", "a", "t", -1, 0, nil, ErrInvalid},
		{"negative age", "a", "t", 0, -time.Hour, nil, ErrInvalid},
		{"no app", "", "t", 1, 0, nil, ErrInvalid},
		{"no task", "a", "", 1, 0, nil, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			ctx := t.Context()
			n, err := s.PruneRuns(ctx, tt.app, tt.task, tt.keepLast, tt.maxAge, now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PruneRuns = %d, %v; want %v", n, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			runs, err := s.ListRuns(ctx, RunFilter{Apps: []string{"a"}, Task: "t"})
			if err != nil {
				t.Fatal(err)
			}
			var left []int64
			for _, r := range runs {
				left = append(left, r.ID)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.wantIDs) || n != 7-len(left) {
				t.Errorf("PruneRuns = %d, left %v; want %d, left %v", n, left, 7-len(tt.wantIDs), tt.wantIDs)
			}
			if got := count(t, s, `SELECT count(*) FROM run_logs`); got != len(left)-1 {
				t.Errorf("%d log lines left, want %d: logs go with their runs", got, len(left)-1)
			}
			if got := count(t, s, `SELECT count(*) FROM TaskExecutions WHERE NOT (AppName = 'a' AND TaskName = 't')`); got != 2 {
				t.Errorf("%d runs of other tasks left, want 2", got)
			}
			if last, err := s.LastScheduled(ctx, "a", "t"); err != nil || !last.Equal(epoch.Add(time.Hour)) {
				t.Errorf("LastScheduled after pruning = %v, %v; want it kept", last, err)
			}
		})
	}
}

// TestFinishRunWithLogs ends a run and appends its last lines in one
// write; a run that is no longer running gets neither.
func TestFinishRunWithLogs(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	if err := s.AppendLogs(ctx, id, []LogLine{{Time: epoch, Level: "info", Message: "first"}}); err != nil {
		t.Fatal(err)
	}
	end := RunEnd{Status: StatusSucceeded, EndTime: epoch.Add(time.Second), Duration: time.Second,
		Logs: []LogLine{{Time: epoch, Level: "warn", Message: "second"}, {Time: epoch, Level: "info", Message: "third"}}}
	if err := s.FinishRun(ctx, id, end); err != nil {
		t.Fatal(err)
	}
	lines, err := s.RunLogs(ctx, id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%d %s %s", l.Seq, l.Level, l.Message))
	}
	if want := []string{"1 info first", "2 warn second", "3 info third"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	if r, err := s.GetRun(ctx, id); err != nil || r.Status != StatusSucceeded {
		t.Fatalf("run %+v, %v", r, err)
	}
	// Finishing it again fails, and appends nothing.
	end.Logs = []LogLine{{Time: epoch, Level: "info", Message: "late"}}
	if err := s.FinishRun(ctx, id, end); !errors.Is(err, ErrFinished) {
		t.Errorf("FinishRun of a finished run = %v, want %v", err, ErrFinished)
	}
	if lines, _ := s.RunLogs(ctx, id, 0, 10); len(lines) != 3 {
		t.Errorf("%d lines after the failed FinishRun, want 3", len(lines))
	}
}
