package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// cutNodes is a registry that a test can cut the node off from, or slow
// down.
type cutNodes struct {
	store.Nodes
	cut atomic.Bool
	// slow, when set, is called before each ListNodes and SweepNodes: a
	// test advances the node's fake clock in it, as a round trip that
	// takes long lets the time pass.
	slow atomic.Pointer[func()]
}

func (c *cutNodes) roundTrip() {
	if f := c.slow.Load(); f != nil {
		(*f)()
	}
}

func (c *cutNodes) ListNodes(ctx context.Context) ([]store.Node, error) {
	c.roundTrip()
	return c.Nodes.ListNodes(ctx)
}

func (c *cutNodes) SweepNodes(ctx context.Context, grace time.Duration) ([]store.Run, error) {
	c.roundTrip()
	return c.Nodes.SweepNodes(ctx, grace)
}

var errCut = errors.New("connection refused (cut off by the test)")

func (c *cutNodes) RegisterNode(ctx context.Context, st store.NodeStatus, ttl time.Duration) (store.Node, error) {
	if c.cut.Load() {
		return store.Node{}, errCut
	}
	return c.Nodes.RegisterNode(ctx, st, ttl)
}

func (c *cutNodes) RenewLease(ctx context.Context, name string, epoch int64, ttl time.Duration, st store.NodeStatus) ([]store.Node, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.Nodes.RenewLease(ctx, name, epoch, ttl, st)
}

// clusterNode is an engine of a cluster under test, on its own home and
// connection pool.
type clusterNode struct {
	name   string
	home   string
	engine *Engine
	store  *postgres.Store
	rt     *runtime.Runtime
	nodes  *cutNodes
	clock  Clock
}

// newClusterNode starts node name on the database url with the apps, on
// clock (a *FakeClock, or RealClock).
func newClusterNode(t *testing.T, url, name string, clock Clock, cl Cluster, apps ...testApp) *clusterNode {
	t.Helper()
	return newClusterNodeWith(t, url, name, clock, cl, nil, apps...)
}

