package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// executing returns how many runs the node executes, and whether every
// run it has queued is settled: no slot is being taken, and its app found
// none in the cluster and waits for one to be given back, or has no room
// on the node.
func (n *clusterNode) executing() (running int, settled bool) {
	e := n.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	settled = e.claims == 0
	for _, as := range e.apps {
		if len(as.queue) > 0 && !as.starved && as.running < as.quota() && as.fits(as.queue[0].ts.task.Limits.Memory) {
			settled = false
		}
	}
	return e.running, settled
}

// waitExecuting waits until the nodes a and b are settled and execute
// onA and onB runs, and fails if more than max guests run between them
// meanwhile (guests, not the nodes' counts of runs: see waitRun).
func waitExecuting(t *testing.T, what string, a, b *clusterNode, onA, onB, max int) {
	t.Helper()
	testenv.WaitFor(t, what, func() bool {
		if guests := len(a.rt.Instances()) + len(b.rt.Instances()); guests > max {
			t.Fatalf("%d runs of the app execute over the nodes; its quota is %d", guests, max)
		}
		ra, sa := a.executing()
		rb, sb := b.executing()
		return sa && sb && ra == onA && rb == onB
	})
}

// queued returns the runs the node has queued.
func (n *clusterNode) queued() int {
	e := n.engine
	e.mu.Lock()
	defer e.mu.Unlock()
	q := 0
	for _, as := range e.apps {
		q += len(as.queue)
	}
	return q
}

