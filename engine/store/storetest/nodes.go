package storetest

import (
	"errors"
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
	s := open(t)
	for _, node := range []string{"n1", "n2"} {
		mustRegister(t, s, node, longLease)
	}
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