// newClusterNodeWith is newClusterNode with configure, if not nil, called
// on the engine's Config.
func newClusterNodeWith(t *testing.T, url, name string, clock Clock, cl Cluster, configure func(*Config), apps ...testApp) *clusterNode {
	t.Helper()
	home := t.TempDir()
	for _, a := range apps {
		writeApp(t, home, a)
	}
	_, rt := testenv.Open(t, home)
	st, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n := &clusterNode{name: name, home: home, store: st, rt: rt, nodes: &cutNodes{Nodes: st}, clock: clock}
	cl.Nodes, cl.Slots = n.nodes, st
	cfg := Config{Home: home, Store: StoreOf(st), Runtime: rt, Clock: clock, Node: name, Cluster: &cl, GracePeriod: time.Millisecond}
	if configure != nil {
		configure(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	n.engine = e
	return n
}

func (n *clusterNode) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := n.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// allRuns returns every run of the cluster, oldest first.
func allRuns(t *testing.T, s store.RunReader) []store.Run {
	t.Helper()
	list, err := s.ListRuns(t.Context(), store.RunFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// everyMinuteApp is an app of n tasks that fire every minute.
func everyMinuteApp(n int) testApp {
	var tasks strings.Builder
	modules := map[string][]byte{}
	tasks.WriteString("tasks:\n")
	for i := range n {
		name := fmt.Sprintf("t%02d", i)
		fmt.Fprintf(&tasks, "  - name: %s\n    schedule: \"* * * * *\"\n", name)
		modules[name] = wasmtest.Hello()
	}
	return testApp{name: "demo", quota: 8, tasks: tasks.String(), modules: modules}
}

// runOnceApp is an app of n tasks that fire every minute, with the
// misfire policy run-once.
func runOnceApp(n int) testApp {
	app := testApp{name: "demo", tasks: "tasks:\n", modules: map[string][]byte{}}
	for i := range n {
		name := fmt.Sprintf("t%d", i)
		app.tasks += "  - name: " + name + "\n    schedule: \"* * * * *\"\n    misfire: run-once\n"
		app.modules[name] = wasmtest.Hello()
	}
	return app
}

// TestClusterSpreadsSchedulesOnce runs three nodes on one database, two
// of them with clocks one second apart from the third: every (task,
// minute) is fired exactly once, by the task's owner, and the tasks
// spread over the nodes.
func TestClusterSpreadsSchedulesOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const tasks, minutes = 12, 3
	cl := Cluster{HeartbeatInterval: 20 * time.Second, LeaseTTL: time.Minute}
	var nodes []*clusterNode
	var clocks []*FakeClock
	for i, skew := range []time.Duration{0, time.Second, -time.Second} {
		c := NewFakeClock(t0.Add(skew))
		clocks = append(clocks, c)
		nodes = append(nodes, newClusterNode(t, url, fmt.Sprintf("n%d", i+1), c, cl, everyMinuteApp(tasks)))
	}
	for _, n := range nodes { // each sees all three
		n.engine.heartbeat(t.Context())
	}
	for m := range minutes + 1 {
		step := time.Minute
		if m == minutes {
			step = 2 * time.Second // the clock behind reaches the last minute
		}
		for i, n := range nodes {
			clocks[i].Advance(step)
			n.idle(t)
		}
	}
	runs := allRuns(t, nodes[0].store)
	fired := map[string]map[time.Time]int{}
	byNode := map[string]string{}
	for _, r := range runs {
		if r.Trigger != store.TriggerSchedule {
			t.Errorf("run %d: trigger %s, want schedule", r.ID, r.Trigger)
			continue
		}
		if fired[r.Task] == nil {
			fired[r.Task] = map[time.Time]int{}
		}
		fired[r.Task][r.ScheduledTime]++
		if prev, ok := byNode[r.Task]; ok && prev != r.Node {
			t.Errorf("task %s fired on %s and %s", r.Task, prev, r.Node)
		}
		byNode[r.Task] = r.Node
		if r.Status != store.StatusSucceeded {
			t.Errorf("run %d of %s on %s: %s", r.ID, r.Task, r.Node, r.Status)
		}
	}
	if len(fired) != tasks {
		t.Errorf("%d tasks fired, want %d", len(fired), tasks)
	}
	for task, times := range fired {
		for m := 1; m <= minutes; m++ {
			if at := t0.Add(time.Duration(m) * time.Minute); times[at] != 1 {
				t.Errorf("task %s fired %d times for %s, want once", task, times[at], at.Format(time.TimeOnly))
			}
		}
		for at, n := range times {
			if n != 1 {
				t.Errorf("task %s fired %d times for %s", task, n, at.Format(time.TimeOnly))
			}
		}
	}
	used := map[string]int{}
	for _, n := range byNode {
		used[n]++
	}
	if len(used) < 2 {
		t.Errorf("tasks by node %v: the schedules did not spread", used)
	}
	for task, node := range byNode {
		if want := owner([]string{"n1", "n2", "n3"}, "demo/"+task); node != want {
			t.Errorf("task %s fired on %s, its owner is %s", task, node, want)
		}
	}
}

// TestClusterNodeTakesOverGainedSchedules loses one of two nodes: the
// other gains its tasks once the lost node's lease has ended, and applies
// their misfire policy (run-once) to the gap.
func TestClusterNodeTakesOverGainedSchedules(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := runOnceApp(8)
	cl := Cluster{HeartbeatInterval: 20 * time.Second, LeaseTTL: time.Minute}
	clock := NewFakeClock(t0)
	a := newClusterNode(t, url, "a", clock, cl, app)
	b := newClusterNode(t, url, "b", NewFakeClock(t0), cl, app)
	bClock := b.clock.(*FakeClock)
	a.engine.heartbeat(t.Context())
	b.engine.heartbeat(t.Context())
	clock.Advance(time.Minute)
	a.idle(t)
	bClock.Advance(time.Minute)
	b.idle(t)
	// b is lost: its clock stands still, it renews nothing, and a sees
	// it alive until its lease ends.
	b.nodes.cut.Store(true)
	clock.Advance(2 * time.Minute)
	a.idle(t)
	if _, err := a.store.Pool().Exec(t.Context(), `UPDATE nodes SET lease_until = now() - interval '1 hour' WHERE name = 'b'`); err != nil {
		t.Fatal(err)
	}
	clock.Advance(cl.HeartbeatInterval)
	a.idle(t)
	runs := allRuns(t, a.store)
	got := map[string][]store.Trigger{}
	for _, r := range runs {
		got[r.Task] = append(got[r.Task], r.Trigger)
		if want := owner([]string{"a", "b"}, "demo/"+r.Task); r.Trigger == store.TriggerSchedule && r.Node != want {
			t.Errorf("scheduled run %d of %s on node %q, want its owner %s", r.ID, r.Task, r.Node, want)
		}
		if r.Trigger == store.TriggerCatchUp && !r.ScheduledTime.Equal(t0.Add(3*time.Minute)) {
			t.Errorf("catch-up run %d for %s, want the latest missed time", r.ID, r.ScheduledTime)
		}
	}
	gained := 0
	for task, triggers := range got {
		switch {
		case owner([]string{"a", "b"}, "demo/"+task) == "a":
			if want := []store.Trigger{"schedule", "schedule", "schedule"}; !slices.Equal(triggers, want) {
				t.Errorf("a's own task %s ran %v, want %v", task, triggers, want)
			}
		default:
			gained++
			if want := []store.Trigger{"schedule", "catch-up"}; !slices.Equal(triggers, want) {
				t.Errorf("gained task %s ran %v, want %v", task, triggers, want)
			}
		}
	}
	if gained == 0 || len(got) != 8 {
		t.Errorf("runs by task %v: want every task, some of them gained", got)
	}
}

// TestClusterGainedCatchUpMeetsTheScheduler gains tasks while the
// heartbeat's round trips take long (the fake clock moves inside them):
// the fire times nobody fired before the node owned a task are caught up
// (run-once: the latest of them), and every later one is fired by the
// scheduler; none is both, none is lost. Gained from a lost node (the
// sweep is slow), and by registering again after a lost lease (the list
// of nodes is slow): fenced, the node fired nothing.
func TestClusterGainedCatchUpMeetsTheScheduler(t *testing.T) {
	t.Parallel()
	// Heartbeats are the test's: none is due within its minutes.
	cl := Cluster{HeartbeatInterval: time.Hour, LeaseTTL: 2 * time.Hour}
	want := func(first string) []string {
		return []string{first, "catch-up 3m0s", "schedule 4m0s", "schedule 5m0s"}
	}
	t.Run("lost node", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		clock := NewFakeClock(t0)
		a := newClusterNode(t, url, "a", clock, cl, runOnceApp(8))
		b := newClusterNode(t, url, "b", NewFakeClock(t0), cl, runOnceApp(8))
		a.engine.heartbeat(t.Context())
		b.engine.heartbeat(t.Context())
		clock.Advance(time.Minute)
		a.idle(t)
		b.clock.(*FakeClock).Advance(time.Minute)
		b.idle(t)
		// b is lost after its fires of minute 1; a fires its own tasks
		// of minutes 2 and 3, and b's lease ends.
		clock.Advance(2 * time.Minute)
		a.idle(t)
		if _, err := a.store.Pool().Exec(t.Context(), `UPDATE nodes SET lease_until = now() - interval '1 hour' WHERE name = 'b'`); err != nil {
			t.Fatal(err)
		}
		a.nodes.slow.Store(new(func() {
			clock.Advance(2 * time.Minute)
			a.idle(t)
		}))
		a.engine.heartbeat(t.Context())
		a.idle(t)
		gained := 0
		for task, got := range firesByTask(t, a.store) {
			if owner([]string{"a", "b"}, "demo/"+task) == "a" {
				if w := []string{"schedule 1m0s", "schedule 2m0s", "schedule 3m0s", "schedule 4m0s", "schedule 5m0s"}; !slices.Equal(got, w) {
					t.Errorf("a's own task %s: %v, want %v", task, got, w)
				}
				continue
			}
			gained++
			if w := want("schedule 1m0s"); !slices.Equal(got, w) {
				t.Errorf("gained task %s: %v, want %v", task, got, w)
			}
		}
		if gained == 0 {
			t.Error("a gained no task")
		}
	})
	t.Run("registered again", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		clock := NewFakeClock(t0)
		a := newClusterNode(t, url, "a", clock, cl, runOnceApp(4))
		clock.Advance(time.Minute)
		a.idle(t)
		// a's lease ends: its next renewal is refused, and it registers
		// again, while minutes 2 and 3 pass, then 4 and 5.
		if _, err := a.store.Pool().Exec(t.Context(), `UPDATE nodes SET lease_until = now() - interval '1 hour' WHERE name = 'a'`); err != nil {
			t.Fatal(err)
		}
		a.nodes.slow.Store(new(func() {
			clock.Advance(2 * time.Minute)
			a.idle(t)
		}))
		a.engine.heartbeat(t.Context())
		a.idle(t)
		fires := firesByTask(t, a.store)
		for task, got := range fires {
			if w := want("schedule 1m0s"); !slices.Equal(got, w) {
				t.Errorf("task %s: %v, want %v", task, got, w)
			}
		}
		if len(fires) != 4 {
			t.Errorf("%d tasks ran, want 4", len(fires))
		}
	})
}

// firesByTask returns the trigger and scheduled time (after t0) of each
// task's runs, by scheduled time.
func firesByTask(t *testing.T, s store.RunReader) map[string][]string {
	t.Helper()
	runs := allRuns(t, s)
	slices.SortStableFunc(runs, func(x, y store.Run) int { return x.ScheduledTime.Compare(y.ScheduledTime) })
	got := map[string][]string{}
	for _, r := range runs {
		got[r.Task] = append(got[r.Task], fmt.Sprintf("%s %s", r.Trigger, r.ScheduledTime.Sub(t0)))
	}
	return got
}

// TestClusterFencingAndTakeover cuts a node off from the registry: once
// its lease runs out on its own clock it starts no run and cancels its
// running one without recording it; the other node, once the lease has
// ended on the database's clock, records that run interrupted and runs
// its retry. A forbidden overlap holds across the nodes meanwhile.
func TestClusterFencingAndTakeover(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("forbid")
	cl := Cluster{HeartbeatInterval: 100 * time.Millisecond, LeaseTTL: time.Second, Margin: 300 * time.Millisecond, Grace: time.Millisecond}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	ch, cancel := b.engine.Subscribe()
	defer cancel()

	id, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Forbid holds across nodes: b may not start spin while a runs it.
	if _, err := b.engine.Trigger(t.Context(), "demo", "spin", nil, "alice"); !errors.Is(err, ErrBusy) {
		t.Errorf("Trigger on b while a runs the task = %v; want ErrBusy", err)
	}

	a.nodes.cut.Store(true) // heartbeats fail; the lease runs out
	testenv.WaitFor(t, "a to count its lease lost", a.engine.fenced)
	if _, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice"); !errors.Is(err, ErrBusy) {
		t.Errorf("Trigger on a fenced node = %v; want ErrBusy", err)
	}

	// b sweeps once a's lease ends on the database's clock, then retries.
	retry := waitRetry(t, ch)
	r, err := b.store.GetRun(t.Context(), id)
	if err != nil || r.Status != store.StatusInterrupted || !strings.Contains(r.Error, "node a was lost") {
		t.Errorf("a's run after takeover = %+v, %v; want interrupted, naming a", r, err)
	}
	rr, err := b.store.GetRun(t.Context(), retry.RunID)
	if err != nil || rr.Node != "b" || rr.Attempt != 1 || rr.TriggeredByUser != "alice" {
		t.Errorf("retry = %+v, %v; want attempt 1 on b by alice", rr, err)
	}
	// a comes back: it registers again, with a new epoch.
	a.nodes.cut.Store(false)
	testenv.WaitFor(t, "a to register again", func() bool { return !a.engine.fenced() })
	runs := allRuns(t, b.store)
	if len(runs) != 2 {
		t.Errorf("runs = %+v; want a's and its one retry", runs)
	}
}

