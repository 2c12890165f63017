package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Runs checks an implementation of store.Runs. open returns a new, empty
// store for each test; the tests run in parallel.
func Runs(t *testing.T, open func(t *testing.T) store.Runs) {
	t.Run("StartRun", func(t *testing.T) { runsStartRun(t, open) })
	t.Run("FinishRun", func(t *testing.T) { runsFinishRun(t, open) })
	t.Run("FinishRunFailure", func(t *testing.T) { runsFinishRunFailure(t, open) })
	t.Run("GetRunNotFound", func(t *testing.T) { runsGetRunNotFound(t, open) })
	t.Run("RecordSkipped", func(t *testing.T) { runsRecordSkipped(t, open) })
	t.Run("ListRuns", func(t *testing.T) { runsListRuns(t, open) })
	t.Run("ListRunsSummaries", func(t *testing.T) { runsListRunsSummaries(t, open) })
	t.Run("ListRunsSearch", func(t *testing.T) { runsListRunsSearch(t, open) })
	t.Run("RecentRuns", func(t *testing.T) { runsRecentRuns(t, open) })
	t.Run("MarkInterrupted", func(t *testing.T) { runsMarkInterrupted(t, open) })
	t.Run("LastScheduled", func(t *testing.T) { runsLastScheduled(t, open) })
	t.Run("FinishRunWithLogs", func(t *testing.T) { runsFinishRunWithLogs(t, open) })
	t.Run("Logs", func(t *testing.T) { runsLogs(t, open) })
	t.Run("EndRun", func(t *testing.T) { runsEndRun(t, open) })
	t.Run("RetryOnce", func(t *testing.T) { runsRetryOnce(t, open) })
	t.Run("RecordRuns", func(t *testing.T) { runsRecordRuns(t, open) })
	t.Run("RecordRunsMany", func(t *testing.T) { runsRecordRunsMany(t, open) })
}

// runsRecordRuns records a batch in which some runs fail, each alone:
// a time fired before, the same time twice in the batch, an invalid run.
func runsRecordRuns(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	mustStart(t, s, scheduled("a", "fired", epoch))
	skip := scheduled("a", "busy", epoch)
	skip.Status, skip.Reason = store.StatusSkipped, "previous run still running"
	runs := []store.Run{
		scheduled("a", "t1", epoch),
		scheduled("a", "fired", epoch), // fired before the batch
		scheduled("a", "t2", epoch),
		{App: "a", Trigger: store.TriggerSchedule, ScheduledTime: epoch, StartTime: epoch}, // no task
		skip,
		manual("a", "t1", epoch),
		scheduled("a", "t1", epoch.Add(time.Minute)),
		scheduled("a", "t2", epoch), // fired in the batch too
	}
	out := s.RecordRuns(ctx, runs)
	if len(out) != len(runs) {
		t.Fatalf("RecordRuns of %d runs returned %d outcomes", len(runs), len(out))
	}
	// One of the two fires of a/t2 at epoch is recorded.
	if errors.Is(out[2].Err, store.ErrDuplicate) {
		out[2], out[7] = out[7], out[2]
		runs[2], runs[7] = runs[7], runs[2]
	}
	seen := map[int64]bool{}
	for i, want := range []error{nil, store.ErrDuplicate, nil, store.ErrInvalid, nil, nil, nil, store.ErrDuplicate} {
		o := out[i]
		if want == nil && o.Err != nil || want != nil && !errors.Is(o.Err, want) {
			t.Errorf("run %d (%s/%s): error %v; want %v", i, runs[i].App, runs[i].Task, o.Err, want)
		}
		if (o.Err == nil) != (o.ID != 0) || seen[o.ID] {
			t.Errorf("run %d (%s/%s): ID %d with error %v", i, runs[i].App, runs[i].Task, o.ID, o.Err)
		}
		if o.Err != nil {
			continue
		}
		seen[o.ID] = true
		got, err := s.GetRun(ctx, o.ID)
		if err != nil {
			t.Fatalf("GetRun(%d): %v", o.ID, err)
		}
		want := runs[i]
		want.ID, want.ExitCode = o.ID, -1
		if want.Status == "" {
			want.Status = store.StatusRunning
		}
		if want.Status == store.StatusSkipped {
			want.EndTime = want.StartTime
		}
		if !runsEqual(*got, want) {
			t.Errorf("run %d recorded as\n%+v\nwant\n%+v", i, *got, want)
		}
	}
	if at, err := s.LastScheduled(ctx, "a", "t1"); err != nil || !at.Equal(epoch.Add(time.Minute)) {
		t.Errorf("LastScheduled of a/t1 = %v, %v; want %v", at, err, epoch.Add(time.Minute))
	}
	if out := s.RecordRuns(ctx, nil); len(out) != 0 {
		t.Errorf("RecordRuns of no runs = %+v", out)
	}
}

