package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// NodesStore is a store shared by the nodes of a cluster: the registry
// and the runs it fences.
type NodesStore interface {
	store.Nodes
	store.Runs
	store.Slots
}

// Nodes checks an implementation of store.Nodes, with the fencing and
// overlap rules it adds to store.Runs. Leases run on the store's clock,
// so the suite waits (briefly) for short leases to end.
func Nodes(t *testing.T, open func(t *testing.T) NodesStore) {
	t.Run("Register", func(t *testing.T) { nodesRegister(t, open) })
	t.Run("Fencing", func(t *testing.T) { nodesFencing(t, open) })
	t.Run("NoOverlap", func(t *testing.T) { nodesNoOverlap(t, open) })
	t.Run("Sweep", func(t *testing.T) { nodesSweep(t, open) })
	t.Run("Leave", func(t *testing.T) { nodesLeave(t, open) })
	t.Run("Slots", func(t *testing.T) { nodesSlots(t, open) })
	t.Run("SlotsRace", func(t *testing.T) { nodesSlotsRace(t, open) })
	t.Run("SlotsOfLostNodes", func(t *testing.T) { nodesSlotsOfLostNodes(t, open) })
	t.Run("SlotsReplace", func(t *testing.T) { nodesSlotsReplace(t, open) })
	t.Run("RetryOnce", func(t *testing.T) { nodesRetryOnce(t, open) })
}

const (
	longLease  = time.Minute
	shortLease = time.Second
)

// waitState waits until node name is in state want.
func waitState(t *testing.T, s store.Nodes, name string, want store.NodeState) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		nodes, err := s.ListNodes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == name && n.State == want {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("node %s not %s: %+v", name, want, nodes)
		}
	}
}

func mustRegister(t *testing.T, s store.Nodes, name string, ttl time.Duration) store.Node {
	t.Helper()
	n, err := s.RegisterNode(t.Context(), store.NodeStatus{Name: name, Addr: "127.0.0.1:1", Version: "v1", Capacity: 8,
		Apps: map[string]string{"a": "1"}}, ttl)
	if err != nil {
		t.Fatalf("RegisterNode(%s): %v", name, err)
	}
	return n
}

// openNodes opens a store and registers the nodes with long leases.
func openNodes(t *testing.T, open func(*testing.T) NodesStore, nodes ...string) NodesStore {
	s := open(t)
	for _, node := range nodes {
		mustRegister(t, s, node, longLease)
	}
	return s
}

func onNode(r store.Run, node string) store.Run {
	r.Node = node
	return r
}

func nodesRegister(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	n := mustRegister(t, s, "n1", longLease)
	if n.Epoch != 1 || n.State != store.NodeAlive || n.Capacity != 8 || n.Apps["a"] != "1" || !n.LeaseUntil.After(n.HeartbeatAt) {
		t.Errorf("RegisterNode = %+v", n)
	}
	_, err := s.RegisterNode(t.Context(), store.NodeStatus{Name: "n1"}, longLease)
	if !errors.Is(err, store.ErrNodeRunning) || !strings.Contains(err.Error(), "node n1 is already running (last heartbeat") {
		t.Errorf("second RegisterNode(n1) = %v; want ErrNodeRunning naming the last heartbeat", err)
	}
	if _, err := s.RegisterNode(t.Context(), store.NodeStatus{}, longLease); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RegisterNode without a name = %v; want ErrInvalid", err)
	}
	mustRegister(t, s, "n2", longLease)
	nodes, err := s.RenewLease(t.Context(), "n1", 1, longLease, store.NodeStatus{Running: 3, Capacity: 8})
	if err != nil || len(nodes) != 2 || nodes[0].Name != "n1" || nodes[0].Running != 3 || nodes[1].Name != "n2" {
		t.Fatalf("RenewLease = %+v, %v; want n1 (running 3) and n2", nodes, err)
	}
	if _, err := s.RenewLease(t.Context(), "n1", 2, longLease, store.NodeStatus{}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("RenewLease of a wrong epoch = %v; want ErrFenced", err)
	}
	// The run counters a node reports reach every node's list.
	runs := []store.RunCount{{App: "a", Task: "t", Status: store.StatusFailed, N: 3}, {App: "a", Task: "t", Status: store.StatusSucceeded, N: 40}}
	if _, err := s.RenewLease(t.Context(), "n1", 1, longLease, store.NodeStatus{Runs: runs}); err != nil {
		t.Fatal(err)
	}
	nodes, err = s.ListNodes(t.Context())
	if err != nil || len(nodes) != 2 || !slices.Equal(nodes[0].Runs, runs) || len(nodes[1].Runs) != 0 {
		t.Errorf("ListNodes after a renewal with run counts = %+v, %v; want n1's counts %+v", nodes, err, runs)
	}
}

