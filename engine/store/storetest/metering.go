package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Metering checks an implementation of store.Metering, with the
// store.Runs that records usage and the store.Retention that prunes it:
// open returns the three, of a new, empty store, for each test.
func Metering(t *testing.T, open func(t *testing.T) (store.Runs, store.Retention, store.Metering)) {
	t.Run("RecordedAndSummed", func(t *testing.T) { meteringRecordedAndSummed(t, open) })
}

// A run's usage is stored with it, summed per app over a period and in
// totals that pruning does not lower.
func meteringRecordedAndSummed(t *testing.T, open func(t *testing.T) (store.Runs, store.Retention, store.Metering)) {
	t.Parallel()
	s, ret, m := open(t)
	ctx := t.Context()
	finish := func(app string, start time.Time, u store.Usage) int64 {
		t.Helper()
		id := mustStart(t, s, manual(app, "t", start))
		end := store.RunEnd{Status: store.StatusSucceeded, EndTime: start.Add(time.Second), Duration: time.Second, Usage: u}
		if err := s.FinishRun(ctx, id, end); err != nil {
			t.Fatal(err)
		}
		return id
	}
	u1 := store.Usage{CPUTime: 1500 * time.Millisecond, PeakMemory: 3 << 20, OutputBytes: 10, LogBytes: 20,
		HTTPSent: 30, HTTPReceived: 40, KVWritten: 50, FilesWritten: 60}
	u2 := store.Usage{CPUTime: time.Second, PeakMemory: 5 << 20, OutputBytes: 1, LogBytes: 2,
		HTTPSent: 3, HTTPReceived: 4, KVWritten: 5, FilesWritten: 6}
	old := finish("a", epoch, u1)
	recent := finish("a", epoch.Add(48*time.Hour), u2)
	finish("b", epoch.Add(48*time.Hour), u1)

	if got, err := m.RunUsage(ctx, old); err != nil || got != u1 {
		t.Fatalf("RunUsage = %+v, %v; want %+v", got, err, u1)
	}
	running := mustStart(t, s, manual("a", "t", epoch))
	if _, err := m.RunUsage(ctx, running); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RunUsage of a running run: %v; want ErrNotFound", err)
	}

	sum := store.AppUsage{Runs: 2, Usage: store.Usage{CPUTime: 2500 * time.Millisecond, PeakMemory: 5 << 20, OutputBytes: 11,
		LogBytes: 22, HTTPSent: 33, HTTPReceived: 44, KVWritten: 55, FilesWritten: 66}}
	totals, err := m.UsageTotals(ctx)
	if err != nil || totals["a"] != sum || totals["b"] != (store.AppUsage{Runs: 1, Usage: u1}) || len(totals) != 2 {
		t.Fatalf("UsageTotals = %+v, %v; want a: %+v", totals, err, sum)
	}
	since, err := m.UsageSince(ctx, epoch.Add(24*time.Hour))
	if err != nil || since["a"] != (store.AppUsage{Runs: 1, Usage: u2}) || len(since) != 2 {
		t.Fatalf("UsageSince = %+v, %v", since, err)
	}

	// Pruning deletes the old run's usage but not what the totals count.
	if _, err := ret.PruneRuns(ctx, "a", "t", 1, 0, epoch.Add(49*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RunUsage(ctx, old); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("usage of a pruned run: %v; want ErrNotFound", err)
	}
	if _, err := m.RunUsage(ctx, recent); err != nil {
		t.Fatal(err)
	}
	if all, _ := m.UsageSince(ctx, time.Time{}); all["a"] != (store.AppUsage{Runs: 1, Usage: u2}) {
		t.Fatalf("retained usage after pruning: %+v", all["a"])
	}
	if totals, _ := m.UsageTotals(ctx); totals["a"] != sum {
		t.Fatalf("totals after pruning: %+v; want %+v", totals["a"], sum)
	}
}