// TestClusterStopHandsOver stops a node while its run is under way: past
// its grace period the run is left to another node, which records it
// interrupted and retries it at once, without waiting for a lease to end.
func TestClusterStopHandsOver(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	app := spinApp("allow")
	cl := Cluster{HeartbeatInterval: 100 * time.Millisecond, LeaseTTL: time.Minute}
	a := newClusterNode(t, url, "a", RealClock{}, cl, app)
	b := newClusterNode(t, url, "b", RealClock{}, cl, app)
	ch, cancel := b.engine.Subscribe()
	defer cancel()
	id, err := a.engine.Trigger(t.Context(), "demo", "spin", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if err := a.engine.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitRetry(t, ch)
	if d := time.Since(stopped); d >= cl.LeaseTTL {
		t.Errorf("retried %v after the stop, want before the lease would end", d)
	}
	r, err := b.store.GetRun(t.Context(), id)
	if err != nil || r.Status != store.StatusInterrupted || r.Node != "a" {
		t.Errorf("a's run = %+v, %v; want interrupted", r, err)
	}
}

// spinApp is an app of one task, spin, which runs until stopped, with
// the overlap policy concurrency and one retry.
func spinApp(concurrency string) testApp {
	return testApp{name: "demo", tasks: `
tasks:
  - name: spin
    concurrency: ` + concurrency + `
    termination: { maxRuntime: 1h }
    retry: { max: 1, backoff: 1s }
`, modules: map[string][]byte{"spin": wasmtest.Spin()}}
}

// waitRetry returns the next start of a retry among events ch.
func waitRetry(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Type == EventRunStarted && e.Trigger == store.TriggerRetry {
				return e
			}
		case <-deadline:
			t.Fatal("no retry started")
		}
	}
}