// runsRecordRunsMany records more runs at once than a store's write holds
// (SQLite's committer and PostgreSQL's groups hold 256), a duplicate
// among them: every other run is recorded, once.
func runsRecordRunsMany(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	runs := make([]store.Run, 600)
	for i := range runs {
		runs[i] = scheduled("a", fmt.Sprintf("t%d", i%300), epoch.Add(time.Duration(i/300)*time.Minute))
	}
	runs[450] = runs[0]
	out := s.RecordRuns(ctx, runs)
	seen := map[int64]bool{}
	dups := 0
	for i, o := range out {
		switch {
		case errors.Is(o.Err, store.ErrDuplicate) && (i == 0 || i == 450):
			dups++
		case o.Err != nil || o.ID == 0 || seen[o.ID]:
			t.Errorf("run %d: ID %d, error %v", i, o.ID, o.Err)
		}
		seen[o.ID] = true
	}
	if dups != 1 {
		t.Errorf("%d of the two fires of a/t0 at %v failed as duplicates; want 1", dups, epoch)
	}
	list, err := s.ListRuns(ctx, store.RunFilter{Apps: []string{"a"}, Limit: store.MaxLimit})
	if err != nil || len(list) != len(runs)-1 {
		t.Fatalf("ListRuns = %d runs, %v; want %d", len(list), err, len(runs)-1)
	}
}

// retryOf returns the retry of run id of a/t, attempt 1, at start.
func retryOf(id int64, start time.Time) store.Run {
	return store.Run{App: "a", Task: "t", Trigger: store.TriggerRetry, Attempt: 1, StartTime: start, RetryOf: id}
}

// checkRetryOnce checks that s records one retry of a run, started or
// skipped, and refuses a second with ErrDuplicate.
func checkRetryOnce(t *testing.T, s store.Runs, first store.Run) {
	t.Helper()
	ctx := t.Context()
	failed := mustStart(t, s, first)
	mustFinish(t, s, failed, store.StatusFailed, first.StartTime)
	retry := retryOf(failed, first.StartTime.Add(time.Minute))
	retry.Node = first.Node
	id := mustStart(t, s, retry)
	got, err := s.GetRun(ctx, id)
	if err != nil || got.RetryOf != failed {
		t.Fatalf("GetRun of the retry = %+v, %v; want RetryOf %d", got, err, failed)
	}
	if _, err := s.StartRun(ctx, retry); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("StartRun of a second retry of run %d = %v, want %v", failed, err, store.ErrDuplicate)
	}
	skipped := retry
	skipped.Reason = "previous run still running"
	if _, err := s.RecordSkipped(ctx, skipped); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("RecordSkipped of a second retry of run %d = %v, want %v", failed, err, store.ErrDuplicate)
	}
	// The retry's own retry is another run's.
	next := retryOf(id, first.StartTime.Add(2*time.Minute))
	next.Node, next.Attempt = first.Node, 2
	next.Reason = "previous run still running"
	if _, err := s.RecordSkipped(ctx, next); err != nil {
		t.Errorf("RecordSkipped of the retry of run %d = %v", id, err)
	}
	if _, err := s.StartRun(ctx, next); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("StartRun after a skipped retry of run %d = %v, want %v", id, err, store.ErrDuplicate)
	}
}

func runsRetryOnce(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	checkRetryOnce(t, s, manual("a", "t", epoch))
	// Two manual runs of the same instant are retried once each.
	checkRetryOnce(t, s, manual("a", "t", epoch))
}

