package web

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// fakeNodes is a NodeLister that lists nodes it was given, or fails.
type fakeNodes struct {
	nodes []NodeInfo
	err   error
	reads atomic.Int64
}

func (f *fakeNodes) Nodes(context.Context) ([]NodeInfo, error) {
	f.reads.Add(1)
	return f.nodes, f.err
}

// threeNodes are a cluster's nodes: a alive (the node under test), b
// suspect, c dead.
func threeNodes() []NodeInfo {
	hb := t0.Add(-time.Second)
	return []NodeInfo{
		{Name: "c", Addr: "10.0.0.3:8080", Version: "v1.2.0", Started: t0.Add(-time.Hour), Heartbeat: t0.Add(-time.Minute), State: NodeDead, Capacity: 8},
		{Name: "a", Addr: "10.0.0.1:8080", Version: "v1.2.3", Started: t0.Add(-2 * time.Hour), Heartbeat: hb, State: NodeAlive, Running: 3, Capacity: 8,
			Apps: []NodeApp{{Name: "hello", Version: "1.0.0"}, {Name: "other", Version: "2.0.0"}}},
		{Name: "b", Addr: "10.0.0.2:8080", Version: "v1.2.3", Started: t0.Add(-time.Hour), Heartbeat: t0.Add(-12 * time.Second), State: NodeSuspect, Running: 1, Capacity: 16,
			Apps: []NodeApp{{Name: "hello", Version: "1.0.0"}}},
	}
}

type nodesPage struct {
	Nodes []nodeJSON `json:"nodes"`
}

