package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestReplaceRequestsCancels starts a run of a task with Replace on one
// node while another node runs one: the start asks for the cancel of the
// other, and the other node hears of it.
func TestReplaceRequestsCancels(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{WatchPoll: time.Hour})
	ctx := t.Context()
	for _, name := range []string{"n1", "n2"} {
		if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	start := func(node, task string, replace bool) int64 {
		id, err := s.StartRun(ctx, store.Run{App: "a", Task: task, Trigger: store.TriggerManual, StartTime: at, Node: node,
			Replace: replace, Slot: &store.Slot{Concurrency: 4, Memory: 1, MemoryQuota: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := start("n1", "t", true)
	start("n1", "u", false)        // another task
	mine := start("n2", "t", true) // n2's own runs are its engine's to replace

	asked := make(chan int64, 8)
	watch, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- s.WatchCancels(watch, func(_ context.Context, id int64) bool {
			asked <- id
			return true
		})
	}()
	waitCancel(t, asked, old)
	// A later start wakes the watch, by notification (its poll is an
	// hour), and asks for the cancel of the run n2 holds, not n1's own.
	start("n1", "t", true)
	waitCancel(t, asked, mine)
	stop()
	<-done
}