// manual returns a manual run of app/task that starts at start.
func manual(app, task string, start time.Time) store.Run {
	return store.Run{App: app, Task: task, Trigger: store.TriggerManual, StartTime: start}
}

// scheduled returns a run of app/task fired for the scheduled time at.
func scheduled(app, task string, at time.Time) store.Run {
	return store.Run{App: app, Task: task, Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at.Add(time.Millisecond)}
}

// mustStart starts r or fails the test.
func mustStart(t *testing.T, s store.Runs, r store.Run) int64 {
	t.Helper()
	id, err := s.StartRun(t.Context(), r)
	if err != nil {
		t.Fatalf("StartRun(%s/%s): %v", r.App, r.Task, err)
	}
	return id
}

// mustFinish finishes run id with status, a second after start.
func mustFinish(t *testing.T, s store.Runs, id int64, status store.Status, start time.Time) {
	t.Helper()
	end := store.RunEnd{Status: status, EndTime: start.Add(time.Second), Duration: time.Second}
	if err := s.FinishRun(t.Context(), id, end); err != nil {
		t.Fatalf("FinishRun(%d): %v", id, err)
	}
}

// runsEqual compares runs field by field: times with Equal, JSON by bytes.
func runsEqual(a, b store.Run) bool {
	if !a.StartTime.Equal(b.StartTime) || !a.EndTime.Equal(b.EndTime) || !a.ScheduledTime.Equal(b.ScheduledTime) ||
		!bytes.Equal(a.Input, b.Input) || !bytes.Equal(a.Result, b.Result) {
		return false
	}
	for _, r := range []*store.Run{&a, &b} {
		r.StartTime, r.EndTime, r.ScheduledTime, r.Input, r.Result = time.Time{}, time.Time{}, time.Time{}, nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func runsStartRun(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	at := epoch.Add(time.Hour)
	withInput := scheduled("a", "t", epoch)
	withInput.TriggeredByUser, withInput.Attempt, withInput.Input = "", 0, json.RawMessage(`{"n":1}`)
	retry := scheduled("a", "t", at)
	retry.Trigger, retry.Attempt = store.TriggerRetry, 1
	catchUp := scheduled("a", "t", at)
	catchUp.Trigger = store.TriggerCatchUp
	byUser := manual("a", "t", epoch)
	byUser.TriggeredByUser = "ada"
	onNode := scheduled("a", "t", at.Add(time.Hour))
	onNode.Node = "n2"
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
		run  store.Run
		want error
	}{
		{"scheduled with input", withInput, nil},
		{"manual by user", byUser, nil},
		{"on a node", onNode, nil},
		{"another scheduled time", scheduled("a", "t", at), nil},
		{"same scheduled time again", scheduled("a", "t", at), store.ErrDuplicate},
		{"same time as catch-up", catchUp, store.ErrDuplicate},
		{"same time as retry", retry, nil},
		{"same time, other task", scheduled("a", "u", at), nil},
		{"same time, other app", scheduled("b", "t", at), nil},
		{"no app", manual("", "t", epoch), store.ErrInvalid},
		{"no task", manual("a", "", epoch), store.ErrInvalid},
		{"no start time", manual("a", "t", time.Time{}), store.ErrInvalid},
		{"unknown trigger", unknown, store.ErrInvalid},
		{"schedule without scheduled time", noTime, store.ErrInvalid},
		{"input not JSON", badInput, store.ErrInvalid},
		{"negative attempt", negative, store.ErrInvalid},
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
			want.ID, want.Status, want.ExitCode = id, store.StatusRunning, -1
			want.StartTime, want.ScheduledTime = want.StartTime.UTC(), want.ScheduledTime.UTC()
			if !runsEqual(*got, want) {
				t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
			}
			list, err := s.ListRuns(t.Context(), store.RunFilter{Apps: []string{want.App}, BeforeID: id + 1, Limit: 1})
			if err != nil || len(list) != 1 || list[0].ID != id || list[0].Node != want.Node {
				t.Errorf("ListRuns = %+v, %v; want run %d on node %q", list, err, id, want.Node)
			}
		})
	}
}