func (f *fixture) nodes(token string) nodesPage {
	f.t.Helper()
	resp := f.send(req{method: "GET", path: "/api/v1/nodes", token: token})
	if resp.status != 200 {
		f.t.Fatalf("GET /nodes as %s: %d %s", token, resp.status, resp.body)
	}
	var p nodesPage
	if err := json.Unmarshal(resp.body, &p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// TestNodesSingle: without a lister, GET /nodes lists this node alone,
// from what the server knows: alive, its runs against its capacity, its
// apps; a scoped token sees only its apps.
func TestNodesSingle(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Cluster = Cluster{Node: "solo", Addr: "127.0.0.1:8080", Version: "v9"} })
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	t.Cleanup(func() { f.eng.Cancel(t.Context(), spin); f.idle() })
	p := f.nodes("viewer")
	if len(p.Nodes) != 1 {
		t.Fatalf("%d nodes, want 1: %+v", len(p.Nodes), p)
	}
	n := p.Nodes[0]
	if n.Name != "solo" || n.Address != "127.0.0.1:8080" || n.Version != "v9" || n.State != NodeAlive || !n.Self ||
		n.Running == nil || *n.Running != 1 || n.Capacity <= 0 || !n.Started.Equal(t0) {
		t.Errorf("node %+v, want solo at 127.0.0.1:8080, v9, alive, self, 1 running, a capacity, started at %v", n, t0)
	}
	if len(n.Apps) != 2 || n.Apps[0] != (NodeApp{"hello", "1.0.0"}) || n.Apps[1].Name != "other" {
		t.Errorf("apps %+v, want hello 1.0.0 and other", n.Apps)
	}
	if scoped := f.nodes("scoped").Nodes[0]; len(scoped.Apps) != 1 || scoped.Apps[0].Name != "hello" || scoped.Running != nil {
		t.Errorf("a token scoped to hello sees apps %+v and running %v; want hello and no count", scoped.Apps, scoped.Running)
	}
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/api/v1/nodes"}, status: 401},
		{name: "query", req: req{method: "GET", path: "/api/v1/nodes?x=1", token: "viewer"}, status: 400, field: "x"},
	})
	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	for _, want := range []string{`cronbox_node_up{node="solo"} 1`, `cronbox_node_running{node="solo"} 1`, "# TYPE cronbox_node_capacity gauge"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestNodesLister: with a lister, GET /nodes lists its nodes by name, to
// any role, and /metrics has a series of each; a lister that fails is a
// 500 for the API and no series for /metrics.
func TestNodesLister(t *testing.T) {
	lister := &fakeNodes{nodes: threeNodes()}
	f := newFixture(t, func(c *Config) { c.Cluster = Cluster{Node: "a", Nodes: lister, MetricsNodesTTL: -1} })
	p := f.nodes("viewer")
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("nodes %v, want a,b,c", names)
	}
	a, b, c := p.Nodes[0], p.Nodes[1], p.Nodes[2]
	if !a.Self || b.Self || c.Self {
		t.Errorf("self: a %v, b %v, c %v; want a only", a.Self, b.Self, c.Self)
	}
	if b.State != NodeSuspect || b.Running == nil || *b.Running != 1 || b.Capacity != 16 || b.Address != "10.0.0.2:8080" || !b.Heartbeat.Equal(t0.Add(-12*time.Second)) {
		t.Errorf("node b %+v", b)
	}
	if c.Apps == nil || len(c.Apps) != 0 {
		t.Errorf("node c's apps %#v, want [] (none loaded)", c.Apps)
	}
	if apps := f.nodes("scoped").Nodes[0].Apps; len(apps) != 1 || apps[0].Name != "hello" {
		t.Errorf("a token scoped to hello sees node a's apps %+v", apps)
	}
	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	for _, want := range []string{
		`cronbox_node_up{node="a"} 1`, `cronbox_node_up{node="b"} 0`, `cronbox_node_up{node="c"} 0`,
		`cronbox_node_running{node="a"} 3`, `cronbox_node_capacity{node="b"} 16`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if scoped := string(f.send(req{method: "GET", path: "/metrics", token: "scoped"}).body); strings.Contains(scoped, "cronbox_node_") {
		t.Errorf("a scoped token's metrics show the nodes")
	}

	lister.err = errors.New("registry unreachable")
	if resp := f.send(req{method: "GET", path: "/api/v1/nodes", token: "viewer"}); resp.status != 500 {
		t.Errorf("a failing lister: %d %s, want 500", resp.status, resp.body)
	}
	resp := f.send(req{method: "GET", path: "/metrics", token: "viewer"})
	if resp.status != 200 || strings.Contains(string(resp.body), "cronbox_node_up{") || !strings.Contains(string(resp.body), "cronbox_runs_total") {
		t.Errorf("metrics with a failing lister: %d, want 200 without node series:\n%s", resp.status, resp.body)
	}
}

// fakeWatcher is an EventWatcher the test wakes by hand.
type fakeWatcher struct{ wake chan func(int64) }

func (w *fakeWatcher) WatchEvents(ctx context.Context, wake func(int64)) error {
	w.wake <- wake
	<-ctx.Done()
	return ctx.Err()
}

// TestHubMergesOtherNodesEvents: events another node appends reach the
// stream when the watcher wakes the hub, and before an event of this
// node's that follows them in the store even without a wake-up; every
// event once, in ID order.
func TestHubMergesOtherNodesEvents(t *testing.T) {
	w := &fakeWatcher{wake: make(chan func(int64), 1)}
	f := newFixture(t, func(c *Config) { c.Cluster = Cluster{Node: "a", Events: w} })
	wake := <-w.wake
	s := f.openStream(t, "viewer", 0)
	ctx := context.Background()
	other := func(task string) int64 {
		id, err := f.st.AppendEvent(ctx, store.Event{Type: "task.changed", App: "hello", Task: task})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// The events of this node's start (app.reloaded) may still be on
	// their way to the hub: a run's end, which the hub handles after
	// them, marks the point where the stream has had them all.
	s.until(finished(f.trigger("hello", "greet", "")))
	x := other("woken")
	wake(x)
	if ev := s.next(); ev.id != x || ev.data.Task != "woken" {
		t.Fatalf("after the wake-up: %+v, want event %d of task woken", ev, x)
	}
	y := other("unwoken")
	run := f.trigger("hello", "greet", "")
	got := s.until(finished(run))
	if got[0].id != y || got[0].data.Task != "unwoken" {
		t.Fatalf("first event after the other node's unannounced one: %+v, want it (%d) first", got[0], y)
	}
	last := x
	for _, ev := range got {
		if ev.id != 0 {
			if ev.id <= last {
				t.Fatalf("ID %d after %d: %v", ev.id, last, types(got))
			}
			last = ev.id
		}
	}
	// A wake-up with nothing new sends nothing twice.
	wake(0)
	z := other("last")
	wake(z)
	if ev := s.next(); ev.id != z {
		t.Fatalf("after a spurious wake-up: %+v, want event %d", ev, z)
	}
}

// TestMetricsClusterRunCounts: in a cluster, /metrics shows the run
// counters of every node, labelled by node: the others' as the registry
// holds them, this node's from its engine. Scrapes within
// MetricsNodesTTL read the registry once.
func TestMetricsClusterRunCounts(t *testing.T) {
	nodes := threeNodes()
	nodes[1].Runs = []store.RunCount{{App: "hello", Task: "greet", Status: store.StatusSucceeded, N: 99}} // a, reported earlier
	nodes[2].Runs = []store.RunCount{{App: "hello", Task: "greet", Status: store.StatusFailed, N: 7},
		{App: "other", Task: "job", Status: store.StatusSucceeded, N: 2}} // b
	lister := &fakeNodes{nodes: nodes}
	clock := engine.NewFakeClock(t0)
	f := newFixture(t, func(c *Config) { c.Clock = clock; c.Cluster = Cluster{Node: "a", Nodes: lister} })
	s := f.openStream(t, "viewer", 0)
	s.until(finished(f.trigger("hello", "greet", "")))

	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	for _, want := range []string{
		`cronbox_runs_total{node="a",app="hello",task="greet",status="succeeded"} 1`,
		`cronbox_runs_total{node="b",app="hello",task="greet",status="failed"} 7`,
		`cronbox_runs_total{node="b",app="other",task="job",status="succeeded"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `} 99`) {
		t.Errorf("metrics show the registry's stale count of this node:\n%s", body)
	}
	scoped := string(f.send(req{method: "GET", path: "/metrics", token: "scoped"}).body)
	if !strings.Contains(scoped, `cronbox_runs_total{node="b",app="hello",task="greet",status="failed"} 7`) || strings.Contains(scoped, `app="other"`) {
		t.Errorf("a token scoped to hello: want b's hello series only:\n%s", scoped)
	}
	if n := lister.reads.Load(); n != 1 {
		t.Errorf("the registry was read %d times for scrapes within the TTL, want once", n)
	}
	clock.Advance(3 * time.Second)
	f.send(req{method: "GET", path: "/metrics", token: "viewer"})
	if n := lister.reads.Load(); n != 2 {
		t.Errorf("the registry was read %d times, want again once the TTL passed", n)
	}
}