func nodesFencing(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	n := mustRegister(t, s, "n1", shortLease)
	first := mustStart(t, s, onNode(manual("a", "t", epoch), "n1"))
	waitState(t, s, "n1", store.NodeSuspect)
	if _, err := s.StartRun(t.Context(), onNode(scheduled("a", "t", epoch), "n1")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("StartRun past the lease = %v; want ErrFenced", err)
	}
	skipped := onNode(scheduled("a", "t", epoch), "n1")
	skipped.Reason = "busy"
	if _, err := s.RecordSkipped(t.Context(), skipped); !errors.Is(err, store.ErrFenced) {
		t.Errorf("RecordSkipped past the lease = %v; want ErrFenced", err)
	}
	if _, err := s.RenewLease(t.Context(), "n1", n.Epoch, longLease, store.NodeStatus{}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("RenewLease past the lease = %v; want ErrFenced", err)
	}
	// The fire time the fenced node could not record is free for another.
	mustStart(t, s, scheduled("a", "t", epoch))

	again := mustRegister(t, s, "n1", longLease)
	if again.Epoch != n.Epoch+1 {
		t.Errorf("epoch after registering again = %d; want %d", again.Epoch, n.Epoch+1)
	}
	runs, err := s.InterruptNodeRuns(t.Context(), "n1")
	if err != nil || len(runs) != 1 || runs[0].ID != first || runs[0].Status != store.StatusInterrupted || runs[0].Node != "n1" {
		t.Fatalf("InterruptNodeRuns = %+v, %v; want run %d interrupted", runs, err, first)
	}
	mustStart(t, s, onNode(manual("a", "t", epoch), "n1"))
}

func nodesNoOverlap(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := openNodes(t, open, "n1", "n2")
	solo := func(node string, at time.Time) store.Run {
		r := onNode(scheduled("a", "t", at), node)
		r.NoOverlap = true
		return r
	}
	id := mustStart(t, s, solo("n1", epoch))
	if _, err := s.StartRun(t.Context(), solo("n2", epoch.Add(time.Minute))); !errors.Is(err, store.ErrOverlap) {
		t.Errorf("StartRun of a second NoOverlap run = %v; want ErrOverlap", err)
	}
	mustStart(t, s, onNode(scheduled("a", "t", epoch.Add(2*time.Minute)), "n2")) // not NoOverlap
	other := solo("n2", epoch.Add(3*time.Minute))
	other.Task = "u"
	mustStart(t, s, other)
	mustFinish(t, s, id, store.StatusSucceeded, epoch)
	mustStart(t, s, solo("n2", epoch.Add(time.Minute)))
}

func nodesSweep(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	mustRegister(t, s, "live", longLease)
	mustRegister(t, s, "lost", shortLease)
	keep := mustStart(t, s, onNode(manual("a", "t", epoch), "live"))
	const n = 5
	want := map[int64]bool{}
	for i := range n {
		want[mustStart(t, s, onNode(manual("a", "t", epoch.Add(time.Duration(i)*time.Second)), "lost"))] = true
	}
	waitState(t, s, "lost", store.NodeSuspect)

	// Sweepers race: each run is ended, and returned, once.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[int64]int{}
	)
	for range 4 {
		wg.Go(func() {
			runs, err := s.SweepNodes(t.Context(), 0)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range runs {
				got[r.ID]++
				if r.Status != store.StatusInterrupted || !strings.Contains(r.Error, "node lost was lost") {
					t.Errorf("swept run = %+v", r)
				}
			}
		})
	}
	wg.Wait()
	for id := range want {
		if got[id] != 1 {
			t.Errorf("run %d returned by %d sweeps; want 1", id, got[id])
		}
	}
	if len(got) != n {
		t.Errorf("sweeps returned %d runs; want %d", len(got), n)
	}
	waitState(t, s, "lost", store.NodeDead)
	if r, err := s.GetRun(t.Context(), keep); err != nil || r.Status != store.StatusRunning {
		t.Errorf("run of the live node = %+v, %v; want running", r, err)
	}
	if runs, err := s.SweepNodes(t.Context(), 0); err != nil || len(runs) != 0 {
		t.Errorf("second sweep = %+v, %v; want nothing", runs, err)
	}
}

