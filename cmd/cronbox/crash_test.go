package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// mainEnv makes the test binary run main instead of the tests: the crash
// test runs `cronbox serve` as a process of its own this way, without
// building the command first.
const mainEnv = "CRONBOX_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// sleeperRuntime is how long a run of crash/sleeper lasts.
const sleeperRuntime = 6 * time.Second

// crashHome returns a home with one app, crash: hello and quiet run every
// second and end at once; sleeper fires every second and runs for
// sleeperRuntime, so most fires are skipped (overlap forbidden), and a run
// of it cut short is retried once.
func crashHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "apps", "crash")
	mustWrite(t, filepath.Join(dir, "app.yaml"), []byte("name: crash\n"))
	mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
    schedule: "@every 1s"
  - name: quiet
    schedule: "@every 1s"
  - name: sleeper
    schedule: "@every 1s"
    retry: { max: 1, backoff: 1s }
`))
	mustWrite(t, filepath.Join(dir, "tasks", "hello.wasm"), wasmtest.Hello())
	mustWrite(t, filepath.Join(dir, "tasks", "quiet.wasm"), wasmtest.Hello())
	mustWrite(t, filepath.Join(dir, "tasks", "sleeper.wasm"), wasmtest.Sleep(sleeperRuntime))
	return home
}

// serveProc is a `cronbox serve` process: this test binary running main.
type serveProc struct {
	cmd  *exec.Cmd
	log  *procLog
	addr string
}

// procLog parses the JSON log a serve process writes to its stderr.
type procLog struct {
	mu       sync.Mutex
	partial  []byte
	raw      bytes.Buffer
	addr     string
	finished map[int64]store.Status // run ID → status, from "run finished"
	byTask   map[string]int         // finished runs per task
	marked   int                    // from "marked runs interrupted"
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		l.partial = l.partial[i+1:]
		var rec struct {
			Msg, Addr, Task string
			Run             int64
			Runs            int
			Status          store.Status
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "listening":
			l.addr = rec.Addr
		case "run finished":
			l.finished[rec.Run] = rec.Status
			l.byTask[rec.Task]++
		case "marked runs interrupted":
			l.marked = rec.Runs
		}
	}
	return len(p), nil
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// startServeProc starts `cronbox serve` on home, with the flags extra, in
// a process of its own and waits until it listens and answers /healthz.
func startServeProc(t *testing.T, home string, extra ...string) *serveProc {
	t.Helper()
	log := &procLog{finished: map[int64]store.Status{}, byTask: map[string]int{}}
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--home", home, "--listen", "127.0.0.1:0", "--log-format", "json"}, extra...)...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, log: log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	waitUntil(t, p, "serve to listen", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		p.addr = log.addr
		return p.addr != ""
	})
	resp, err := http.Get("http://" + p.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v\n%s", err, log)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", resp.Status)
	}
	return p
}

// waitUntil polls cond until it holds, failing the test with p's log after
// a deadline generous enough for a loaded machine.
func waitUntil(t *testing.T, p *serveProc, what string, cond func() bool) {
	t.Helper()
	testenv.WaitWithin(t, 60*time.Second, what, cond, func() string { return fmt.Sprintf("serve's log:\n%s", p.log) })
}

// allRuns returns every recorded run, by ID.
func allRuns(t *testing.T, st store.RunReader) map[int64]store.Run {
	t.Helper()
	out := map[int64]store.Run{}
	f := store.RunFilter{Limit: store.MaxLimit}
	for {
		page, err := st.ListRuns(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			out[r.ID] = r
		}
		if len(page) < store.MaxLimit {
			return out
		}
		f.BeforeID = page[len(page)-1].ID
	}
}

func listRuns(t *testing.T, st store.RunReader, f store.RunFilter) []store.Run {
	t.Helper()
	runs, err := st.ListRuns(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// overrideConfig is the configuration part of an override, which only
// people change.
func overrideConfig(o store.Override) string {
	o.Failures = store.FailureState{}
	b, _ := json.Marshal(o)
	return string(b)
}

// TestServeSurvivesSIGKILL runs `cronbox serve` as a process, kills it with
// SIGKILL while a run is under way, restarts it on the same home, three
// times at different moments of the run, and finally stops it with
// SIGTERM. The history must be complete (every run a process logged as
// finished is recorded so), the runs under way at each kill must be
// interrupted, no scheduled time may be fired twice, no run may be left
// running, an override written before a kill must be intact and obeyed,
// and an interrupted run of a task with retries must be retried.
func TestServeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills serve processes for tens of seconds")
	}
	t.Parallel()
	began := time.Now()
	home := crashHome(t)
	ctx := context.Background()

	type kill struct {
		maxID    int64               // the last run recorded before it
		running  map[int64]store.Run // the runs under way at it
		finished map[int64]store.Run // the runs that had ended by it
		sleeper  store.Run           // the sleeper run it cut short
	}
	var (
		st        *store.SQLite
		kills     []kill
		logs      []*procLog
		overrides map[string]string // key → configuration, before the first kill
	)
	// restarted checks a process started after kill k: it marked the runs
	// under way at the kill interrupted, and it retries the sleeper run
	// that the kill cut short, when that was a first attempt (the retry is
	// restored from the store, due a second after the start).
	restarted := func(p *serveProc, k kill) {
		t.Helper()
		p.log.mu.Lock()
		marked := p.log.marked
		p.log.mu.Unlock()
		if marked != len(k.running) {
			t.Errorf("the restarted serve marked %d runs interrupted, want the %d under way at the kill", marked, len(k.running))
		}
		if k.sleeper.Attempt > 0 {
			return
		}
		waitUntil(t, p, "the retry of the interrupted sleeper run", func() bool {
			for _, r := range listRuns(t, st, store.RunFilter{Task: "sleeper", Limit: 20}) {
				if r.ID > k.maxID && r.Trigger == store.TriggerRetry {
					return true
				}
			}
			return false
		})
	}
	// Each cycle kills when a sleeper run has been under way for at to
	// at+1s: near its start, in its middle, towards its end (it lasts 6s,
	// so it is still under way when the kill lands).
	for cycle, at := range []time.Duration{100 * time.Millisecond, 2 * time.Second, 3500 * time.Millisecond} {
		p := startServeProc(t, home)
		logs = append(logs, p.log)
		if st == nil {
			var err error
			if st, err = store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
		}
		if cycle > 0 {
			restarted(p, kills[cycle-1])
		}
		waitUntil(t, p, "three runs of hello", func() bool {
			p.log.mu.Lock()
			defer p.log.mu.Unlock()
			return p.log.byTask["hello"] >= 3
		})
		if cycle == 0 {
			if code, _, stderr := cli(t, "task", "disable", "crash/quiet", "--home", home); code != 0 {
				t.Fatalf("task disable: exit %d: %s", code, stderr)
			}
			ovs, err := st.Overrides(ctx)
			if err != nil {
				t.Fatal(err)
			}
			overrides = map[string]string{}
			for _, o := range ovs {
				overrides[o.App+"/"+o.Task] = overrideConfig(o)
			}
		}
		var target store.Run
		waitUntil(t, p, fmt.Sprintf("a sleeper run under way for %v", at), func() bool {
			running := listRuns(t, st, store.RunFilter{Task: "sleeper", Statuses: []store.Status{store.StatusRunning}, Limit: 1})
			if len(running) == 0 {
				return false
			}
			elapsed := time.Since(running[0].StartTime)
			target = running[0]
			return elapsed >= at && elapsed < at+time.Second
		})
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("serve ended with %v, want killed", err)
		}
		k := kill{running: map[int64]store.Run{}, finished: map[int64]store.Run{}, sleeper: target}
		for id, r := range allRuns(t, st) {
			k.maxID = max(k.maxID, id)
			if r.Status == store.StatusRunning {
				k.running[id] = r
			} else {
				k.finished[id] = r
			}
		}
		if _, ok := k.running[target.ID]; !ok {
			t.Fatalf("cycle %d: sleeper run %d is not under way after the kill", cycle, target.ID)
		}
		kills = append(kills, k)
	}

	// A last restart, stopped gracefully.
	p := startServeProc(t, home)
	logs = append(logs, p.log)
	restarted(p, kills[len(kills)-1])
	waitUntil(t, p, "three runs of hello", func() bool {
		p.log.mu.Lock()
		defer p.log.mu.Unlock()
		return p.log.byTask["hello"] >= 3
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve stopped by SIGTERM: %v, want exit 0; its log:\n%s", err, p.log)
	}

	runs := allRuns(t, st)
	for id, r := range runs {
		if r.Status == store.StatusRunning {
			t.Errorf("run %d (%s) left running", id, r.Task)
		}
	}
	// The history is complete: what a process said finished is there,
	// as it said.
	for i, l := range logs {
		l.mu.Lock()
		for id, status := range l.finished {
			r, ok := runs[id]
			switch {
			case !ok:
				t.Errorf("process %d: run %d, logged %s, is not in the history", i, id, status)
			case r.Status != status || r.EndTime.IsZero() || r.EndTime.Before(r.StartTime):
				t.Errorf("process %d: run %d logged %s, recorded %s from %v to %v", i, id, status, r.Status, r.StartTime, r.EndTime)
			}
		}
		l.mu.Unlock()
	}
	// The runs under way at a kill are interrupted, and a sleeper run on
	// its first attempt is retried by the next process; the runs that had
	// ended stay as they were.
	for i, k := range kills {
		for id, was := range k.finished {
			if r := runs[id]; r.Status != was.Status || !r.EndTime.Equal(was.EndTime) {
				t.Errorf("kill %d: run %d of %s, %s at %v at the kill, is %s at %v", i, id, was.Task, was.Status, was.EndTime, r.Status, r.EndTime)
			}
		}
		for id := range k.running {
			r := runs[id]
			if r.Status != store.StatusInterrupted || r.EndTime.IsZero() || r.EndTime.Before(r.StartTime) || !strings.Contains(r.Error, "interrupted") {
				t.Errorf("kill %d: run %d of %s, under way at the kill: %s from %v to %v (%q); want interrupted with an end",
					i, id, r.Task, r.Status, r.StartTime, r.EndTime, r.Error)
			}
		}
		retried := 0
		for _, r := range runs {
			if r.Task == "sleeper" && r.Trigger == store.TriggerRetry && r.ID > k.maxID && (i+1 == len(kills) || r.ID <= kills[i+1].maxID) {
				retried++
				if r.Attempt != k.sleeper.Attempt+1 || !r.ScheduledTime.Equal(k.sleeper.ScheduledTime) {
					t.Errorf("kill %d: retry %d of sleeper run %d: attempt %d for %v, want attempt %d for %v",
						i, r.ID, k.sleeper.ID, r.Attempt, r.ScheduledTime, k.sleeper.Attempt+1, k.sleeper.ScheduledTime)
				}
			}
		}
		if want := 1 - k.sleeper.Attempt; retried != want {
			t.Errorf("kill %d: %d retries of the interrupted sleeper run %d (attempt %d), want %d", i, retried, k.sleeper.ID, k.sleeper.Attempt, want)
		}
	}
	// No scheduled time fired twice; and the schedule fired each task's
	// times in order, across all the processes (a restarted scheduler
	// never goes back to a time an earlier process had reached).
	ids := make([]int64, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	seen := map[string]bool{}
	last := map[string]time.Time{}
	for _, id := range ids {
		r := runs[id]
		if r.Trigger != store.TriggerSchedule && r.Trigger != store.TriggerCatchUp {
			continue
		}
		key := r.App + "/" + r.Task + "@" + r.ScheduledTime.Format(time.RFC3339Nano)
		if seen[key] {
			t.Errorf("scheduled time %s fired twice", key)
		}
		seen[key] = true
		if r.Trigger != store.TriggerSchedule {
			continue
		}
		if prev := last[r.Task]; !r.ScheduledTime.After(prev) {
			t.Errorf("run %d of %s fired for %v, after a run for %v", id, r.Task, r.ScheduledTime, prev)
		}
		last[r.Task] = r.ScheduledTime
	}
	// The override written before the first kill is intact and obeyed.
	ovs, err := st.Overrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range ovs {
		got[o.App+"/"+o.Task] = overrideConfig(o)
		if o.App+"/"+o.Task == "crash/quiet" && (o.Enabled == nil || *o.Enabled) {
			t.Errorf("override of crash/quiet: enabled %v, want false", o.Enabled)
		}
	}
	for key, want := range overrides {
		if got[key] != want {
			t.Errorf("override of %s: %s, want %s", key, got[key], want)
		}
	}
	if _, ok := got["crash/quiet"]; !ok {
		t.Error("the override of crash/quiet is gone")
	}
	for _, r := range runs {
		if r.Task == "quiet" && r.ID > kills[0].maxID {
			t.Errorf("run %d of crash/quiet (%s, %s) after a restart; it was disabled before", r.ID, r.Trigger, r.Status)
		}
	}
	t.Logf("%d runs recorded over %d processes, %d of them interrupted by SIGKILL, in %v",
		len(runs), len(logs), len(kills[0].running)+len(kills[1].running)+len(kills[2].running), time.Since(began).Round(time.Millisecond))
}
