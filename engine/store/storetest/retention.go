package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Retention checks an implementation of store.Retention, with the
// store.Runs it prunes: open returns both, of a new, empty store, for each
// test.
func Retention(t *testing.T, open func(t *testing.T) (store.Runs, store.Retention)) {
	t.Run("PruneRuns", func(t *testing.T) { retentionPruneRuns(t, open) })
	t.Run("PruneDue", func(t *testing.T) { retentionPruneDue(t, open) })
}

// retentionPruneDue looks for the tasks due for pruning among many, with
// limits of several kinds at once.
func retentionPruneDue(t *testing.T, open func(*testing.T) (store.Runs, store.Retention)) {
	t.Parallel()
	s, ret := open(t)
	ctx := t.Context()
	// a/t: seven runs, the oldest started at epoch-100h and running; a/u
	// and b/t one each, started at epoch-100h.
	mustStart(t, s, manual("a", "t", epoch.Add(-100*time.Hour)))
	for i := range 6 {
		start := epoch.Add(time.Duration(i) * time.Hour)
		mustFinish(t, s, mustStart(t, s, manual("a", "t", start)), store.StatusSucceeded, start)
	}
	for _, ref := range []store.TaskRef{{App: "a", Task: "u"}, {App: "b", Task: "t"}} {
		mustFinish(t, s, mustStart(t, s, manual(ref.App, ref.Task, epoch.Add(-100*time.Hour))), store.StatusFailed, epoch)
	}
	now := epoch.Add(5 * time.Hour)
	limit := func(app, task string, keep int, maxAge time.Duration) store.PruneLimit {
		return store.PruneLimit{TaskRef: store.TaskRef{App: app, Task: task}, Keep: keep, MaxAge: maxAge}
	}
	limits := []store.PruneLimit{
		limit("a", "t", 7, 0),                  // exactly its count: not due
		limit("a", "u", 0, 50*time.Hour),       // its run is older: due
		limit("a", "t", 6, 0),                  // one more than kept, the running one: due
		limit("b", "t", 0, 0),                  // no limits: left out
		limit("none", "x", 1, time.Nanosecond), // no runs
		limit("a", "u", 1, 0),                  // exactly its count
		limit("a", "t", 0, 6*time.Hour),        // its oldest run is older: due
		limit("b", "t", 0, 200*time.Hour),      // its run is younger
		limit("b", "t", 7, 200*time.Hour),      // neither
	}
	want := []store.TaskRef{{App: "a", Task: "u"}, {App: "a", Task: "t"}, {App: "a", Task: "t"}}
	got, err := ret.PruneDue(ctx, limits, now)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("PruneDue = %v, %v; want %v", got, err, want)
	}
	if got, err := ret.PruneDue(ctx, nil, now); err != nil || len(got) != 0 {
		t.Errorf("PruneDue(nil) = %v, %v; want none", got, err)
	}
	for _, bad := range []store.PruneLimit{limit("a", "t", -1, 0), limit("a", "t", 0, -time.Hour), limit("", "t", 1, 0), limit("a", "", 1, 0)} {
		if got, err := ret.PruneDue(ctx, append(limits, bad), now); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PruneDue with %+v = %v, %v; want ErrInvalid", bad, got, err)
		}
	}
}

func retentionPruneRuns(t *testing.T, open func(*testing.T) (store.Runs, store.Retention)) {
	t.Parallel()
	// fixture records, for a/t, a running run started long ago (ID 1) and
	// six finished runs (IDs 2-7) started at epoch+0h…5h, the second of
	// them (ID 3) scheduled; it adds runs of a/u and b/t as bystanders.
	fixture := func(t *testing.T) (store.Runs, store.Retention) {
		s, ret := open(t)
		mustStart(t, s, manual("a", "t", epoch.Add(-100*time.Hour)))
		for i := range 6 {
			start := epoch.Add(time.Duration(i) * time.Hour)
			r := manual("a", "t", start)
			if i == 1 {
				r = scheduled("a", "t", start)
				r.StartTime = start
			}
			id := mustStart(t, s, r)
			if err := s.AppendLogs(t.Context(), id, []store.LogLine{{Level: "info", Message: "hi"}}); err != nil {
				t.Fatal(err)
			}
			mustFinish(t, s, id, store.StatusSucceeded, start)
		}
		for _, app := range []string{"a", "b"} {
			task := map[string]string{"a": "u", "b": "t"}[app]
			id := mustStart(t, s, manual(app, task, epoch.Add(-100*time.Hour)))
			mustFinish(t, s, id, store.StatusFailed, epoch)
		}
		return s, ret
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
		{"negative count", "a", "t", -1, 0, nil, store.ErrInvalid},
		{"negative age", "a", "t", 0, -time.Hour, nil, store.ErrInvalid},
		{"no app", "", "t", 1, 0, nil, store.ErrInvalid},
		{"no task", "a", "", 1, 0, nil, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ret := fixture(t)
			ctx := t.Context()
			n, err := ret.PruneRuns(ctx, tt.app, tt.task, tt.keepLast, tt.maxAge, now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PruneRuns = %d, %v; want %v", n, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			runs, err := s.ListRuns(ctx, store.RunFilter{Apps: []string{"a"}, Task: "t"})
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
			for id := int64(2); id <= 7; id++ {
				_, err := s.RunLogs(ctx, id, 0, 10)
				if kept := slices.Contains(left, id); kept != (err == nil) || !kept && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("RunLogs of run %d (kept: %v) = %v: logs go with their runs", id, kept, err)
				}
			}
			if all, err := s.ListRuns(ctx, store.RunFilter{}); err != nil || len(all) != len(left)+2 {
				t.Errorf("%d runs in all, %v; want %d: the other tasks' runs are kept", len(all), err, len(left)+2)
			}
			if last, err := s.LastScheduled(ctx, "a", "t"); err != nil || !last.Equal(epoch.Add(time.Hour)) {
				t.Errorf("LastScheduled after pruning = %v, %v; want it kept", last, err)
			}
		})
	}
}
