package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Stats checks an implementation of store.Stats, with the store.Runs that
// records the runs it aggregates: open returns both, of a new, empty
// store, for each test.
func Stats(t *testing.T, open func(t *testing.T) (store.Runs, store.Stats)) {
	t.Run("TaskStats", func(t *testing.T) { statsTask(t, open) })
	t.Run("Overview", func(t *testing.T) { statsOverview(t, open) })
	t.Run("ErrorLine", func(t *testing.T) { statsErrorLine(t, open) })
}

// ended starts r and ends it with status after d.
func ended(t *testing.T, s store.Runs, r store.Run, status store.Status, d time.Duration, errMsg string) int64 {
	t.Helper()
	id := mustStart(t, s, r)
	end := store.RunEnd{Status: status, EndTime: r.StartTime.Add(d), Duration: d, Error: errMsg}
	if err := s.FinishRun(t.Context(), id, end); err != nil {
		t.Fatalf("FinishRun(%d): %v", id, err)
	}
	return id
}

// A task's newest finished runs, their p50 and p95 by nearest rank, and
// its outcomes per UTC day; running and skipped runs and other tasks do
// not count.
func statsTask(t *testing.T, open func(t *testing.T) (store.Runs, store.Stats)) {
	t.Parallel()
	s, st := open(t)
	ctx := t.Context()
	day1 := time.Date(2026, 1, 15, 23, 0, 0, 0, time.UTC)
	var ids []int64
	for i, sec := range []int{5, 1, 4, 2, 3} {
		status := store.StatusSucceeded
		if i == 1 || i == 3 {
			status = store.StatusFailed
		}
		start := day1.Add(time.Duration(i) * 30 * time.Minute) // two on the 15th, three on the 16th
		ids = append(ids, ended(t, s, manual("a", "t", start), status, time.Duration(sec)*time.Second, ""))
	}
	ended(t, s, manual("a", "other", day1), store.StatusSucceeded, time.Hour, "")
	mustStart(t, s, manual("a", "t", day1.Add(4*time.Hour)))
	if _, err := s.RecordSkipped(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: day1.Add(5 * time.Hour), Reason: "busy"}); err != nil {
		t.Fatal(err)
	}

	got, err := st.TaskStats(ctx, "a", "t", store.TaskStatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []int64
	for _, p := range got.Runs {
		gotIDs = append(gotIDs, p.ID)
	}
	if !reflect.DeepEqual(gotIDs, ids) {
		t.Errorf("runs %v, want %v (oldest first, finished only)", gotIDs, ids)
	}
	if p := got.Runs[1]; p.Status != store.StatusFailed || p.Duration != time.Second || !p.Start.Equal(day1.Add(30*time.Minute)) ||
		!p.End.Equal(day1.Add(30*time.Minute+time.Second)) || p.App != "a" || p.Task != "t" {
		t.Errorf("second run %+v", p)
	}
	if got.P50 != 3*time.Second || got.P95 != 5*time.Second {
		t.Errorf("p50, p95 = %v, %v; want 3s, 5s", got.P50, got.P95)
	}
	wantDays := []store.DayCount{
		{Day: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), Succeeded: 1, Failed: 1},
		{Day: time.Date(2026, 1, 16, 0, 0, 0, 0, time.UTC), Succeeded: 2, Failed: 1},
	}
	if !reflect.DeepEqual(got.Days, wantDays) {
		t.Errorf("days %+v, want %+v", got.Days, wantDays)
	}

	// The newest four: 1s, 4s, 2s, 3s; only the days since Since.
	got, err = st.TaskStats(ctx, "a", "t", store.TaskStatsQuery{Runs: 4, Since: wantDays[1].Day})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 4 || got.Runs[0].ID != ids[1] || got.P50 != 2*time.Second || got.P95 != 4*time.Second {
		t.Errorf("newest 4: %d runs from %d, p50 %v, p95 %v; want 4 from %d, 2s, 4s", len(got.Runs), got.Runs[0].ID, got.P50, got.P95, ids[1])
	}
	if !reflect.DeepEqual(got.Days, wantDays[1:]) {
		t.Errorf("days since the 16th %+v", got.Days)
	}

	got, err = st.TaskStats(ctx, "a", "none", store.TaskStatsQuery{})
	if err != nil || len(got.Runs) != 0 || got.P50 != 0 || len(got.Days) != 0 {
		t.Errorf("a task without runs: %+v, %v", got, err)
	}
}