func runsFinishRun(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	running := mustStart(t, s, manual("a", "t", epoch))
	done := mustStart(t, s, manual("a", "t", epoch))
	mustFinish(t, s, done, store.StatusFailed, epoch)
	skipped, err := s.RecordSkipped(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: epoch, Reason: "quota"})
	if err != nil {
		t.Fatal(err)
	}
	end := store.RunEnd{
		Status:     store.StatusSucceeded,
		EndTime:    epoch.Add(1500 * time.Millisecond),
		Duration:   1500 * time.Millisecond,
		ExitCode:   0,
		Output:     "hello\x00\xff",
		Result:     json.RawMessage(`{"ok":true}`),
		PeakMemory: 3 << 20,
		Overdue:    true,
	}
	tests := []struct {
		name string
		id   int64
		end  store.RunEnd
		want error
	}{
		{"running", running, end, nil},
		{"again", running, end, store.ErrFinished},
		{"already finished", done, end, store.ErrFinished},
		{"skipped", skipped, end, store.ErrFinished},
		{"unknown", 9999, end, store.ErrNotFound},
		{"status running", done, store.RunEnd{Status: store.StatusRunning, EndTime: epoch}, store.ErrInvalid},
		{"status skipped", done, store.RunEnd{Status: store.StatusSkipped, EndTime: epoch}, store.ErrInvalid},
		{"no end time", done, store.RunEnd{Status: store.StatusFailed}, store.ErrInvalid},
		{"result not JSON", done, store.RunEnd{Status: store.StatusFailed, EndTime: epoch, Result: json.RawMessage("nope")}, store.ErrInvalid},
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
	want.Output, want.Result, want.PeakMemory, want.Overdue = end.Output, end.Result, end.PeakMemory, end.Overdue
	if !runsEqual(*got, want) {
		t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
	}
}

