package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// pgProxy forwards TCP connections to PostgreSQL, until cut: a node
// behind it is cut off from the database as by a network partition.
type pgProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	p := &pgProxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *pgProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(d, c); d.Close() })
			p.wg.Go(func() { io.Copy(c, d); c.Close() })
		}
	})
}

// cut closes the listener and every connection.
func (p *pgProxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// restore listens again, on the same address.
func (p *pgProxy) restore() { p.listen(p.addr) }

// via returns the database URL u through the proxy.
func (p *pgProxy) via(t *testing.T, u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.Host = p.addr
	return pu.String()
}

// clusterHome returns a home with the app cl: hello0-3 run every second
// and end at once; sleeper fires every other second, runs for 3s and is
// retried once when cut short.
func clusterHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "apps", "cl")
	mustWrite(t, filepath.Join(dir, "app.yaml"), []byte("name: cl\nquotas:\n  concurrency: 8\n"))
	tasks := "tasks:\n"
	for i := range 4 {
		tasks += fmt.Sprintf("  - name: hello%d\n    schedule: \"* * * * * *\"\n", i)
		mustWrite(t, filepath.Join(dir, "tasks", fmt.Sprintf("hello%d.wasm", i)), wasmtest.Hello())
	}
	tasks += "  - name: sleeper\n    schedule: \"*/2 * * * * *\"\n    concurrency: allow\n    retry: { max: 1, backoff: 1s }\n"
	mustWrite(t, filepath.Join(dir, "tasks", "sleeper.wasm"), wasmtest.Sleep(3*time.Second))
	mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), []byte(tasks))
	return home
}