func nodesLeave(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	n := mustRegister(t, s, "n1", longLease)
	id := mustStart(t, s, onNode(manual("a", "t", epoch), "n1"))
	if err := s.LeaveNode(t.Context(), "n1", n.Epoch); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "n1", store.NodeSuspect)
	if _, err := s.StartRun(t.Context(), onNode(manual("a", "t", epoch), "n1")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("StartRun after leaving = %v; want ErrFenced", err)
	}
	runs, err := s.SweepNodes(t.Context(), time.Hour)
	if err != nil || len(runs) != 1 || runs[0].ID != id {
		t.Errorf("SweepNodes after leaving = %+v, %v; want run %d", runs, err, id)
	}
	waitState(t, s, "n1", store.NodeDead)
	mustRegister(t, s, "n1", longLease)
}

// startSlot starts r on node, asking for a slot of its app's quotas of
// concurrency and memory, and returns its ID and whether it got one.
func startSlot(t *testing.T, s store.Runs, r store.Run, node string, slot store.Slot) (int64, bool) {
	t.Helper()
	r.Node, r.Slot = node, &slot
	return mustStart(t, s, r), slot.Taken
}

func mustTake(t *testing.T, s store.Slots, id int64, slot store.Slot, want bool) {
	t.Helper()
	got, err := s.TakeSlot(t.Context(), id, slot)
	if err != nil || got != want {
		t.Fatalf("TakeSlot(%d, %+v) = %v, %v; want %v", id, slot, got, err, want)
	}
}

func nodesSlots(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := openNodes(t, open, "n1", "n2")
	two := store.Slot{Concurrency: 2, Memory: 10, MemoryQuota: 1000}
	first, ok1 := startSlot(t, s, manual("a", "t", epoch), "n1", two)
	second, ok2 := startSlot(t, s, manual("a", "u", epoch), "n2", two)
	third, ok3 := startSlot(t, s, manual("a", "t", epoch), "n2", two)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("slots taken by three starts with a quota of 2 = %v, %v, %v; want the first two", ok1, ok2, ok3)
	}
	if _, ok := startSlot(t, s, manual("b", "t", epoch), "n1", two); !ok {
		t.Error("another app's run got no slot")
	}
	mustTake(t, s, third, two, false)
	mustFinish(t, s, first, store.StatusSucceeded, epoch)
	mustTake(t, s, third, two, true)
	mustTake(t, s, third, two, true) // held already: not taken twice
	fourth, _ := startSlot(t, s, manual("a", "t", epoch), "n1", two)
	mustTake(t, s, fourth, two, false)
	mustTake(t, s, first, two, false) // ended

	// Memory: 600 + 600 passes 1000, unless alone; 600 + 400 does not.
	mem := func(m int64) store.Slot { return store.Slot{Concurrency: 10, Memory: m, MemoryQuota: 1000} }
	big, okBig := startSlot(t, s, manual("m", "t", epoch), "n1", mem(600))
	big2, okBig2 := startSlot(t, s, manual("m", "t", epoch), "n2", mem(600))
	if !okBig || okBig2 {
		t.Fatalf("slots of two runs of 600 under a memory quota of 1000 = %v, %v; want the first only", okBig, okBig2)
	}
	small, okSmall := startSlot(t, s, manual("m", "u", epoch), "n2", mem(400))
	if !okSmall {
		t.Error("a run of 400 beside one of 600 got no slot under a memory quota of 1000")
	}
	mustFinish(t, s, big, store.StatusFailed, epoch)
	mustTake(t, s, big2, mem(600), true)
	mustFinish(t, s, small, store.StatusCancelled, epoch)
	mustFinish(t, s, big2, store.StatusSucceeded, epoch)
	huge, okHuge := startSlot(t, s, manual("m", "t", epoch), "n1", mem(5000))
	if !okHuge {
		t.Error("a run past the memory quota, alone, got no slot")
	}
	mustFinish(t, s, huge, store.StatusSucceeded, epoch)

	// A start without Slot takes none, nor does a skipped run.
	plain := mustStart(t, s, onNode(manual("a", "t", epoch), "n1"))
	mustFinish(t, s, second, store.StatusSucceeded, epoch)
	mustTake(t, s, plain, two, true)
	mustTake(t, s, fourth, two, false)
}

