package store

import (
	"errors"
	"testing"
	"time"
)

// A run's usage is stored with it, summed per app over a period and in
// totals that pruning does not lower.
func TestUsage(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	finish := func(app string, start time.Time, u Usage) int64 {
		t.Helper()
		id := mustStart(t, s, manual(app, "t", start))
		end := RunEnd{Status: StatusSucceeded, EndTime: start.Add(time.Second), Duration: time.Second, Usage: u}
		if err := s.FinishRun(ctx, id, end); err != nil {
			t.Fatal(err)
		}
		return id
	}
	u1 := Usage{CPUTime: 1500 * time.Millisecond, PeakMemory: 3 << 20, OutputBytes: 10, LogBytes: 20,
		HTTPSent: 30, HTTPReceived: 40, KVWritten: 50, FilesWritten: 60}
	u2 := Usage{CPUTime: time.Second, PeakMemory: 5 << 20, OutputBytes: 1, LogBytes: 2,
		HTTPSent: 3, HTTPReceived: 4, KVWritten: 5, FilesWritten: 6}
	old := finish("a", epoch, u1)
	recent := finish("a", epoch.Add(48*time.Hour), u2)
	finish("b", epoch.Add(48*time.Hour), u1)

	if got, err := s.RunUsage(ctx, old); err != nil || got != u1 {
		t.Fatalf("RunUsage = %+v, %v; want %+v", got, err, u1)
	}
	running := mustStart(t, s, manual("a", "t", epoch))
	if _, err := s.RunUsage(ctx, running); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RunUsage of a running run: %v; want ErrNotFound", err)
	}

	sum := AppUsage{Runs: 2, Usage: Usage{CPUTime: 2500 * time.Millisecond, PeakMemory: 5 << 20, OutputBytes: 11,
		LogBytes: 22, HTTPSent: 33, HTTPReceived: 44, KVWritten: 55, FilesWritten: 66}}
	totals, err := s.UsageTotals(ctx)
	if err != nil || totals["a"] != sum || totals["b"] != (AppUsage{Runs: 1, Usage: u1}) || len(totals) != 2 {
		t.Fatalf("UsageTotals = %+v, %v; want a: %+v", totals, err, sum)
	}
	since, err := s.UsageSince(ctx, epoch.Add(24*time.Hour))
	if err != nil || since["a"] != (AppUsage{Runs: 1, Usage: u2}) || len(since) != 2 {
		t.Fatalf("UsageSince = %+v, %v", since, err)
	}

	// Pruning deletes the old run's usage but not what the totals count.
	if _, err := s.PruneRuns(ctx, "a", "t", 1, 0, epoch.Add(49*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunUsage(ctx, old); !errors.Is(err, ErrNotFound) {
		t.Fatalf("usage of a pruned run: %v; want ErrNotFound", err)
	}
	if _, err := s.RunUsage(ctx, recent); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.UsageSince(ctx, time.Time{}); all["a"] != (AppUsage{Runs: 1, Usage: u2}) {
		t.Fatalf("retained usage after pruning: %+v", all["a"])
	}
	if totals, _ := s.UsageTotals(ctx); totals["a"] != sum {
		t.Fatalf("totals after pruning: %+v; want %+v", totals["a"], sum)
	}
}
