package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// watch runs f in a goroutine until the test ends.
func watch(t *testing.T, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("watch ended with %v, want context.Canceled", err)
		}
	})
}

// TestWatchEvents: a node that watches is woken once it listens, then
// with the ID of each event another node appends, without polling (the
// poll is an hour).
func TestWatchEvents(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := openTest(t, url, Options{WatchPoll: time.Hour})
	b := openTest(t, url, Options{WatchPoll: time.Hour})
	woken := make(chan int64, 16)
	watch(t, func(ctx context.Context) error { return a.WatchEvents(ctx, func(id int64) { woken <- id }) })
	next := func() int64 {
		t.Helper()
		select {
		case id := <-woken:
			return id
		case <-time.After(10 * time.Second):
			t.Fatal("not woken")
			return 0
		}
	}
	if id := next(); id != 0 {
		t.Fatalf("first wake-up %d, want 0 (read after listening)", id)
	}
	for range 2 {
		id, err := b.AppendEvent(t.Context(), store.Event{Type: "task.changed", App: "a", Task: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if got := next(); got != id {
			t.Fatalf("woken with %d, want the appended event's %d", got, id)
		}
	}
}

// TestWatchCancels: a cancel requested on one node reaches the node that
// runs the run, which cancels it, and the request is then gone; a
// request of a run that has ended is dropped without a call, and one of a
// run the node does not run is left.
func TestWatchCancels(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := openTest(t, url, Options{WatchPoll: time.Hour})
	b := openTest(t, url, Options{WatchPoll: time.Hour})
	ctx := t.Context()
	now := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	mine, err := a.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: now})
	if err != nil {
		t.Fatal(err)
	}
	ended, err := a.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RequestCancel(ctx, ended); err != nil {
		t.Fatal(err)
	}
	if err := a.FinishRun(ctx, ended, store.RunEnd{Status: store.StatusSucceeded, EndTime: now}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls []int64
	cancelled := make(chan int64, 4)
	watch(t, func(ctx context.Context) error {
		return a.WatchCancels(ctx, func(_ context.Context, id int64) bool {
			mu.Lock()
			calls = append(calls, id)
			mu.Unlock()
			cancelled <- id
			return id == mine
		})
	})
	// request asks b to cancel run, and waits for the watcher's call.
	request := func(run int64) {
		t.Helper()
		if err := b.RequestCancel(ctx, run); err != nil {
			t.Fatal(err)
		}
		waitCancel(t, cancelled, run)
	}
	request(mine)
	// The request is deleted once cancelled, before the watcher calls
	// cancel again: the request of a run another node runs, made now,
	// reaches it after that, and is left for that node.
	other, err := a.StartRun(ctx, store.Run{App: "a", Task: "other", Trigger: store.TriggerManual, StartTime: now})
	if err != nil {
		t.Fatal(err)
	}
	request(other)
	var left []int64
	rows, err := a.pool.Query(ctx, `SELECT run_id FROM run_cancels ORDER BY run_id`)
	if err == nil {
		left, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []int64{other}) {
		t.Errorf("cancel requests left %v, want only %d's", left, other)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range calls {
		if id == ended {
			t.Errorf("the cancel of ended run %d was passed on", ended)
		}
	}
}

// waitCancel waits for the next call of a WatchCancels callback, sent on
// asked, and checks that it is for run want.
func waitCancel(t *testing.T, asked <-chan int64, want int64) {
	t.Helper()
	select {
	case id := <-asked:
		if id != want {
			t.Fatalf("cancel asked for run %d; want %d", id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no cancel asked for run %d", want)
	}
}
