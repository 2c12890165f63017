package web

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// clusterNode is one node of a cluster under test: an engine and a server
// in a home of their own, on a store of their own (a pool, listeners) on
// the database the nodes share, as separate processes would be.
type clusterNode struct {
	*fixture
	pg *postgres.Store
}

// progressWasm is the module of the task hello/work of a cluster node:
// it logs and reports its progress at each of its steps.
var progressWasm []byte

// newClusterNode starts a node named name on the database at url, with
// the app hello and its tasks echo and work. Its store polls only every
// hour: what other nodes do reaches it by notifications alone.
func newClusterNode(t *testing.T, url, name string) *clusterNode {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	hello := filepath.Join(home, "apps", "hello")
	writeFile(t, filepath.Join(hello, "app.yaml"), []byte("name: hello\nversion: 1.0.0\n"))
	writeFile(t, filepath.Join(hello, "config", "tasks.yaml"), []byte("tasks:\n  - name: echo\n  - name: work\n"))
	if echoWasm == nil {
		echoWasm = wasmtest.Build(t, "../engine/testdata/echo")
	}
	writeFile(t, filepath.Join(hello, "tasks", "echo.wasm"), echoWasm)
	if progressWasm == nil {
		progressWasm = wasmtest.Build(t, "ui/testdata/progress")
	}
	writeFile(t, filepath.Join(hello, "tasks", "work.wasm"), progressWasm)
	pg, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4, WatchPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	rt := testenv.Runtime(t)
	eng, err := engine.New(engine.Config{Home: home, Store: engine.StoreOf(pg), Runtime: rt, GracePeriod: time.Second, Node: name})
	if err != nil {
		t.Fatal(err)
	}
	srv, hs := serveEngine(t, Config{Engine: eng, Store: StoreOf(pg), Runtime: rt, PingInterval: time.Hour,
		Cluster: Cluster{Node: name, Events: pg, Cancels: pg}})
	f := &fixture{t: t, home: home, rt: rt, eng: eng, srv: srv, http: hs, tokens: map[string]string{"admin": "cbx_test_admin"}}
	return &clusterNode{fixture: f, pg: pg}
}

// getRun returns GET /runs/{id} of node n.
func (n *clusterNode) getRun(id int64) map[string]any {
	n.t.Helper()
	resp := n.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", id), token: "admin"})
	if resp.status != 200 {
		n.t.Fatalf("GET run %d: %d %s", id, resp.status, resp.body)
	}
	return resp.json(n.t)
}