// nodesSlotsRace takes the slots of an app from many runs at once: the
// quota holds.
func nodesSlotsRace(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	mustRegister(t, s, "n1", longLease)
	slot := store.Slot{Concurrency: 3, Memory: 1, MemoryQuota: 100}
	const n = 12
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = mustStart(t, s, onNode(manual("a", "t", epoch), "n1"))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken int
	)
	for _, id := range ids {
		wg.Go(func() {
			ok, err := s.TakeSlot(t.Context(), id, slot)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken != slot.Concurrency {
		t.Errorf("%d runs took a slot at once; want %d", taken, slot.Concurrency)
	}
}

// nodesSlotsOfLostNodes checks that the runs ended by the takeover of a
// lost node, and by a node's new incarnation, give their slots back, and
// that WatchSlots hears of it.
func nodesSlotsOfLostNodes(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	mustRegister(t, s, "live", longLease)
	mustRegister(t, s, "lost", shortLease)
	one := store.Slot{Concurrency: 1, Memory: 1, MemoryQuota: 100}
	if _, ok := startSlot(t, s, manual("a", "t", epoch), "lost", one); !ok {
		t.Fatal("no slot for the first run")
	}
	waiting, _ := startSlot(t, s, manual("a", "t", epoch), "live", one)
	mustTake(t, s, waiting, one, false)

	woken := make(chan string, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	watched := make(chan error, 1)
	go func() { watched <- s.WatchSlots(ctx, func(app string) { woken <- app }) }()
	waitWake(t, woken, "") // listening

	waitState(t, s, "lost", store.NodeSuspect)
	if runs, err := s.SweepNodes(t.Context(), 0); err != nil || len(runs) != 1 {
		t.Fatalf("SweepNodes = %+v, %v; want the lost node's run", runs, err)
	}
	waitWake(t, woken, "a")
	mustTake(t, s, waiting, one, true)

	// A node that registers again gives back the slots of its runs
	// before.
	if _, err := s.InterruptNodeRuns(t.Context(), "live"); err != nil {
		t.Fatal(err)
	}
	next, _ := startSlot(t, s, manual("a", "t", epoch), "live", one)
	mustTake(t, s, next, one, true)
	cancel()
	if err := <-watched; !errors.Is(err, context.Canceled) {
		t.Errorf("WatchSlots = %v; want context.Canceled", err)
	}
}

// waitWake waits for app among the apps woken.
func waitWake(t *testing.T, woken <-chan string, app string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-woken:
			if got == app {
				return
			}
		case <-deadline:
			t.Fatalf("WatchSlots never woke for %q", app)
		}
	}
}

// nodesSlotsReplace checks that of the runs of a task with Replace, one
// holds a slot at a time over the nodes.
func nodesSlotsReplace(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := openNodes(t, open, "n1", "n2")
	four := store.Slot{Concurrency: 4, Memory: 1, MemoryQuota: 100}
	replace := manual("a", "t", epoch)
	replace.Replace = true
	first, ok1 := startSlot(t, s, replace, "n1", four)
	second, ok2 := startSlot(t, s, replace, "n2", four)
	if !ok1 || ok2 {
		t.Fatalf("slots of two runs of a task with Replace = %v, %v; want the first only", ok1, ok2)
	}
	mustTake(t, s, second, four, false)
	if _, ok := startSlot(t, s, manual("a", "u", epoch), "n2", four); !ok {
		t.Error("a run of another task got no slot")
	}
	mustFinish(t, s, first, store.StatusCancelled, epoch)
	mustTake(t, s, second, four, true)
	third, ok3 := startSlot(t, s, replace, "n1", four)
	if ok3 {
		t.Error("a third run of a task with Replace took a slot beside the second")
	}
	mustFinish(t, s, second, store.StatusCancelled, epoch)
	mustTake(t, s, third, four, true)
}

// nodesRetryOnce checks RetryOf through the inserts of a registered node.
func nodesRetryOnce(t *testing.T, open func(*testing.T) NodesStore) {
	t.Parallel()
	s := open(t)
	mustRegister(t, s, "n1", longLease)
	checkRetryOnce(t, s, onNode(manual("a", "t", epoch), "n1"))
}
