package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
)

// TestReplaceRequestsCancels starts a run of a task with Replace on one
// node while another node runs one: the start asks for the cancel of the
// other, and the other node hears of it.
func TestReplaceRequestsCancels(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{WatchPoll: time.Hour})
	ctx := t.Context()
	for _, name := range []string{"n1", "n2"} {
		if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	start := func(node, task string, replace bool) int64 {
		id, err := s.StartRun(ctx, store.Run{App: "a", Task: task, Trigger: store.TriggerManual, StartTime: at, Node: node,
			Replace: replace, Slot: &store.Slot{Concurrency: 4, Memory: 1, MemoryQuota: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := start("n1", "t", true)
	start("n1", "u", false)        // another task
	mine := start("n2", "t", true) // n2's own runs are its engine's to replace

	asked := make(chan int64, 8)
	watch, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- s.WatchCancels(watch, func(_ context.Context, id int64) bool {
			asked <- id
			return true
		})
	}()
	waitCancel(t, asked, old)
	// A later start wakes the watch, by notification (its poll is an
	// hour), and asks for the cancel of the run n2 holds, not n1's own.
	start("n1", "t", true)
	waitCancel(t, asked, mine)
	stop()
	<-done
}

// TestSlotLockOrder: two nodes start and end runs of two apps at once
// through their group writers, each group mixing the apps' writes in the
// order they came, while nodes that hold runs of both apps are lost and
// swept: the database meets no deadlock. The runs take their slots with
// their start (StartRun) or, having waited, with BeginRun, and give them
// back with EndRun or FinishRun: every write that locks a slot names its
// app. The writer sends a write
// that met one again, which hides a deadlock from its caller, so they
// are counted where the database counts them, in
// pg_stat_database.deadlocks, once every node's connections are closed
// (a backend reports its counts when it exits).
func TestSlotLockOrder(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	admin := openTest(t, url, Options{MaxConns: 1})
	deadlocks := func() int64 {
		t.Helper()
		var n int64
		if err := admin.pool.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	apps := []string{"a", "b"}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	slot := func() *store.Slot { return &store.Slot{Concurrency: 1 << 20, Memory: 1, MemoryQuota: 1 << 40} }

	// lose makes a node that holds runs of both apps, b's first, so that
	// ending them in the order of their rows would lock b's slot before
	// a's, and makes it leave: the next sweep ends its runs.
	lost := openTest(t, url, Options{MaxConns: 2})
	lose := func(k int) error {
		name := fmt.Sprintf("lost%d", k)
		n, err := lost.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute)
		if err != nil {
			return err
		}
		for i := range 16 {
			if _, err := lost.StartRun(ctx, store.Run{App: apps[(i+1)%2], Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: name, Slot: slot()}); err != nil {
				return err
			}
		}
		return lost.LeaveNode(ctx, name, n.Epoch)
	}

	// cycle starts a run of app on node and ends it, in one of three
	// ways: way 0 takes the slot with the start and gives it back with
	// EndRun, way 1 with FinishRun; way 2 records the run waiting, takes
	// the slot with BeginRun and gives it back with FinishRun.
	cycle := func(s *Store, node, app string, way int) error {
		r := store.Run{App: app, Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: node, Slot: slot()}
		if way == 2 {
			r.Slot, r.Waiting, r.Module = nil, true, "m"
		}
		id, err := s.StartRun(ctx, r)
		if err != nil {
			return err
		}
		if way == 2 {
			sl := slot()
			sl.App = app
			began, err := s.BeginRun(ctx, id, node, sl)
			if err != nil {
				return err
			}
			if !began || !sl.Taken {
				return fmt.Errorf("BeginRun(%d) = %v, slot taken %v; want the run started with its slot", id, began, sl.Taken)
			}
		}
		end := store.RunEnd{App: app, Status: store.StatusSucceeded, EndTime: at.Add(time.Second), Duration: time.Second}
		if way == 0 {
			end.App = ""
			_, err = s.EndRun(ctx, id, end, store.AfterEnd{App: app, Task: "t"})
			return err
		}
		return s.FinishRun(ctx, id, end)
	}

	var wg sync.WaitGroup
	var failed atomic.Value
	for _, name := range []string{"n1", "n2"} {
		s, err := Open(ctx, url, Options{MaxConns: 8, Writers: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
		var nodeWG sync.WaitGroup
		for w := range 16 {
			nodeWG.Add(1)
			go func() {
				defer nodeWG.Done()
				for i := range 40 {
					if err := cycle(s, name, apps[(w+i)%2], i%3); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		if name == "n1" {
			nodeWG.Add(1)
			go func() {
				defer nodeWG.Done()
				for k := range 16 {
					err := lose(k)
					if err == nil {
						_, err = s.SweepNodes(ctx, 0)
					}
					if err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodeWG.Wait()
			s.Close()
		}()
	}
	wg.Wait()
	lost.Close()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	// Every node's backend has exited, and so reported its counts.
	testenv.WaitFor(t, "the nodes' connections to close", func() bool {
		var n int
		if err := admin.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if _, err := admin.pool.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	if n := deadlocks() - before; n != 0 {
		t.Errorf("the database met %d deadlocks", n)
	}
	var running, memory int64
	if err := admin.pool.QueryRow(ctx, `SELECT coalesce(sum(running), 0), coalesce(sum(memory), 0) FROM app_slots`).Scan(&running, &memory); err != nil || running != 0 || memory != 0 {
		t.Errorf("app_slots hold %d runs, %d bytes, %v; want none", running, memory, err)
	}
}

// leaseState is what the database holds of app a's slots, read in one
// snapshot: the runs that hold one, the app's row, and the nodes'
// leases.
type leaseState struct {
	held, heldMemory     int64 // runs holding a slot, and their memory limits summed
	slots, memory        int64 // app_slots: what the leases took
	leased, leasedMemory int64 // app_leases, summed
	running, used        int64 // app_leases' running and used, summed
	overLease, wanted    bool  // a node's runs hold more than its lease; runs wait
}

func readLease(t *testing.T, s *Store, app string) leaseState {
	t.Helper()
	var st leaseState
	err := s.pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM TaskExecutions WHERE AppName = $1 AND Status = 'running' AND SlotMemory IS NOT NULL),
		(SELECT coalesce(sum(SlotMemory), 0) FROM TaskExecutions WHERE AppName = $1 AND Status = 'running' AND SlotMemory IS NOT NULL)::bigint,
		coalesce((SELECT running FROM app_slots WHERE app = $1), 0)::bigint,
		coalesce((SELECT memory FROM app_slots WHERE app = $1), 0),
		(SELECT coalesce(sum(slots), 0) FROM app_leases WHERE app = $1)::bigint,
		(SELECT coalesce(sum(memory), 0) FROM app_leases WHERE app = $1)::bigint,
		(SELECT coalesce(sum(running), 0) FROM app_leases WHERE app = $1)::bigint,
		(SELECT coalesce(sum(used), 0) FROM app_leases WHERE app = $1)::bigint,
		EXISTS (SELECT 1 FROM app_leases l WHERE app = $1 AND (running > slots OR used > l.memory
			OR running <> (SELECT count(*) FROM TaskExecutions WHERE AppName = $1 AND Node = l.node
				AND Status = 'running' AND SlotMemory IS NOT NULL))),
		coalesce((SELECT wanted FROM app_slots WHERE app = $1), false)`, app).Scan(
		&st.held, &st.heldMemory, &st.slots, &st.memory, &st.leased, &st.leasedMemory, &st.running, &st.used,
		&st.overLease, &st.wanted)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLeaseQuotaAcrossNodes: three nodes, each with its own store and
// group writers, start and end runs of one app at once, with memory
// limits of their own; each node takes its runs' slots from its lease of
// the app's slots, which grows and shrinks meanwhile. Read in one
// snapshot, at every instant sampled: the runs holding slots never pass
// the app's quotas over the cluster, the leases never sum to more than
// the quotas and are what the app's row counts, and no node's runs hold
// more than its lease.
func TestLeaseQuotaAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	admin := openTest(t, url, Options{MaxConns: 1})
	const concurrency, quota = 6, 60
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)

	var (
		wg      sync.WaitGroup
		failed  atomic.Value
		started atomic.Int64
		done    = make(chan struct{})
	)
	for n := range 3 {
		name := fmt.Sprintf("n%d", n+1)
		s := openTest(t, url, Options{MaxConns: 4, Writers: 2})
		if _, err := s.RegisterNode(ctx, store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 30 {
					slot := &store.Slot{App: "a", Concurrency: concurrency, Memory: int64(1 + (w*7+i*3)%20), MemoryQuota: quota}
					id, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: name, Slot: slot})
					if err == nil && !slot.Taken {
						// Refused: the run waits, and takes one when it can.
						slot.Taken, err = s.TakeSlot(ctx, id, *slot)
					}
					if err == nil {
						if slot.Taken {
							started.Add(1)
						}
						err = s.FinishRun(ctx, id, store.RunEnd{App: "a", Status: store.StatusSucceeded, EndTime: at, Duration: time.Millisecond})
					}
					if err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	samples, busy := 0, 0
	for sampling := true; sampling; {
		select {
		case <-done:
			sampling = false
		default:
		}
		st := readLease(t, admin, "a")
		samples++
		if st.held > 1 {
			busy++
		}
		switch {
		case st.held > concurrency:
			t.Fatalf("%d runs hold a slot over the cluster; the quota is %d", st.held, concurrency)
		case st.held > 1 && st.heldMemory > quota:
			t.Fatalf("runs holding slots have %d of memory; the quota is %d", st.heldMemory, quota)
		case st.slots > concurrency || st.slots > 1 && st.memory > quota:
			t.Fatalf("the nodes lease %d slots, %d of memory; the quotas are %d, %d", st.slots, st.memory, concurrency, quota)
		case st.slots != st.leased || st.memory != st.leasedMemory:
			t.Fatalf("app_slots counts %d slots, %d of memory; the leases hold %d, %d", st.slots, st.memory, st.leased, st.leasedMemory)
		case st.overLease || st.running != st.held || st.used != st.heldMemory:
			t.Fatalf("the leases count %d runs (%d of memory) for %d holding slots (%d); or a node's runs hold more than its lease",
				st.running, st.used, st.held, st.heldMemory)
		}
	}
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	if busy == 0 || started.Load() == 0 {
		t.Fatalf("%d samples, %d with more than one run holding a slot, %d runs started: the test saw no contention", samples, busy, started.Load())
	}
	if st := readLease(t, admin, "a"); st.slots != 0 || st.memory != 0 || st.leased != 0 {
		t.Errorf("with every run ended, the nodes lease %d slots (%d of memory), app_slots counts %d; want none", st.leased, st.leasedMemory, st.slots)
	}
}

// four is the slot of the runs of twoNodes: of app a, whose quotas let
// four such runs hold one.
var four = store.Slot{App: "a", Concurrency: 4, Memory: 10, MemoryQuota: 1000}

// twoNodes registers the node n1 on s1 and n2 on s2 and returns a
// function that starts a run of app a on a node, asking for a slot
// (four), and returns its ID and whether it got one.
func twoNodes(t *testing.T, s1, s2 *Store) func(node string) (int64, bool) {
	t.Helper()
	stores := map[string]*Store{"n1": s1, "n2": s2}
	for name, s := range stores {
		if _, err := s.RegisterNode(t.Context(), store.NodeStatus{Name: name}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	return func(node string) (int64, bool) {
		t.Helper()
		slot := four
		id, err := stores[node].StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: node, Slot: &slot})
		if err != nil {
			t.Fatal(err)
		}
		return id, slot.Taken
	}
}

// threeOnN1 starts three runs on node n1 (start, of twoNodes) while the
// quota is empty, each of which gets a slot, and returns their IDs: n1's
// lease then holds four slots (it grew 1, 1, 2), one of them free.
func threeOnN1(t *testing.T, s *Store, start func(node string) (int64, bool)) []int64 {
	t.Helper()
	var ids []int64
	for range 3 {
		id, ok := start("n1")
		if !ok {
			t.Fatal("n1's run got no slot of an empty quota")
		}
		ids = append(ids, id)
	}
	if st := readLease(t, s, "a"); st.leased != 4 || st.held != 3 {
		t.Fatalf("n1 leases %d slots for %d runs; want 4 for 3 (its lease grew 1, 1, 2)", st.leased, st.held)
	}
	return ids
}

// TestLeaseOfALostNode: a node whose lease holds every slot of an app
// but the one another node holds is lost, and the sweep gives its whole
// lease back: the other node then gets every slot of the app.
func TestLeaseOfALostNode(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{WatchPoll: time.Hour})
	ctx := t.Context()
	start := twoNodes(t, s, s)
	threeOnN1(t, s, start)
	if _, ok := start("n2"); !ok { // n1's free one
		t.Fatal("n2's run got no slot, while n1 held one free")
	}
	waiter, ok := start("n2")
	if ok {
		t.Fatal("n2's run got a slot of a full quota")
	}
	// n1 is lost: its lease lapses.
	if _, err := s.pool.Exec(ctx, `UPDATE nodes SET lease_until = now() - interval '1 second' WHERE name = 'n1'`); err != nil {
		t.Fatal(err)
	}
	swept, err := s.SweepNodes(ctx, 0)
	if err != nil || len(swept) != 3 {
		t.Fatalf("SweepNodes = %d runs, %v; want n1's 3", len(swept), err)
	}
	if st := readLease(t, s, "a"); st.slots != 1 || st.memory != 10 || st.leased != 1 {
		t.Fatalf("after the sweep, app_slots counts %d slots (%d of memory), the leases hold %d; want n2's one", st.slots, st.memory, st.leased)
	}
	mustTakeSlot(t, s, waiter, four, true)
	for range 2 {
		if _, ok := start("n2"); !ok {
			t.Fatal("n2 got no slot of those n1's lease held")
		}
	}
}

// TestLeaseAfterTheQuotaIsLowered: a node's lease holds a slot free when
// the app's concurrency quota is lowered below what the leases hold; the
// node's next run is refused its slot rather than taken from the lease,
// and gets one once the runs fit the lowered quota.
func TestLeaseAfterTheQuotaIsLowered(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{WatchPoll: time.Hour})
	start := twoNodes(t, s, s)
	ids := threeOnN1(t, s, start)
	lowered := four
	lowered.Concurrency = 2
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	slot := lowered
	waiter, err := s.StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at, Node: "n1", Slot: &slot})
	if err != nil {
		t.Fatal(err)
	}
	if slot.Taken {
		t.Fatalf("a run got a slot from its node's lease with %d runs holding one and the quota lowered to 2", readLease(t, s, "a").held)
	}
	for _, id := range ids[:2] {
		if err := s.FinishRun(t.Context(), id, store.RunEnd{App: "a", Status: store.StatusSucceeded, EndTime: at, Duration: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	mustTakeSlot(t, s, waiter, lowered, true)
	if st := readLease(t, s, "a"); st.held != 2 || st.slots > 2 {
		t.Fatalf("%d runs hold a slot and app_slots counts %d; want 2 within the lowered quota of 2", st.held, st.slots)
	}
}

func mustTakeSlot(t *testing.T, s *Store, id int64, slot store.Slot, want bool) {
	t.Helper()
	if got, err := s.TakeSlot(t.Context(), id, slot); err != nil || got != want {
		t.Fatalf("TakeSlot(%d) = %v, %v; want %v", id, got, err, want)
	}
}

// TestLeaseGivesBackToAWaitingNode: a node holds every slot of an app in
// its lease, one free, while a write of the node holds its lease (a
// group under way): another node's run is refused one, without waiting
// for that write. At the first node's next end, its lease gives back
// what it holds free, and the waiting node is woken and gets a slot,
// though the first node still runs the app. A node that holds a slot
// free and writes nothing gives it at once to a node refused one.
func TestLeaseGivesBackToAWaitingNode(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{WatchPoll: time.Hour})
	ctx := t.Context()
	// Each node with its store: a store's group writer locks the leases
	// of all its nodes.
	start := twoNodes(t, s, openTest(t, url, Options{WatchPoll: time.Hour}))
	ids := threeOnN1(t, s, start)
	busy, err := s.pool.Begin(ctx) // n1's write under way
	if err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Exec(ctx, `SELECT 1 FROM app_leases WHERE app = 'a' AND node = 'n1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	waiter, ok := start("n2")
	if ok {
		t.Fatal("n2's run got a slot of a quota that n1 leases whole, while n1's write held its lease")
	}
	if st := readLease(t, s, "a"); !st.wanted {
		t.Fatal("a run was refused a slot, and the app is not marked wanted")
	}
	if err := busy.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	watch := openTest(t, url, Options{WatchPoll: time.Hour})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	woken := make(chan string, 16)
	watched := make(chan error, 1)
	go func() { watched <- watch.WatchSlots(wctx, func(app string) { woken <- app }) }()
	if app := <-woken; app != "" { // the read after LISTEN
		t.Fatalf("WatchSlots woke first for %q, want the read after LISTEN", app)
	}

	if err := s.FinishRun(ctx, ids[0], store.RunEnd{App: "a", Status: store.StatusSucceeded, EndTime: time.Now(), Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the waiting node to be woken", func() bool {
		select {
		case app := <-woken:
			return app == "a"
		default:
			return false
		}
	})
	if st := readLease(t, s, "a"); st.leased != 2 || st.held != 2 || st.wanted {
		t.Fatalf("after n1's end, the leases hold %d slots for %d runs, wanted %v; want n1's 2 runs' only, not wanted", st.leased, st.held, st.wanted)
	}
	mustTakeSlot(t, s, waiter, four, true)
	stop()
	<-watched

	// n1 takes a slot (its lease grows by one, the last) and gives it
	// back to its lease (nothing waits): it holds one free, and writes
	// nothing. n2's next run gets it at once.
	id, ok := start("n1")
	if !ok {
		t.Fatal("n1's run got no slot of the quota's last")
	}
	if err := s.FinishRun(ctx, id, store.RunEnd{App: "a", Status: store.StatusSucceeded, EndTime: time.Now(), Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	if st := readLease(t, s, "a"); st.slots != 4 || st.held != 3 {
		t.Fatalf("the leases hold %d slots for %d runs; want 4 for 3", st.slots, st.held)
	}
	if _, ok := start("n2"); !ok {
		t.Fatal("n2's run got no slot, while n1, writing nothing, held one free")
	}
	if st := readLease(t, s, "a"); st.slots != 4 || st.held != 4 || st.wanted {
		t.Fatalf("the leases hold %d slots for %d runs, wanted %v; want 4 for 4, not wanted", st.slots, st.held, st.wanted)
	}
}

// TestLeasesOfSlotsHeldBeforeLeases migrates a database whose runs hold
// slots (migration 20's app_slots) to leases: each node's lease is what
// its runs hold, and their ends give the slots back to the app's row.
func TestLeasesOfSlotsHeldBeforeLeases(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := t.Context()
	migs := migrations()
	old, err := open(ctx, url, Options{MaxConns: 1}, migs[:len(migs)-1])
	if err != nil {
		t.Fatal(err)
	}
	if migs[len(migs)-2].version != 20 {
		t.Fatalf("the migration before the last is %d; the test holds slots as migration 20 did", migs[len(migs)-2].version)
	}
	var ids []int64
	for _, node := range []string{"n1", "n1", "n2"} {
		var id int64
		if err := old.pool.QueryRow(ctx, `INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, StartTime, Node, SlotMemory)
			VALUES ('a', 't', 'running', 'manual', now(), $1, 10) RETURNING ID`, node).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := old.pool.Exec(ctx, `INSERT INTO app_slots (app, running, memory) VALUES ('a', 3, 30)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := openTest(t, url, Options{})
	var leases string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(format('%s:%s/%s,%s/%s', node, running, slots, used, memory), ' ' ORDER BY node)
		FROM app_leases WHERE app = 'a'`).Scan(&leases); err != nil {
		t.Fatal(err)
	}
	if want := "n1:2/2,20/20 n2:1/1,10/10"; leases != want {
		t.Errorf("leases after the migration %q, want %q", leases, want)
	}
	for _, id := range ids {
		if err := s.FinishRun(ctx, id, store.RunEnd{App: "a", Status: store.StatusSucceeded, EndTime: time.Now(), Duration: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if st := readLease(t, s, "a"); st.slots != 0 || st.memory != 0 || st.leased != 0 {
		t.Errorf("with the runs ended, app_slots counts %d slots (%d of memory), the leases %d; want none", st.slots, st.memory, st.leased)
	}
}