// The overview's hours, timeline and rankings, within its window and the
// apps it selects.
func statsOverview(t *testing.T, open func(t *testing.T) (store.Runs, store.Stats)) {
	t.Parallel()
	s, st := open(t)
	ctx := t.Context()
	now := epoch
	since := now.Add(-24 * time.Hour)
	h := func(n int) time.Time { return now.Add(-time.Duration(n) * time.Hour).Truncate(time.Hour) }

	// Out of the window: counts nowhere, though it failed.
	ended(t, s, manual("a", "old", since.Add(-time.Minute)), store.StatusFailed, time.Minute, "")
	// a/flaky failed, then succeeded: not failing now.
	ended(t, s, manual("a", "flaky", h(5)), store.StatusFailed, time.Second, "")
	ended(t, s, manual("a", "flaky", h(4)), store.StatusSucceeded, 3*time.Second, "")
	// a/broken failed twice, the last time with an error line.
	ended(t, s, manual("a", "broken", h(3)), store.StatusFailed, 2*time.Second, "exit 1")
	broken := mustStart(t, s, manual("a", "broken", h(2)))
	if err := s.AppendLogs(ctx, broken, []store.LogLine{{Level: "error", Message: "upstream returned 503"}, {Level: "info", Message: "bye"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, broken, store.RunEnd{Status: store.StatusTimedOut, EndTime: h(2).Add(time.Second), Duration: time.Second, Error: "timed out"}); err != nil {
		t.Fatal(err)
	}
	// a/sched: one run on time, one 10 s late, one skipped.
	onTime := scheduled("a", "sched", h(3))
	ended(t, s, onTime, store.StatusSucceeded, 10*time.Second, "")
	late := scheduled("a", "sched", h(2))
	late.StartTime = late.ScheduledTime.Add(10 * time.Second)
	lateID := ended(t, s, late, store.StatusSucceeded, 20*time.Second, "")
	if _, err := s.RecordSkipped(ctx, store.Run{App: "a", Task: "sched", Trigger: store.TriggerSchedule, ScheduledTime: h(1), StartTime: h(1), Reason: "busy"}); err != nil {
		t.Fatal(err)
	}
	// b/t is of another app, and still running.
	running := mustStart(t, s, manual("b", "t", h(1).Add(time.Minute)))

	o, err := st.Overview(ctx, store.OverviewQuery{Since: since, TimelineSince: h(3)})
	if err != nil {
		t.Fatal(err)
	}
	wantHours := []store.HourCount{
		{Hour: h(5), Status: store.StatusFailed, Runs: 1},
		{Hour: h(4), Status: store.StatusSucceeded, Runs: 1},
		{Hour: h(3), Status: store.StatusFailed, Runs: 1},
		{Hour: h(3), Status: store.StatusSucceeded, Runs: 1},
		{Hour: h(2), Status: store.StatusSucceeded, Runs: 1},
		{Hour: h(2), Status: store.StatusTimedOut, Runs: 1},
		{Hour: h(1), Status: store.StatusRunning, Runs: 1},
		{Hour: h(1), Status: store.StatusSkipped, Runs: 1},
	}
	if !reflect.DeepEqual(o.Hours, wantHours) {
		t.Errorf("hours\n%+v\nwant\n%+v", o.Hours, wantHours)
	}
	var tl []string
	for _, p := range o.Timeline {
		tl = append(tl, p.App+"/"+p.Task+" "+string(p.Status))
	}
	wantTL := []string{"a/broken failed", "a/broken timed_out", "a/sched succeeded", "a/sched succeeded", "b/t running"}
	if !reflect.DeepEqual(tl, wantTL) {
		t.Errorf("timeline %q, want %q", tl, wantTL)
	}
	if p := o.Timeline[len(o.Timeline)-1]; p.ID != running || !p.End.IsZero() {
		t.Errorf("running run in the timeline: %+v", p)
	}
	wantFailing := []store.FailingTask{{App: "a", Task: "broken", RunID: broken, Status: store.StatusTimedOut, Start: h(2), Cause: "upstream returned 503", Failures: 2}}
	if !reflect.DeepEqual(o.Failing, wantFailing) {
		t.Errorf("failing %+v, want %+v", o.Failing, wantFailing)
	}
	var slow []string
	for _, x := range o.Slowest {
		slow = append(slow, x.App+"/"+x.Task)
	}
	if want := []string{"a/sched", "a/flaky", "a/broken"}; !reflect.DeepEqual(slow, want) {
		t.Errorf("slowest %q, want %q", slow, want)
	}
	if x := o.Slowest[0]; x.Runs != 2 || x.Mean != 15*time.Second || x.Max != 20*time.Second || x.MaxRunID != lateID {
		t.Errorf("slowest %+v", x)
	}
	wantLate := []store.LateTask{{App: "a", Task: "sched", Scheduled: 3, Late: 2, MaxDelay: 10 * time.Second}}
	if !reflect.DeepEqual(o.Late, wantLate) {
		t.Errorf("late %+v, want %+v", o.Late, wantLate)
	}

	// Scoped to b: only its running run; none selects nothing.
	o, err = st.Overview(ctx, store.OverviewQuery{Apps: []string{"b"}, Since: since, Top: 1})
	if err != nil || len(o.Hours) != 1 || len(o.Timeline) != 1 || len(o.Failing)+len(o.Slowest)+len(o.Late) != 0 {
		t.Errorf("overview of b: %+v, %v", o, err)
	}
	o, err = st.Overview(ctx, store.OverviewQuery{Apps: []string{}, Since: since})
	if err != nil || !reflect.DeepEqual(o, store.Overview{}) {
		t.Errorf("overview of no app: %+v, %v", o, err)
	}
	// Top limits each ranking.
	o, err = st.Overview(context.Background(), store.OverviewQuery{Since: since, Top: 1})
	if err != nil || len(o.Slowest) != 1 {
		t.Errorf("top 1: %d slowest, %v", len(o.Slowest), err)
	}
}

// A run keeps its last error-level line, from AppendLogs and from the
// lines FinishRun appends, in lists too.
func statsErrorLine(t *testing.T, open func(t *testing.T) (store.Runs, store.Stats)) {
	t.Parallel()
	s, _ := open(t)
	ctx := t.Context()
	id := mustStart(t, s, manual("a", "t", epoch))
	if err := s.AppendLogs(ctx, id, []store.LogLine{{Level: "error", Message: "first"}, {Level: "info", Message: "fine"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetRun(ctx, id); err != nil || r.ErrorLine != "first" {
		t.Fatalf("after AppendLogs: %q, %v", r.ErrorLine, err)
	}
	end := store.RunEnd{Status: store.StatusFailed, EndTime: epoch.Add(time.Second), Duration: time.Second,
		Logs: []store.LogLine{{Level: "error", Message: "upstream returned 503"}, {Level: "warn", Message: "giving up"}}}
	if err := s.FinishRun(ctx, id, end); err != nil {
		t.Fatal(err)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{})
	if err != nil || len(runs) != 1 || runs[0].ErrorLine != "upstream returned 503" {
		t.Fatalf("ListRuns = %+v, %v", runs, err)
	}
	other := ended(t, s, manual("a", "t", epoch), store.StatusFailed, time.Second, "exit 1")
	if r, err := s.GetRun(ctx, other); err != nil || r.ErrorLine != "" {
		t.Errorf("a run without error lines: %q, %v", r.ErrorLine, err)
	}
}
