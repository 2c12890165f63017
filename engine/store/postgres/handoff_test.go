package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// handoffAt is the start time of the runs of the handoff tests.
var handoffAt = time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)

// registerNodes registers the nodes of a test on s.
func registerNodes(t *testing.T, s *Store, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := s.RegisterNode(t.Context(), store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

// startWaiting records a run of task a/t waiting on node, run by module.
func startWaiting(t *testing.T, s *Store, node, module string) int64 {
	t.Helper()
	id, err := s.StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: handoffAt,
		Node: node, Waiting: true, Module: module})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var moduleM = []store.TaskModule{{App: "a", Task: "t", Module: "m"}}

// TestClaimRunsEachOnce has three nodes take over the runs waiting on a
// fourth, while the fourth starts them: each run goes to one node,
// records it, and is taken or started once.
func TestClaimRunsEachOnce(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{MaxConns: 8})
	ctx := t.Context()
	registerNodes(t, s, "owner", "n1", "n2", "n3")
	const runs = 60
	ids := make([]int64, runs)
	for i := range ids {
		ids[i] = startWaiting(t, s, "owner", "m")
	}
	var (
		mu     sync.Mutex
		got    = map[int64][]string{} // run: the nodes that took or started it
		wg     sync.WaitGroup
		errs   = make(chan error, 8)
		record = func(id int64, node string) {
			mu.Lock()
			got[id] = append(got[id], node)
			mu.Unlock()
		}
	)
	for _, node := range []string{"n1", "n2", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				claimed, err := s.ClaimRuns(ctx, node, moduleM, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(claimed) == 0 {
					return
				}
				for _, r := range claimed {
					if r.Node != node || r.Status != store.StatusRunning {
						errs <- fmt.Errorf("%s took run %d as %s on %s", node, r.ID, r.Status, r.Node)
					}
					record(r.ID, node)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the owner starts them meanwhile, the last first
		defer wg.Done()
		for i := len(ids) - 1; i >= 0; i-- {
			began, err := s.BeginRun(ctx, ids[i], "owner", nil)
			switch {
			case errors.Is(err, store.ErrNotWaiting):
			case err != nil:
				errs <- err
				return
			case !began:
				errs <- fmt.Errorf("BeginRun of run %d without a slot did not start it", ids[i])
			default:
				record(ids[i], "owner")
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range ids {
		nodes := got[id]
		if len(nodes) != 1 {
			t.Errorf("run %d went to %v; want one node", id, nodes)
			continue
		}
		r, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Node != nodes[0] {
			t.Errorf("run %d records node %s; %s has it", id, r.Node, nodes[0])
		}
		// Started or taken over, it is its node's: no other node starts
		// or takes it.
		other := "owner"
		if r.Node == other {
			other = "n1"
		}
		if _, err := s.BeginRun(ctx, id, other, nil); !errors.Is(err, store.ErrNotWaiting) {
			t.Errorf("BeginRun of run %d of %s on %s = %v; want ErrNotWaiting", id, r.Node, other, err)
		}
		if began, err := s.BeginRun(ctx, id, r.Node, nil); err != nil || !began {
			t.Errorf("BeginRun of run %d on its node %s again = %v, %v; want it started", id, r.Node, began, err)
		}
	}
	if again, err := s.ClaimRuns(ctx, "n1", moduleM, runs); err != nil || len(again) != 0 {
		t.Errorf("ClaimRuns after every run went = %d runs, %v; want none", len(again), err)
	}
}

// TestClaimRunsTakesOnlyWhatItRuns: a node takes over the runs of other
// nodes that wait, of the tasks it runs with the same module; not its
// own, not those of another module, not those started at once.
func TestClaimRunsTakesOnlyWhatItRuns(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	registerNodes(t, s, "a", "b")
	startWaiting(t, s, "b", "m")                                // b's own
	startWaiting(t, s, "a", "other")                            // another version of the task
	if _, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", // started at once
		Trigger: store.TriggerManual, StartTime: handoffAt, Node: "a"}); err != nil {
		t.Fatal(err)
	}
	want := startWaiting(t, s, "a", "m")
	claimed, err := s.ClaimRuns(ctx, "b", moduleM, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].ID != want {
		t.Fatalf("ClaimRuns took %+v; want run %d only", claimed, want)
	}
	if _, err := s.BeginRun(ctx, want, "a", nil); !errors.Is(err, store.ErrNotWaiting) {
		t.Errorf("BeginRun on the node it was taken from = %v; want ErrNotWaiting", err)
	}
}

// TestHandoffFenced: a node whose lease is not live takes over nothing
// and starts nothing that waits.
func TestHandoffFenced(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	registerNodes(t, s, "a", "b")
	waiting := startWaiting(t, s, "a", "m")
	mine := startWaiting(t, s, "b", "m")
	n, err := s.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveNode(ctx, "b", n[1].Epoch); err != nil {
		t.Fatal(err)
	}
	if claimed, err := s.ClaimRuns(ctx, "b", moduleM, 10); err != nil || len(claimed) != 0 {
		t.Errorf("ClaimRuns of a node that left = %+v, %v; want nothing", claimed, err)
	}
	if _, err := s.BeginRun(ctx, mine, "b", nil); !errors.Is(err, store.ErrFenced) {
		t.Errorf("BeginRun of a node that left = %v; want ErrFenced", err)
	}
	if _, err := s.ClaimRuns(ctx, "never", moduleM, 10); !errors.Is(err, store.ErrFenced) {
		t.Errorf("ClaimRuns of a node never registered = %v; want ErrFenced", err)
	}
	if r, err := s.GetRun(ctx, waiting); err != nil || r.Node != "a" {
		t.Errorf("run %d = %+v, %v; want it waiting on a still", waiting, r, err)
	}
	if began, err := s.BeginRun(ctx, waiting, "a", nil); err != nil || !began {
		t.Errorf("BeginRun on a = %v, %v; want started", began, err)
	}
}

// TestBeginRunTakesASlot: a run that waited starts with a slot of its
// app, and waits on while the app's quotas are full.
func TestBeginRunTakesASlot(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	registerNodes(t, s, "a")
	one := store.Slot{Concurrency: 1, Memory: 1, MemoryQuota: 100}
	first, second := startWaiting(t, s, "a", "m"), startWaiting(t, s, "a", "m")
	slot := one
	if began, err := s.BeginRun(ctx, first, "a", &slot); err != nil || !began || !slot.Taken {
		t.Fatalf("BeginRun = %v, %v (slot %+v); want started with the slot", began, err, slot)
	}
	slot = one
	if began, err := s.BeginRun(ctx, second, "a", &slot); err != nil || began || slot.Taken {
		t.Fatalf("BeginRun under a full quota = %v, %v (slot %+v); want waiting", began, err, slot)
	}
	if err := s.FinishRun(ctx, first, store.RunEnd{Status: store.StatusSucceeded, EndTime: handoffAt}); err != nil {
		t.Fatal(err)
	}
	slot = one
	if began, err := s.BeginRun(ctx, second, "a", &slot); err != nil || !began {
		t.Fatalf("BeginRun once the slot is given back = %v, %v; want started", began, err)
	}
}

// TestWatchWaiting: a run recorded waiting wakes the watchers, and so do
// the runs a node takes over, by notification.
func TestWatchWaiting(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{WatchPoll: time.Hour})
	registerNodes(t, s, "a", "b")
	woken := make(chan string, 8)
	taken := make(chan []int64, 8)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.WatchWaiting(ctx, func(app string) { woken <- app }, func(ids []int64) { taken <- ids })
	}()
	if app := <-woken; app != "" {
		t.Fatalf("first wake = %q; want \"\" after LISTEN", app)
	}
	first, second := startWaiting(t, s, "a", "m"), startWaiting(t, s, "a", "m")
	for range 2 {
		select {
		case app := <-woken:
			if app != "a" {
				t.Errorf("woken for app %q; want a", app)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no wake for a run recorded waiting")
		}
	}
	if _, err := s.ClaimRuns(t.Context(), "b", moduleM, 2); err != nil {
		t.Fatal(err)
	}
	select {
	case ids := <-taken:
		slices.Sort(ids)
		if !slices.Equal(ids, []int64{first, second}) {
			t.Errorf("taken %v; want %d and %d", ids, first, second)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no wake for the runs taken over")
	}
	stop()
	<-done
}

// TestClaimedRunSweptWithItsNode: a run taken over is its new node's, and
// a sweep of that node ends it, not a sweep of the node it waited on.
func TestClaimedRunSweptWithItsNode(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	registerNodes(t, s, "a", "b")
	id := startWaiting(t, s, "a", "m")
	if claimed, err := s.ClaimRuns(ctx, "b", moduleM, 1); err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimRuns = %+v, %v; want run %d", claimed, err, id)
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := s.LeaveNode(ctx, n.Name, n.Epoch); err != nil {
			t.Fatal(err)
		}
	}
	if runs, err := s.InterruptNodeRuns(ctx, "a"); err != nil || len(runs) != 0 {
		t.Errorf("InterruptNodeRuns of a = %+v, %v; want none: a gave its run away", runs, err)
	}
	swept, err := s.SweepNodes(ctx, 0)
	if err != nil || len(swept) != 1 || swept[0].ID != id || swept[0].Node != "b" {
		t.Errorf("SweepNodes = %+v, %v; want run %d of b, interrupted", swept, err, id)
	}
}
