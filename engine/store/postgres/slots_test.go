package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
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

// TestSlotLockOrder: two nodes start and end runs of two apps at once
// through their group writers, each group mixing the apps' writes in the
// order they came, while nodes that hold runs of both apps are lost and
// swept: the database meets no deadlock. The runs take their slots with
// their start (StartRun) or, having waited, with BeginRun, and give them
// back with EndRun or FinishRun: every write that locks a slot names its
// app. The writer sends a write
// that met one again, which hides a deadlock from its caller, so they
// are counted where the database counts them, in
// pg_stat_database.deadlocks, once every node's connections are closed
// (a backend reports its counts when it exits).
func TestSlotLockOrder(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	admin := openTest(t, url, Options{MaxConns: 1})
	deadlocks := func() int64 {
		t.Helper()
		var n int64
		if err := admin.pool.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	apps := []string{"a", "b"}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	slot := func() *store.Slot { return &store.Slot{Concurrency: 1 << 20, Memory: 1, MemoryQuota: 1 << 40} }

	// lose makes a node that holds runs of both apps, b's first, so that
	// ending them in the order of their rows would lock b's slot before
	// a's, and makes it leave: the next sweep ends its runs.
	lost := openTest(t, url, Options{MaxConns: 2})
	lose := func(k int) error {
		name := fmt.Sprintf("lost%d", k)
		n, err := lost.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute)
		if err != nil {
			return err
		}
		for i := range 16 {
			if _, err := lost.StartRun(ctx, store.Run{App: apps[(i+1)%2], Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: name, Slot: slot()}); err != nil {
				return err
			}
		}
		return lost.LeaveNode(ctx, name, n.Epoch)
	}

	// cycle starts a run of app on node and ends it, in one of three
	// ways: way 0 takes the slot with the start and gives it back with
	// EndRun, way 1 with FinishRun; way 2 records the run waiting, takes
	// the slot with BeginRun and gives it back with FinishRun.
	cycle := func(s *Store, node, app string, way int) error {
		r := store.Run{App: app, Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: node, Slot: slot()}
		if way == 2 {
			r.Slot, r.Waiting, r.Module = nil, true, "m"
		}
		id, err := s.StartRun(ctx, r)
		if err != nil {
			return err
		}
		if way == 2 {
			sl := slot()
			sl.App = app
			began, err := s.BeginRun(ctx, id, node, sl)
			if err != nil {
				return err
			}
			if !began || !sl.Taken {
				return fmt.Errorf("BeginRun(%d) = %v, slot taken %v; want the run started with its slot", id, began, sl.Taken)
			}
		}
		end := store.RunEnd{App: app, Status: store.StatusSucceeded, EndTime: at.Add(time.Second), Duration: time.Second}
		if way == 0 {
			end.App = ""
			_, err = s.EndRun(ctx, id, end, store.AfterEnd{App: app, Task: "t"})
			return err
		}
		return s.FinishRun(ctx, id, end)
	}

	var wg sync.WaitGroup
	var failed atomic.Value
	for _, name := range []string{"n1", "n2"} {
		s, err := Open(ctx, url, Options{MaxConns: 8, Writers: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
		var nodeWG sync.WaitGroup
		for w := range 16 {
			nodeWG.Add(1)
			go func() {
				defer nodeWG.Done()
				for i := range 40 {
					if err := cycle(s, name, apps[(w+i)%2], i%3); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		if name == "n1" {
			nodeWG.Add(1)
			go func() {
				defer nodeWG.Done()
				for k := range 16 {
					err := lose(k)
					if err == nil {
						_, err = s.SweepNodes(ctx, 0)
					}
					if err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodeWG.Wait()
			s.Close()
		}()
	}
	wg.Wait()
	lost.Close()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	// Every node's backend has exited, and so reported its counts.
	testenv.WaitFor(t, "the nodes' connections to close", func() bool {
		var n int
		if err := admin.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if _, err := admin.pool.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	if n := deadlocks() - before; n != 0 {
		t.Errorf("the database met %d deadlocks", n)
	}
	var running, memory int64
	if err := admin.pool.QueryRow(ctx, `SELECT coalesce(sum(running), 0), coalesce(sum(memory), 0) FROM app_slots`).Scan(&running, &memory); err != nil || running != 0 || memory != 0 {
		t.Errorf("app_slots hold %d runs, %d bytes, %v; want none", running, memory, err)
	}
}