// TestOwnerMovesOnlyTheLostNodesTasks checks the rendezvous hashing:
// tasks spread over the nodes, and losing a node moves its tasks only.
func TestOwnerMovesOnlyTheLostNodesTasks(t *testing.T) {
	t.Parallel()
	three, two := []string{"n1", "n2", "n3"}, []string{"n1", "n3"}
	count := map[string]int{}
	for i := range 3000 {
		key := fmt.Sprintf("app%d/task%d", i%7, i)
		before, after := owner(three, key), owner(two, key)
		count[before]++
		if before != "n2" && after != before {
			t.Fatalf("%s moved from %s to %s though %s is still live", key, before, after, before)
		}
		if after == "n2" {
			t.Fatalf("%s owned by n2, which is gone", key)
		}
	}
	for _, n := range three {
		if count[n] < 800 || count[n] > 1200 {
			t.Errorf("tasks by node %v: uneven", count)
		}
	}
	if owner(nil, "a/t") != "" {
		t.Error("a task has an owner among no nodes")
	}
}

// TestClusterRetriesOutliveTheirNode fails a run on node a, whose retry
// waits in a's timer, and loses a: b, which sees a's lease ended, takes
// the retry on and runs it when the backoff says, with the run's input,
// user and scheduled time. a comes back with its timer still set, and
// the store refuses a second retry of the run.
func TestClusterRetriesOutliveTheirNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	app := testApp{name: "demo", tasks: `
tasks:
  - name: fail
    retry: { max: 2, backoff: 1m }
`, modules: map[string][]byte{"fail": wasmtest.Unreachable()}}
	cl := Cluster{HeartbeatInterval: 20 * time.Second, LeaseTTL: time.Minute}
	aClock, bClock := NewFakeClock(t0), NewFakeClock(t0)
	a := newClusterNode(t, url, "a", aClock, cl, app)
	b := newClusterNode(t, url, "b", bClock, cl, app)
	a.engine.heartbeat(ctx)
	b.engine.heartbeat(ctx)
	id, err := a.engine.Trigger(ctx, "demo", "fail", json.RawMessage(`{"n":1}`), "alice")
	if err != nil {
		t.Fatal(err)
	}
	a.idle(t)
	failed, err := a.store.GetRun(ctx, id)
	if err != nil || failed.Status != store.StatusTrapped {
		t.Fatalf("run = %+v, %v; want trapped", failed, err)
	}

	// a is lost with its timer: it renews nothing and its clock stands
	// still; its lease ends.
	a.nodes.cut.Store(true)
	if _, err := b.store.Pool().Exec(ctx, `UPDATE nodes SET lease_until = now() - interval '1 hour' WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	bClock.Advance(cl.HeartbeatInterval) // b sees a lost
	b.idle(t)
	due := failed.EndTime.Add(time.Minute)
	bClock.Set(due.Add(-time.Second))
	b.idle(t)
	if runs := allRuns(t, b.store); len(runs) != 1 {
		t.Fatalf("runs before the backoff is over = %+v; want the failed one only", runs)
	}
	bClock.Set(due)
	b.idle(t)
	retries := retriesOf(t, b.store, id)
	if len(retries) != 1 {
		t.Fatalf("retries of run %d = %+v; want one", id, retries)
	}
	r, err := b.store.GetRun(ctx, retries[0].ID) // with its input
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "b" || r.Trigger != store.TriggerRetry || r.Attempt != 1 || !r.StartTime.Equal(due) ||
		string(r.Input) != `{"n":1}` || r.TriggeredByUser != "alice" || !r.ScheduledTime.Equal(failed.ScheduledTime) {
		t.Errorf("retry = %+v; want attempt 1 on b at %s with the run's input, user and scheduled time", r, due)
	}

	// a comes back: it registers again, and its timer fires.
	a.nodes.cut.Store(false)
	aClock.Set(due)
	a.idle(t)
	if a.engine.fenced() {
		t.Fatal("a did not register again")
	}
	if retries := retriesOf(t, b.store, id); len(retries) != 1 {
		t.Errorf("retries of run %d after a came back = %+v; want one", id, retries)
	}
}

// retriesOf returns the runs that retry run id.
func retriesOf(t *testing.T, s store.RunReader, id int64) []store.Run {
	t.Helper()
	var out []store.Run
	for _, r := range allRuns(t, s) {
		if r.RetryOf == id {
			out = append(out, r)
		}
	}
	return out
}

// TestClusterStorageQuotas checks the storage rule of a cluster: an
// app's files are a folder per node, each held to quotas.files, and its
// key-value store is the cluster's, held to quotas.kv over every node.
func TestClusterStorageQuotas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	app := testApp{name: "demo", tasks: "tasks:\n  - name: echo\n", modules: map[string][]byte{"echo": wasm},
		manifest: "name: demo\npermissions: { files: true }\nquotas: { kv: 200KiB, files: 1MiB }\n"}
	url := pgtest.URL(t)
	cl := Cluster{HeartbeatInterval: 20 * time.Second, LeaseTTL: time.Minute}
	a := newClusterNode(t, url, "a", NewFakeClock(t0), cl, app)
	b := newClusterNode(t, url, "b", NewFakeClock(t0), cl, app)
	run := func(n *clusterNode, input string) (*store.Run, string) {
		t.Helper()
		id, err := n.engine.Trigger(ctx, "demo", "echo", json.RawMessage(input), "")
		if err != nil {
			t.Fatal(err)
		}
		n.idle(t)
		r, err := n.store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		logs, err := n.store.RunLogs(ctx, id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return r, fmt.Sprint(logs)
	}
	for _, n := range []*clusterNode{a, b} {
		r, logs := run(n, `{"fileFill": 262144}`)
		if r.Status != store.StatusFailed || !strings.Contains(logs, "after 3 writes") || !strings.Contains(logs, "quotas.files") {
			t.Errorf("filling the directory on %s: %s\n%s", n.name, r.Status, logs)
		}
		fi, err := os.Stat(filepath.Join(n.home, "data", "files", "demo", "fill"))
		if err != nil || fi.Size() != 3*262144 {
			t.Errorf("%s's data/files/demo/fill: %v, %v; want the 3 writes that fit in its folder", n.name, fi, err)
		}
	}
	if r, logs := run(a, `{"kvFill": 65536}`); r.Status != store.StatusFailed || !strings.Contains(logs, "after 3 values") {
		t.Errorf("filling the KV store on a: %s\n%s", r.Status, logs)
	}
	// b counts a's values against the app's quota: its own fill adds
	// nothing past it.
	if st, err := b.engine.Storage(ctx, "demo"); err != nil || st.KV != 3*65541 || st.Files != 4096+3*262144 {
		t.Errorf("storage seen from b: %+v, %v; want a's KV values and b's own files", st, err)
	}
	r, logs := run(b, `{"kvFill": 65536}`)
	keys, err := b.store.KV("demo").List(ctx, "", "", 100)
	if r.Status != store.StatusFailed || err != nil || len(keys) > 3 {
		t.Errorf("filling the KV store on b: %s, keys %v (%v); want no room past a's values\n%s", r.Status, keys, err, logs)
	}
}