// TestClusterOneView runs two nodes on one PostgreSQL database: node A's
// event stream carries node B's events among its own, in the order of
// their IDs and each once; a stream resumes on A from an ID that B sent;
// A shows B's run as remote and follows its stored log lines; a cancel
// asked on A stops the run on B.
func TestClusterOneView(t *testing.T) {
	url := pgtest.URL(t)
	a := newClusterNode(t, url, "a")
	b := newClusterNode(t, url, "b")
	if _, err := a.pg.CreateToken(context.Background(), storeToken("admin", RoleAdmin)); err != nil {
		t.Fatal(err)
	}
	onA := a.openStream(t, "admin", 0)
	onB := b.openStream(t, "admin", 0)

	// A run on B that logs, then sleeps until cancelled; and runs on A
	// meanwhile.
	long := b.trigger("hello", "echo", `{"sleepMs": 600000}`)
	var quick []int64
	for range 3 {
		quick = append(quick, a.trigger("hello", "echo", `{}`))
		a.idle()
	}
	started := func(run int64) func(sse) bool {
		return func(ev sse) bool { return ev.event == "run.started" && ev.data.Run == run }
	}
	got := onA.until(started(long))
	seenB := onB.until(started(long))
	if id := seenB[len(seenB)-1].id; id == 0 || got[len(got)-1].id != id {
		t.Fatalf("B's run.started has ID %d on A's stream, %d on B's", got[len(got)-1].id, id)
	}
	for _, q := range quick {
		// B's run may have started after A's runs ended: their ends
		// are then in got already.
		if !slices.ContainsFunc(got, finished(q)) {
			got = append(got, onA.until(finished(q))...)
		}
	}

	// The log line B's run wrote is stored within LogFlush, and A
	// follows it.
	if run := a.getRun(long); run["status"] != "running" || run["remote"] != true || run["node"] != "b" {
		t.Fatalf("B's run as A shows it: status %v, remote %v, node %v; want running, remote, b", run["status"], run["remote"], run["node"])
	}
	testenv.WaitFor(t, "A follows the log line of B's run", func() bool {
		resp := a.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?after=0", long), token: "admin"})
		return resp.status == 200 && strings.Contains(string(resp.body), "got input")
	})

	// A cancel asked on A stops the run on B.
	if resp := a.send(req{method: "POST", path: fmt.Sprintf("/api/v1/runs/%d/cancel", long), token: "admin"}); resp.status != 202 {
		t.Fatalf("cancel on A: %d %s", resp.status, resp.body)
	}
	end := onA.until(finished(long))
	got = append(got, end...)
	if st := end[len(end)-1].data.Status; st != string(store.StatusCancelled) {
		t.Errorf("B's run ended %s, want cancelled", st)
	}
	if _, ok := b.eng.Run(long); ok {
		t.Errorf("B still runs run %d", long)
	}

	// A's stream: every recorded event once, IDs rising, both nodes'.
	var ids []int64
	for _, ev := range got {
		if ev.id == 0 {
			continue
		}
		if len(ids) > 0 && ev.id <= ids[len(ids)-1] {
			t.Fatalf("A's stream sent ID %d after %d", ev.id, ids[len(ids)-1])
		}
		ids = append(ids, ev.id)
	}
	stored, err := a.pg.Events(context.Background(), store.EventFilter{AfterID: ids[0] - 1, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range stored {
		if e.ID <= ids[len(ids)-1] {
			want = append(want, e.ID)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("A's stream sent IDs %v, the store holds %v", ids, want)
	}

	// A client that saw B's run start on B resumes on A: it gets what
	// followed, from either node, up to the run's end.
	from := seenB[len(seenB)-1].id
	resumed := a.openStream(t, "admin", from).until(finished(long))
	var after []int64
	for _, ev := range resumed {
		after = append(after, ev.id)
	}
	if i := slices.Index(want, from); i < 0 || !slices.Equal(after, want[i+1:]) {
		t.Errorf("resumed on A after %d: IDs %v, want %v", from, after, want)
	}
}

// TestClusterRemoteProgress: node A shows the progress of a run on node B
// in the run's JSON and in lists, as B stores it with its log lines,
// while the run runs and once it has ended; B shows it live.
func TestClusterRemoteProgress(t *testing.T) {
	url := pgtest.URL(t)
	a := newClusterNode(t, url, "a")
	b := newClusterNode(t, url, "b")
	if _, err := a.pg.CreateToken(context.Background(), storeToken("admin", RoleAdmin)); err != nil {
		t.Fatal(err)
	}
	const steps = 40
	id := b.trigger("hello", "work", fmt.Sprintf(`{"steps": %d, "sleepMs": 300}`, steps))

	progress := func(run map[string]any) (float64, string) {
		p, _ := run["progress"].(float64)
		msg, _ := run["progressMessage"].(string)
		return p, msg
	}
	var seen float64
	testenv.WaitFor(t, "A shows the progress B stored of its run while it runs", func() bool {
		run := a.getRun(id)
		if run["status"] != "running" {
			t.Fatalf("B's run is %v before A saw its progress; want running", run["status"])
		}
		p, msg := progress(run)
		seen = p
		// The task reports step i as i*100/steps percent, "step i".
		var i int
		if _, err := fmt.Sscanf(msg, "step %d", &i); err != nil {
			return false
		}
		return run["remote"] == true && p > 0 && p < 100 && int(p) == i*100/steps
	})
	if run := b.getRun(id); run["remote"] != nil {
		t.Errorf("B shows its own run as remote")
	} else if p, _ := progress(run); p < seen {
		t.Errorf("B shows its run at %v%%, behind A's %v%%", p, seen)
	}
	resp := a.send(req{method: "GET", path: "/api/v1/runs?status=running", token: "admin"})
	var list struct{ Runs []map[string]any }
	if err := json.Unmarshal(resp.body, &list); resp.status != 200 || err != nil {
		t.Fatalf("GET runs on A: %d %s", resp.status, resp.body)
	}
	if len(list.Runs) != 1 || list.Runs[0]["id"] != float64(id) {
		t.Fatalf("A lists the running runs %v, want run %d", list.Runs, id)
	} else if p, _ := progress(list.Runs[0]); p < seen {
		t.Errorf("A lists B's run at %v%%, behind its %v%%", p, seen)
	}

	testenv.WaitFor(t, "B's run to end", func() bool { return a.getRun(id)["status"] != "running" })
	run := a.getRun(id)
	if p, msg := progress(run); run["status"] != "succeeded" || p != 100 || msg != fmt.Sprintf("step %d", steps) {
		t.Errorf("B's run ended on A: %v at %v%% %q; want succeeded at 100%% \"step %d\"", run["status"], p, msg, steps)
	}
}
