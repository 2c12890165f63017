package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// executingIDs returns the runs the node executes, and how many it has
// queued.
func (n *clusterNode) executingIDs() (ids []int64, queued int) {
	e := n.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range e.runs {
		ids = append(ids, id)
	}
	for _, as := range e.apps {
		queued += len(as.queue)
	}
	slices.Sort(ids)
	return ids, queued
}

// waitRuns waits until the nodes a and b execute the runs onA and onB,
// and a has queuedOnA queued.
func waitRuns(t *testing.T, what string, a, b *clusterNode, onA, onB []int64, queuedOnA int) {
	t.Helper()
	testenv.WaitFor(t, what, func() bool {
		ra, qa := a.executingIDs()
		rb, _ := b.executingIDs()
		for _, id := range ra {
			if slices.Contains(rb, id) {
				t.Fatalf("run %d executes on a and on b", id)
			}
		}
		return slices.Equal(ra, onA) && slices.Equal(rb, onB) && qa == queuedOnA
	})
}

// TestClusterHandoff runs a long run on node a, which has room for one,
// and asks a for five more: b, with room for three, takes three over and
// executes them, recorded as b's, and a drops them and never starts
// them; when a has room again it starts the fourth; when b has room again
// it takes the fifth over. No run starts twice.
func TestClusterHandoff(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("allow")
	app.quota = 8
	cl := Cluster{HeartbeatInterval: time.Second, LeaseTTL: time.Minute}
	a := newClusterNodeWith(t, url, "a", NewFakeClock(t0), cl, func(c *Config) { c.MaxConcurrent = 1 }, app)
	b := newClusterNodeWith(t, url, "b", NewFakeClock(t0), cl, func(c *Config) { c.MaxConcurrent = 3 }, app)
	eventsA, stopA := a.engine.Subscribe()
	defer stopA()
	eventsB, stopB := b.engine.Subscribe()
	defer stopB()
	first := a.triggerSpin(t)
	waitRuns(t, "a to execute its first run", a, b, []int64{first}, nil, 0)
	var ids []int64
	for range 5 {
		ids = append(ids, a.triggerSpin(t))
	}
	// b takes over the oldest three, and a drops them from its queue.
	waitRuns(t, "b to take over three runs", a, b, []int64{first}, ids[:3], 2)
	for i, id := range ids {
		node := "b"
		if i >= 3 {
			node = "a"
		}
		if r, err := a.store.GetRun(t.Context(), id); err != nil || r.Node != node || r.Status != store.StatusRunning {
			t.Fatalf("run %d = %+v, %v; want it running, of node %s", id, r, err, node)
		}
	}
	if err := a.engine.Cancel(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	waitRuns(t, "a to start its fourth run", a, b, ids[3:4], ids[:3], 1)
	if err := b.engine.Cancel(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	waitRuns(t, "b to take the fifth run over", a, b, ids[3:4], []int64{ids[1], ids[2], ids[4]}, 0)
	for _, id := range append([]int64{first}, ids...) {
		a.engine.Cancel(t.Context(), id)
		b.engine.Cancel(t.Context(), id)
	}
	a.idle(t)
	b.idle(t)
	started := map[int64]string{}
	drain := func(node string, ch <-chan Event) {
		for {
			select {
			case ev := <-ch:
				if ev.Type != EventRunStarted {
					continue
				}
				if prev, ok := started[ev.RunID]; ok {
					t.Errorf("run %d started on %s and on %s", ev.RunID, prev, node)
				}
				started[ev.RunID] = node
			default:
				return
			}
		}
	}
	drain("a", eventsA)
	drain("b", eventsB)
	want := map[int64]string{first: "a", ids[0]: "b", ids[1]: "b", ids[2]: "b", ids[3]: "a", ids[4]: "b"}
	for id, node := range want {
		if started[id] != node {
			t.Errorf("run %d started on %q; want %s", id, started[id], node)
		}
		r, err := a.store.GetRun(t.Context(), id)
		if err != nil || r.Node != node || r.Status != store.StatusCancelled {
			t.Errorf("run %d = %+v, %v; want it cancelled, of node %s", id, r, err, node)
		}
	}
	if len(started) != len(want) {
		t.Errorf("runs started: %v; want %v", started, want)
	}
}

// TestClusterHandoffRefused: a node takes over none of the runs that
// wait on another node when it lost its lease, though the database still
// counts it live, or when it runs their task with another module.
func TestClusterHandoffRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		module []byte // b's module of the task
		fence  bool
	}{{"fenced", wasmtest.Spin(), true}, {"other module", wasmtest.Hello(), false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			app := spinApp("allow")
			app.quota = 8
			cl := Cluster{HeartbeatInterval: time.Second, LeaseTTL: time.Minute}
			a := newClusterNodeWith(t, url, "a", NewFakeClock(t0), cl, func(c *Config) { c.MaxConcurrent = 1 }, app)
			clockB := NewFakeClock(t0)
			app.modules = map[string][]byte{"spin": tc.module}
			b := newClusterNodeWith(t, url, "b", clockB, cl, func(c *Config) { c.MaxConcurrent = 3 }, app)
			if tc.fence {
				b.nodes.cut.Store(true)
				clockB.Advance(cl.LeaseTTL)
				testenv.WaitFor(t, "b to count its lease lost", b.engine.fenced)
			}
			first := a.triggerSpin(t)
			waitRuns(t, "a to execute its first run", a, b, []int64{first}, nil, 0)
			waiting := a.triggerSpin(t)
			b.engine.takeOver(t.Context())
			if r, err := a.store.GetRun(t.Context(), waiting); err != nil || r.Node != "a" {
				t.Errorf("run %d = %+v, %v; want it waiting on a", waiting, r, err)
			}
			waitRuns(t, "a to keep its runs", a, b, []int64{first}, nil, 1)
		})
	}
}