func runsFinishRunFailure(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	id := mustStart(t, s, manual("a", "t", epoch))
	err := s.FinishRun(t.Context(), id, store.RunEnd{Status: store.StatusTrapped, EndTime: epoch.Add(time.Second), ExitCode: -1, Error: "unreachable"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(t.Context(), id)
	if err != nil || got.ExitCode != -1 || got.Error != "unreachable" || got.Result != nil {
		t.Errorf("GetRun = %+v, %v", got, err)
	}
}

func runsGetRunNotFound(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	if _, err := s.GetRun(t.Context(), 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun = %v, want %v", err, store.ErrNotFound)
	}
}

func runsRecordSkipped(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	at := epoch.Add(time.Hour)
	skip := scheduled("a", "t", at)
	skip.Reason = "the previous run is still running"
	noReason := scheduled("a", "t", epoch)
	tests := []struct {
		name string
		run  store.Run
		want error
	}{
		{"scheduled", skip, nil},
		{"same time again", skip, store.ErrDuplicate},
		{"no reason", noReason, store.ErrInvalid},
		{"no app", store.Run{Task: "t", Trigger: store.TriggerManual, StartTime: epoch, Reason: "x"}, store.ErrInvalid},
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
			want.ID, want.Status, want.ExitCode, want.EndTime = id, store.StatusSkipped, -1, tt.run.StartTime
			if !runsEqual(*got, want) {
				t.Errorf("GetRun =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
	// A skipped time is a handled time: it cannot be started either.
	if _, err := s.StartRun(t.Context(), scheduled("a", "t", at)); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("StartRun of a skipped time = %v, want %v", err, store.ErrDuplicate)
	}
}

func runsListRuns(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	// IDs 1-9: apps a, b, c round robin; tasks x, y; every third running.
	var all []store.Run
	for i := range 9 {
		r := manual(string(rune('a'+i%3)), []string{"x", "y"}[i%2], epoch.Add(time.Duration(i)*time.Minute))
		id := mustStart(t, s, r)
		r.ID, r.Status, r.ExitCode = id, store.StatusRunning, -1
		if i%3 != 2 {
			mustFinish(t, s, id, store.StatusSucceeded, r.StartTime)
			r.Status, r.ExitCode, r.EndTime, r.Duration = store.StatusSucceeded, 0, r.StartTime.Add(time.Second), time.Second
		}
		all = append(all, r)
	}
	if err := s.FinishRun(ctx, 1, store.RunEnd{Status: store.StatusFailed, EndTime: epoch, Output: "big output"}); !errors.Is(err, store.ErrFinished) {
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
		filter store.RunFilter
		want   []int64
	}{
		{"all", store.RunFilter{}, ids(9, 8, 7, 6, 5, 4, 3, 2, 1)},
		{"one app", store.RunFilter{Apps: []string{"a"}}, ids(7, 4, 1)},
		{"allowed apps", store.RunFilter{Apps: []string{"a", "b"}}, ids(8, 7, 5, 4, 2, 1)},
		{"no allowed apps", store.RunFilter{Apps: []string{}}, nil},
		{"unknown app", store.RunFilter{Apps: []string{"zz"}}, nil},
		{"task", store.RunFilter{Task: "x"}, ids(9, 7, 5, 3, 1)},
		{"app and task", store.RunFilter{Apps: []string{"a"}, Task: "y"}, ids(4)},
		{"running", store.RunFilter{Statuses: []store.Status{store.StatusRunning}}, ids(9, 6, 3)},
		{"two statuses", store.RunFilter{Statuses: []store.Status{store.StatusRunning, store.StatusFailed}}, ids(9, 6, 3)},
		{"since", store.RunFilter{Since: epoch.Add(6 * time.Minute)}, ids(9, 8, 7)},
		{"before", store.RunFilter{BeforeID: 4}, ids(3, 2, 1)},
		{"limit", store.RunFilter{Limit: 2}, ids(9, 8)},
		{"page", store.RunFilter{BeforeID: 8, Limit: 2}, ids(7, 6)},
		{"everything", store.RunFilter{Apps: []string{"b", "c"}, Task: "x", Statuses: []store.Status{store.StatusRunning}, Since: epoch, BeforeID: 9, Limit: 5}, ids(3)},
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

// runsListRunsSearch checks the filters of a search of the history: a
// time range, triggers, text in the error, the reason or the logs, and
// runs after an ID.
func runsListRunsSearch(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	// 1: manual, failed "upstream returned 503"; 2: scheduled, logs "Disk
	// 95% full"; 3: a retry, succeeded; 4: skipped, "queue_full".
	one := mustStart(t, s, manual("a", "x", epoch))
	if err := s.FinishRun(ctx, one, store.RunEnd{Status: store.StatusFailed, EndTime: epoch.Add(time.Second), Error: "upstream returned 503"}); err != nil {
		t.Fatal(err)
	}
	two := mustStart(t, s, scheduled("a", "y", epoch.Add(time.Hour)))
	if err := s.AppendLogs(ctx, two, []store.LogLine{{Time: epoch, Level: "info", Message: "starting"}, {Time: epoch, Level: "warn", Message: "Disk 95% full"}}); err != nil {
		t.Fatal(err)
	}
	retry := manual("a", "x", epoch.Add(2*time.Hour))
	retry.Trigger, retry.Attempt, retry.Node = store.TriggerRetry, 1, "n2"
	three := mustStart(t, s, retry)
	mustFinish(t, s, three, store.StatusSucceeded, retry.StartTime)
	skipped := scheduled("b", "x", epoch.Add(3*time.Hour))
	skipped.Status, skipped.Reason = store.StatusSkipped, "queue_full: 4 waiting"
	if _, err := s.RecordSkipped(ctx, skipped); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter store.RunFilter
		want   []int64
	}{
		{"until", store.RunFilter{Until: epoch.Add(time.Hour)}, []int64{1}},
		{"a range", store.RunFilter{Since: epoch.Add(time.Hour), Until: epoch.Add(3 * time.Hour)}, []int64{3, 2}},
		{"a trigger", store.RunFilter{Triggers: []store.Trigger{store.TriggerRetry}}, []int64{3}},
		{"two triggers", store.RunFilter{Triggers: []store.Trigger{store.TriggerSchedule, store.TriggerManual}}, []int64{4, 2, 1}},
		{"text in the error, any case", store.RunFilter{Text: "UPSTREAM"}, []int64{1}},
		{"text in a log line", store.RunFilter{Text: "disk"}, []int64{2}},
		{"a % is a percent sign", store.RunFilter{Text: "95%"}, []int64{2}},
		{"a _ is an underscore", store.RunFilter{Text: "e_f"}, []int64{4}},
		{"no such text", store.RunFilter{Text: "teapot"}, nil},
		{"after", store.RunFilter{AfterID: 2}, []int64{4, 3}},
		{"a node", store.RunFilter{Node: "n2"}, []int64{3}},
		{"after and before", store.RunFilter{AfterID: 1, BeforeID: 4}, []int64{3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.ListRuns(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ListRuns = %v, want %v", ids, tt.want)
			}
		})
	}
}

// runsRecentRuns checks that RecentRuns returns each task's newest runs,
// together, newest first.
func runsRecentRuns(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	for i := range 12 {
		mustStart(t, s, manual([]string{"a", "b", "c"}[i%3], "x", epoch.Add(time.Duration(i)*time.Minute)))
	}
	// 250 tasks: more than a query of some stores asks for at once.
	refs := []store.TaskRef{{App: "b", Task: "x"}, {App: "none", Task: "x"}, {App: "a", Task: "x"}}
	for i := range 250 {
		refs = append(refs, store.TaskRef{App: "z", Task: fmt.Sprint(i)})
	}
	got, err := s.RecentRuns(t.Context(), refs, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if want := []int64{11, 8, 5, 10, 7, 4}; !slices.Equal(ids, want) {
		t.Errorf("RecentRuns = %v, want %v", ids, want)
	}
	if got, err := s.RecentRuns(t.Context(), nil, 3); err != nil || len(got) != 0 {
		t.Errorf("RecentRuns of no task = %v, %v", got, err)
	}
}

func runsListRunsSummaries(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	r := manual("a", "t", epoch)
	r.Input = json.RawMessage(`[1]`)
	id := mustStart(t, s, r)
	err := s.FinishRun(t.Context(), id, store.RunEnd{Status: store.StatusFailed, EndTime: epoch, ExitCode: 3, Output: "out", Error: "exit 3", Result: json.RawMessage(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.ListRuns(t.Context(), store.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	if got := runs[0]; got.Output != "" || got.Input != nil || got.Result != nil || got.Error != "exit 3" || got.ExitCode != 3 {
		t.Errorf("summary = %+v; want no output, input or result, but the error and exit code", got)
	}
}

func runsMarkInterrupted(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	a := mustStart(t, s, manual("a", "t", epoch))
	b := mustStart(t, s, manual("b", "t", epoch))
	done := mustStart(t, s, manual("a", "t", epoch))
	mustFinish(t, s, done, store.StatusSucceeded, epoch)
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
		if r.Status != store.StatusInterrupted || !r.EndTime.Equal(now) || r.Duration != 90*time.Second || r.Error == "" {
			t.Errorf("run %d = %+v; want interrupted at %v after 90s, with an error", id, r, now)
		}
	}
	if r, _ := s.GetRun(ctx, done); r.Status != store.StatusSucceeded {
		t.Errorf("finished run became %s", r.Status)
	}
	if n, err := s.MarkInterrupted(ctx, now); err != nil || n != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0", n, err)
	}
	if err := s.FinishRun(ctx, a, store.RunEnd{Status: store.StatusSucceeded, EndTime: now}); !errors.Is(err, store.ErrFinished) {
		t.Errorf("FinishRun of an interrupted run = %v, want %v", err, store.ErrFinished)
	}
}

func runsLastScheduled(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	hour := func(h int) time.Time { return epoch.Add(time.Duration(h) * time.Hour) }
	mustStart(t, s, scheduled("a", "t", hour(1)))
	mustStart(t, s, scheduled("a", "t", hour(3)))
	catchUp := scheduled("a", "t", hour(2))
	catchUp.Trigger = store.TriggerCatchUp
	mustStart(t, s, catchUp)
	retry := scheduled("a", "t", hour(9)) // a retry carries the time, but was not fired for it
	retry.Trigger = store.TriggerRetry
	mustStart(t, s, retry)
	mustStart(t, s, manual("a", "t", hour(10)))
	mustStart(t, s, scheduled("a", "u", hour(8)))
	skip := scheduled("b", "t", hour(5))
	skip.Reason = "quota"
	if _, err := s.RecordSkipped(ctx, skip); err != nil {
		t.Fatal(err)
	}
	catchUp = scheduled("c", "t", hour(6))
	catchUp.Trigger = store.TriggerCatchUp
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
	t.Run("Of", func(t *testing.T) {
		t.Parallel()
		// Every task at once, one of them twice, reads what each read
		// alone; a task without a time is left out.
		var tasks []store.TaskRef
		want := map[store.TaskRef]time.Time{}
		for _, tt := range tests {
			ref := store.TaskRef{App: tt.app, Task: tt.task}
			tasks = append(tasks, ref)
			if !tt.want.IsZero() {
				want[ref] = tt.want
			}
		}
		tasks = append(tasks, tasks[0])
		got, err := s.LastScheduledOf(t.Context(), tasks)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("LastScheduledOf = %v; want %v", got, want)
		}
		if got, err := s.LastScheduledOf(t.Context(), nil); err != nil || len(got) != 0 {
			t.Errorf("LastScheduledOf(nil) = %v, %v; want none", got, err)
		}
	})
}

// runsFinishRunWithLogs ends a run and appends its last lines in one
// write; a run that is no longer running gets neither.
func runsFinishRunWithLogs(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	if err := s.AppendLogs(ctx, id, []store.LogLine{{Time: epoch, Level: "info", Message: "first"}}); err != nil {
		t.Fatal(err)
	}
	end := store.RunEnd{Status: store.StatusSucceeded, EndTime: epoch.Add(time.Second), Duration: time.Second,
		Logs: []store.LogLine{{Time: epoch, Level: "warn", Message: "second"}, {Time: epoch, Level: "info", Message: "third"}}}
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
	if r, err := s.GetRun(ctx, id); err != nil || r.Status != store.StatusSucceeded {
		t.Fatalf("run %+v, %v", r, err)
	}
	// Finishing it again fails, and appends nothing.
	end.Logs = []store.LogLine{{Time: epoch, Level: "info", Message: "late"}}
	if err := s.FinishRun(ctx, id, end); !errors.Is(err, store.ErrFinished) {
		t.Errorf("FinishRun of a finished run = %v, want %v", err, store.ErrFinished)
	}
	if lines, _ := s.RunLogs(ctx, id, 0, 10); len(lines) != 3 {
		t.Errorf("%d lines after the failed FinishRun, want 3", len(lines))
	}
}

// runsLogs appends log lines to a run in batches and reads them back in
// pages. (How many lines a run keeps is an implementation's option.)
func runsLogs(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	quiet := mustStart(t, s, manual("a", "t", epoch))
	line := func(i int) store.LogLine {
		return store.LogLine{Time: epoch.Add(time.Duration(i) * time.Second), Level: "info", Message: fmt.Sprintf("line %d", i)}
	}
	if err := s.AppendLogs(ctx, id, []store.LogLine{line(1), line(2), line(3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, id, nil); err != nil {
		t.Fatalf("AppendLogs(nothing) = %v", err)
	}
	warn := store.LogLine{Time: epoch.Add(5 * time.Second), Level: "warn", Message: "line 5"}
	if err := s.AppendLogs(ctx, id, []store.LogLine{line(4), warn}); err != nil {
		t.Fatal(err)
	}
	for _, unknown := range [][]store.LogLine{{line(1)}, make([]store.LogLine, 9)} {
		if err := s.AppendLogs(ctx, 9999, unknown); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("AppendLogs(unknown run, %d lines) = %v, want %v", len(unknown), err, store.ErrNotFound)
		}
	}
	all := []store.LogLine{line(1), line(2), line(3), line(4), warn}
	for i := range all {
		all[i].Seq = int64(i + 1)
	}
	tests := []struct {
		name       string
		run, after int64
		limit      int
		want       []store.LogLine
		wantErr    error
	}{
		{"all", id, 0, 0, all, nil},
		{"first page", id, 0, 2, all[:2], nil},
		{"next page", id, 2, 2, all[2:4], nil},
		{"last page", id, 4, 2, all[4:], nil},
		{"past the end", id, 5, 2, nil, nil},
		{"run without lines", quiet, 0, 10, nil, nil},
		{"unknown run", 9999, 0, 10, nil, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RunLogs(t.Context(), tt.run, tt.after, tt.limit)
			if !errors.Is(err, tt.wantErr) || !slices.EqualFunc(got, tt.want, func(a, b store.LogLine) bool { return a == b }) {
				t.Errorf("RunLogs = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// runsEndRun checks that EndRun ends a run, counts its outcome with it
// and tells whether pruning is due, and does neither for a run no longer
// running.
func runsEndRun(t *testing.T, open func(*testing.T) store.Runs) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	start := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	end := func(status store.Status, after store.AfterEnd) (int64, store.Ended) {
		t.Helper()
		id := mustStart(t, s, manual("a", "t", start))
		ended, err := s.EndRun(ctx, id, store.RunEnd{Status: status, EndTime: start.Add(time.Second), Duration: time.Second}, after)
		if err != nil || !ended.Recorded {
			t.Fatalf("EndRun(%d) = %+v, %v", id, ended, err)
		}
		r, err := s.GetRun(ctx, id)
		if err != nil || r.Status != status {
			t.Fatalf("GetRun(%d) = %+v, %v; want status %s", id, r, err, status)
		}
		return id, ended
	}
	fail := &store.Outcome{Failed: true, MaxFailures: 2, Reason: "too many"}
	_, ended := end(store.StatusFailed, store.AfterEnd{App: "a", Task: "t", Outcome: fail})
	if ended.State == nil || ended.State.ConsecutiveFailures != 1 || ended.State.DisabledReason != "" {
		t.Fatalf("first failure: State = %+v, want 1 failure", ended.State)
	}
	_, ended = end(store.StatusFailed, store.AfterEnd{App: "a", Task: "t", Outcome: fail})
	if ended.State == nil || ended.State.ConsecutiveFailures != 2 || ended.State.DisabledReason != "too many" {
		t.Fatalf("second failure: State = %+v, want 2 failures, disabled", ended.State)
	}
	id, ended := end(store.StatusSucceeded, store.AfterEnd{App: "a", Task: "t", Outcome: &store.Outcome{MaxFailures: 2}})
	if ended.State == nil || ended.State.ConsecutiveFailures != 0 || ended.State.DisabledReason != "too many" {
		t.Fatalf("success: State = %+v, want 0 failures, still disabled", ended.State)
	}
	if ended.PruneDue {
		t.Error("PruneDue without limits")
	}
	// Three runs: past a keep of 2, within one of 3 and of an age limit.
	for _, tt := range []struct {
		after store.AfterEnd
		due   bool
	}{
		{store.AfterEnd{App: "a", Task: "t", Keep: 3}, true}, // a fourth run
		{store.AfterEnd{App: "a", Task: "t", Keep: 10, MaxAge: time.Hour, Now: start.Add(30 * time.Minute)}, false},
		{store.AfterEnd{App: "a", Task: "t", MaxAge: time.Hour, Now: start.Add(2 * time.Hour)}, true},
		{store.AfterEnd{App: "a", Task: "t", HistoryQuota: 1 << 30}, false},
	} {
		if _, ended := end(store.StatusSucceeded, tt.after); ended.PruneDue != tt.due || ended.State != nil {
			t.Errorf("EndRun with %+v: PruneDue %v, State %+v; want %v, nil", tt.after, ended.PruneDue, ended.State, tt.due)
		}
	}
	// A run no longer running: nothing recorded, no outcome counted.
	ended, err := s.EndRun(ctx, id, store.RunEnd{Status: store.StatusFailed, EndTime: start}, store.AfterEnd{App: "a", Task: "t", Outcome: fail})
	if !errors.Is(err, store.ErrFinished) || ended.Recorded || ended.State != nil {
		t.Errorf("EndRun of an ended run = %+v, %v; want ErrFinished, nothing recorded", ended, err)
	}
	if _, err := s.EndRun(ctx, 1<<40, store.RunEnd{Status: store.StatusFailed, EndTime: start}, store.AfterEnd{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndRun of an unknown run = %v, want ErrNotFound", err)
	}
}