// TestClusterProcesses runs three `cronbox serve` processes on one
// PostgreSQL database, each through a proxy of its own. It SIGKILLs the
// node running the sleeper and restarts it, then cuts the node running
// it then off from the database and brings it back. Each time the
// sleeper run is recorded interrupted and retried once on another node.
// At the end: no (task, scheduled time) recorded twice, none missing but
// as the misfire policy says (skip: the latest missed time recorded as
// skipped), no run left running.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs, kills and cuts off serve processes for tens of seconds")
	}
	t.Parallel()
	dbURL := pgtest.URL(t)
	pgAddr, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), dbURL, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	const ttl = 2 * time.Second
	type node struct {
		name  string
		home  string
		proxy *pgProxy
		proc  *serveProc
	}
	nodes := map[string]*node{}
	start := func(n *node) {
		n.proc = startServeProc(t, n.home, "--store", n.proxy.via(t, dbURL), "--node", n.name, "--lease-ttl", ttl.String())
	}
	var names []string
	for i := 1; i <= 3; i++ {
		n := &node{name: fmt.Sprintf("n%d", i), home: clusterHome(t), proxy: newPGProxy(t, pgAddr.Host)}
		nodes[n.name] = n
		names = append(names, n.name)
		start(n)
	}
	watch := nodes["n1"].proc // whose log a timeout shows
	runs := func(f store.RunFilter) []store.Run {
		f.Limit = store.MaxLimit
		return listRuns(t, st, f)
	}
	// sleeperRun waits for a sleeper run under way, started by a schedule.
	sleeperRun := func() store.Run {
		var r store.Run
		waitUntil(t, watch, "a sleeper run under way", func() bool {
			for _, run := range runs(store.RunFilter{Task: "sleeper", Statuses: []store.Status{store.StatusRunning}}) {
				if run.Trigger == store.TriggerSchedule && run.Node != "" {
					r = run
					return true
				}
			}
			return false
		})
		return r
	}
	// takenOver waits until run r is interrupted and retried once on
	// another node.
	takenOver := func(r store.Run) {
		t.Helper()
		waitUntil(t, watch, fmt.Sprintf("the retry of sleeper run %d of %s", r.ID, r.Node), func() bool {
			got, err := st.GetRun(t.Context(), r.ID)
			if err != nil || got.Status != store.StatusInterrupted {
				return false
			}
			for _, run := range runs(store.RunFilter{Task: "sleeper"}) {
				if run.Trigger == store.TriggerRetry && run.ScheduledTime.Equal(r.ScheduledTime) {
					if run.Node == r.Node || run.Attempt != 1 {
						t.Errorf("retry %+v of run %d of %s: want attempt 1 on another node", run, r.ID, r.Node)
					}
					return true
				}
			}
			return false
		})
	}
	waitUntil(t, watch, "every task to run on the cluster", func() bool {
		tasks := map[string]bool{}
		for _, r := range runs(store.RunFilter{}) {
			tasks[r.Task] = true
		}
		return len(tasks) == 5
	})

	// SIGKILL the node running the sleeper, mid-run; restart it.
	r := sleeperRun()
	victim := nodes[r.Node]
	if err := victim.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.proc.cmd.Wait()
	killedAt := time.Now()
	takenOver(r)
	if d := time.Since(killedAt); d > 15*time.Second {
		t.Errorf("takeover took %v after the kill", d)
	} else {
		t.Logf("%s's run retried on another node %v after SIGKILL (lease %v)", r.Node, d.Round(time.Millisecond), ttl)
	}
	start(victim)

	// Cut the node running the sleeper off from the database.
	r = sleeperRun()
	victim = nodes[r.Node]
	victim.proxy.cut()
	// Its server-side sessions end with the connections; any left are
	// terminated, as an operator would.
	if _, err := st.Pool().Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1`, "cronbox/"+victim.name); err != nil {
		t.Fatal(err)
	}
	takenOver(r)
	victim.proxy.restore()
	waitUntil(t, victim.proc, victim.name+" to register again", func() bool {
		nodes, err := st.ListNodes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == victim.name && n.State == store.NodeAlive && n.Epoch >= 2 {
				return true
			}
		}
		return false
	})
	// Let every node run a while longer, then stop them all.
	last := runs(store.RunFilter{Limit: 1})
	waitUntil(t, watch, "ten more runs", func() bool {
		return runs(store.RunFilter{Limit: 1})[0].ID > last[0].ID+10
	})
	for _, name := range names {
		p := nodes[name].proc
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("%s ended with %v; log:\n%s", name, err, p.log)
		}
	}

	// Every slot of the app's quotas was given back: by the ends of its
	// runs, and by the takeovers of the runs of the killed node and of
	// the node cut off.
	var slots, memory int64
	if err := st.Pool().QueryRow(t.Context(), `SELECT running, memory FROM app_slots WHERE app = 'cl'`).Scan(&slots, &memory); err != nil {
		t.Fatal(err)
	}
	if slots != 0 || memory != 0 {
		t.Errorf("app cl holds %d slots (memory %d) with every node stopped; want none", slots, memory)
	}

	all := allRuns(t, st)
	ids := make([]int64, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fired := map[string]map[time.Time]store.Run{} // task → scheduled time → run
	retries := map[string][]store.Run{}           // task@time → retries
	for _, id := range ids {
		r := all[id]
		if r.Status == store.StatusRunning {
			t.Errorf("run %d of %s on %s left running", r.ID, r.Task, r.Node)
		}
		switch r.Trigger {
		case store.TriggerSchedule, store.TriggerCatchUp:
			if fired[r.Task] == nil {
				fired[r.Task] = map[time.Time]store.Run{}
			}
			if prev, ok := fired[r.Task][r.ScheduledTime]; ok {
				t.Errorf("%s fired twice for %s: runs %d (%s) and %d (%s)", r.Task, r.ScheduledTime, prev.ID, prev.Node, r.ID, r.Node)
			}
			fired[r.Task][r.ScheduledTime] = r
		case store.TriggerRetry:
			k := r.Task + "@" + r.ScheduledTime.String()
			retries[k] = append(retries[k], r)
		}
	}
	for _, r := range all {
		if r.Status == store.StatusInterrupted && r.Task == "sleeper" && r.Attempt == 0 &&
			(r.Trigger == store.TriggerSchedule || r.Trigger == store.TriggerCatchUp) &&
			!strings.Contains(r.Error, "engine stopping") {
			got := retries[r.Task+"@"+r.ScheduledTime.String()]
			if len(got) != 1 {
				t.Errorf("interrupted run %d of %s (%s) retried %d times, want once", r.ID, r.Node, r.Error, len(got))
			} else if got[0].Node == r.Node || got[0].Status == store.StatusSkipped {
				t.Errorf("retry of run %d of %s: %+v, want a run on another node", r.ID, r.Node, got[0])
			}
		}
	}
	// A second missing from the schedule must be followed by a catch-up
	// record (skip: the latest missed time, recorded skipped).
	for task, times := range fired {
		var at []time.Time
		for t := range times {
			at = append(at, t)
		}
		sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
		period := time.Second
		if task == "sleeper" {
			period = 2 * time.Second
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap > period && times[at[i]].Trigger != store.TriggerCatchUp {
				t.Errorf("%s: %s to %s missed without a catch-up record (next run %+v)", task,
					at[i-1].Format(time.TimeOnly), at[i].Format(time.TimeOnly), times[at[i]])
			}
		}
	}
	kinds := map[string]int{}
	for _, r := range all {
		kinds[fmt.Sprintf("%s/%s on %s", r.Trigger, r.Status, r.Node)]++
	}
	t.Logf("%d runs over %d tasks: %v", len(all), len(fired), kinds)
}