// TestClusterAppConcurrencyQuota runs an app with quotas.concurrency 2 on
// two nodes: its runs queue on b while a executes two, and when one of
// a's ends, b starts one, woken by the slot given back.
func TestClusterAppConcurrencyQuota(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("allow")
	app.quota = 2
	cl := Cluster{HeartbeatInterval: time.Second, LeaseTTL: time.Minute}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	var onA []int64
	for range 2 {
		id, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice")
		if err != nil {
			t.Fatal(err)
		}
		onA = append(onA, id)
	}
	waitExecuting(t, "a to execute its two runs", a, b, 2, 0, 2)
	for range 3 {
		if _, err := b.engine.Trigger(t.Context(), "demo", "spin", nil, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	waitExecuting(t, "b's runs to wait for the app's slots", a, b, 2, 0, 2)
	if b.queued() != 3 {
		t.Fatalf("b queues %d runs; want 3", b.queued())
	}
	for i, id := range onA {
		if err := a.engine.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		waitExecuting(t, "b to start a run in the slot a gave back", a, b, 1-i, i+1, 2)
		if b.queued() != 2-i {
			t.Fatalf("after %d of a's runs ended, b queues %d; want %d", i+1, b.queued(), 2-i)
		}
	}
}

// TestClusterAppMemoryQuota runs an app whose memory quota holds one run's
// limit but not two on two nodes: one runs at a time over both.
func TestClusterAppMemoryQuota(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := testApp{name: "demo", manifest: "name: demo\nquotas: { concurrency: 4, memory: 96MiB }\n", tasks: `
tasks:
  - name: spin
    concurrency: allow
    termination: { maxRuntime: 1h }
    limits: { memory: 64MiB }
`, modules: map[string][]byte{"spin": wasmtest.Spin()}}
	cl := Cluster{HeartbeatInterval: time.Second, LeaseTTL: time.Minute}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	first, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	waitExecuting(t, "a to execute its run", a, b, 1, 0, 1)
	if _, err := b.engine.Trigger(t.Context(), "demo", "spin", nil, "bob"); err != nil {
		t.Fatal(err)
	}
	waitExecuting(t, "b's run to wait for the app's memory", a, b, 1, 0, 1)
	if b.queued() != 1 {
		t.Fatalf("b queues %d runs; want 1", b.queued())
	}
	if err := a.engine.Cancel(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	waitExecuting(t, "b to start its run", a, b, 0, 1, 1)
}

// TestClusterSlotsOfALostNode cuts off a node that holds the one slot of
// an app: the node that takes its run over gives the slot back, and
// starts the run that waited for it.
func TestClusterSlotsOfALostNode(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("allow")
	app.quota = 1
	// a's lease is short, to be lost; b's long, so that b, which takes
	// a over, keeps its own however slow the machine.
	cl := Cluster{HeartbeatInterval: 100 * time.Millisecond, LeaseTTL: time.Second, Margin: 300 * time.Millisecond, Grace: time.Millisecond}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	cl.LeaseTTL, cl.Margin = time.Minute, 0
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	if _, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice"); err != nil {
		t.Fatal(err)
	}
	waitExecuting(t, "a to execute its run", a, b, 1, 0, 1)
	waiting, err := b.engine.Trigger(t.Context(), "demo", "spin", nil, "bob")
	if err != nil {
		t.Fatal(err)
	}
	waitExecuting(t, "b's run to wait for the app's slot", a, b, 1, 0, 1)
	a.nodes.cut.Store(true)
	// a stops its run when its lease runs out; b takes it over once the
	// lease has ended on the database's clock, and its slot with it.
	testenv.WaitFor(t, "b to start its run", func() bool {
		b.engine.mu.Lock()
		defer b.engine.mu.Unlock()
		return b.engine.runs[waiting] != nil
	})
	// a stops its run on its own clock, Margin before b may take it
	// over: on a loaded machine the guest may take longer to return.
	waitExecuting(t, "b to execute one run", a, b, 0, 1, 2)
}

// watchCancels cancels the node's runs whose cancel another node asked
// for, as the server of a node does, until the test ends.
func (n *clusterNode) watchCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.store.WatchCancels(ctx, func(ctx context.Context, id int64) bool { return n.engine.Cancel(ctx, id) == nil })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitRun waits until node n executes run id, and the other node
// nothing, failing if the two execute more than one run meanwhile. It
// counts the guests alive in the nodes' runtimes: a node counts a run as
// running until the store has taken its end, which gives the run's slot
// back, and then another node may start its run before the first has
// counted its own run out.
func waitRun(t *testing.T, what string, n, other *clusterNode, id int64) {
	t.Helper()
	testenv.WaitFor(t, what, func() bool {
		rn, ro := len(n.rt.Instances()), len(other.rt.Instances())
		if rn+ro > 1 {
			t.Fatalf("%d runs of the task execute over the nodes; want at most 1", rn+ro)
		}
		n.engine.mu.Lock()
		defer n.engine.mu.Unlock()
		return n.engine.runs[id] != nil && rn == 1 && ro == 0
	})
}

// triggerSpin triggers a run of the task demo/spin on node n.
func (n *clusterNode) triggerSpin(t *testing.T) int64 {
	t.Helper()
	id, err := n.engine.Trigger(t.Context(), "demo", "spin", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestClusterReplace starts a run of a task whose overlap policy is
// replace on one node while another node runs it: the other node cancels
// its run, and the new one starts once that has ended.
func TestClusterReplace(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("replace")
	cl := Cluster{HeartbeatInterval: time.Second, LeaseTTL: time.Minute}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	a.watchCancels(t)
	b.watchCancels(t)
	trigger := func(n *clusterNode) int64 { return n.triggerSpin(t) }
	first := trigger(a)
	waitRun(t, "a to execute its run", a, b, first)
	second := trigger(b)
	waitRun(t, "b's run to replace a's", b, a, second)
	// b replaces its own run, and a replaces that, on b.
	third := trigger(b)
	waitRun(t, "b's third run to replace its second", b, a, third)
	last := trigger(a)
	waitRun(t, "a's run to replace b's", a, b, last)
	for _, id := range []int64{first, second, third} {
		if r, err := a.store.GetRun(t.Context(), id); err != nil || r.Status != store.StatusCancelled {
			t.Errorf("replaced run %d = %+v, %v; want cancelled", id, r, err)
		}
	}
}
