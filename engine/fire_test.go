package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// batchingStore is a store that keeps the runs of each RecordRuns call.
type batchingStore struct {
	*store.SQLite
	mu      sync.Mutex
	batches [][]store.Run
}

func (s *batchingStore) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	s.mu.Lock()
	s.batches = append(s.batches, runs)
	s.mu.Unlock()
	return s.SQLite.RecordRuns(ctx, runs)
}

// TestFiresOfAnInstantRecordedTogether: the tasks due at one instant are
// recorded in writes of Config.FireBatch runs, more of them than the fire
// workers take at first, the runs admitted and the one
// skipped alike, and a fire the store holds already (another node's)
// fails alone: the others are queued and announced.
func TestFiresOfAnInstantRecordedTogether(t *testing.T) {
	t.Parallel()
	const batch = 8
	const due = (maxFireWorkers+1)*batch + 3
	var tasks strings.Builder
	tasks.WriteString("tasks:\n  - name: busy\n    schedule: \"*/10 * * * *\"\n    concurrency: forbid\n    module: tasks/spin.wasm\n")
	for i := range due - 1 {
		fmt.Fprintf(&tasks, "  - name: t%03d\n    schedule: \"*/10 * * * *\"\n    module: tasks/hello.wasm\n", i)
	}
	b := newBundle(t, Config{GracePeriod: time.Millisecond}, testApp{name: "demo", quota: 2, tasks: tasks.String(),
		modules: map[string][]byte{"hello": wasmtest.Hello(), "spin": wasmtest.Spin()}})
	st := &batchingStore{SQLite: b.store}
	sq := SQLiteStore(b.store)
	sq.Runs = st
	b.engine = b.newEngine(Config{GracePeriod: time.Millisecond, EventBuffer: 4 * due, FireBatch: batch}, sq)
	at := t0.Add(10 * time.Minute)
	// Another node fired t000 at the instant already.
	if _, err := b.store.StartRun(t.Context(), store.Run{App: "demo", Task: "t000", Trigger: store.TriggerSchedule,
		ScheduledTime: at, StartTime: at, Node: "n2"}); err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := b.engine.Subscribe()
	defer unsubscribe()
	if err := b.engine.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// busy runs (it spins until the engine stops): its fire is skipped.
	busy, err := b.engine.Trigger(t.Context(), "demo", "busy", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, func(ev Event) bool { return ev.Type == EventRunStarted && ev.RunID == busy })
	st.mu.Lock()
	st.batches = nil
	st.mu.Unlock()

	b.clock.Advance(10 * time.Minute)
	queued := map[string]bool{}
	for len(queued) < due-2 {
		ev := waitEvent(t, events, func(ev Event) bool { return ev.Type == EventRunQueued || ev.Type == EventRunSkipped })
		if ev.Type == EventRunSkipped {
			if ev.Task != "busy" || ev.Message != reasonOverlap {
				t.Fatalf("%s skipped: %s; want busy alone skipped, as still running", ev.Task, ev.Message)
			}
			continue
		}
		if ev.Task == "t000" || ev.Task == "busy" || queued[ev.Task] {
			t.Fatalf("%s queued (again: %v); want each task but busy and t000 queued once", ev.Task, queued[ev.Task])
		}
		queued[ev.Task] = true
	}
	st.mu.Lock()
	batches := st.batches
	st.mu.Unlock()
	sizes := make([]int, len(batches))
	for i, b := range batches {
		sizes[i] = len(b)
	}
	want := []int{due % batch}
	for range due / batch {
		want = append(want, batch)
	}
	if slices.Sort(sizes); !slices.Equal(sizes, want) {
		t.Fatalf("RecordRuns calls of %v runs; want the %d fires of %v in %v", sizes, due, at, want)
	}
	for _, r := range slices.Concat(batches...) {
		want := store.StatusRunning
		if r.Task == "busy" {
			want = store.StatusSkipped
		}
		if !r.ScheduledTime.Equal(at) || r.Trigger != store.TriggerSchedule || r.Status != want {
			t.Errorf("%s recorded %s for %v by %s; want %s for %v by the schedule", r.Task, r.Status, r.ScheduledTime, r.Trigger, want, at)
		}
	}
	if err := b.engine.Healthy(); err != nil {
		t.Errorf("Healthy after a duplicate fire: %v", err)
	}
	if runs := b.runs("demo", "t000"); len(runs) != 1 || runs[0].Node != "n2" {
		t.Errorf("runs of t000: %+v; want the other node's alone", runs)
	}
}

// gatedStore holds back every RecordRuns call after the first once armed,
// until released.
type gatedStore struct {
	*store.SQLite
	mu      sync.Mutex
	armed   bool
	first   []store.Run // the runs of the first call once armed
	release chan struct{}
}

func (s *gatedStore) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	s.mu.Lock()
	wait := s.armed && s.first != nil
	if s.armed && s.first == nil {
		s.first = runs
	}
	s.mu.Unlock()
	if wait {
		<-s.release
	}
	return s.SQLite.RecordRuns(ctx, runs)
}

// TestFiresAnnouncedPerWrite: the fires of an instant recorded in one
// write of the store are announced as soon as that write is durable,
// while the other writes of the instant are still to be made.
func TestFiresAnnouncedPerWrite(t *testing.T) {
	t.Parallel()
	const batch = 4
	const due = (maxFireWorkers + 1) * batch
	var tasks strings.Builder
	tasks.WriteString("tasks:\n")
	for i := range due {
		fmt.Fprintf(&tasks, "  - name: t%03d\n    schedule: \"*/10 * * * *\"\n    module: tasks/hello.wasm\n", i)
	}
	b := newBundle(t, Config{GracePeriod: time.Millisecond}, testApp{name: "demo", quota: due, tasks: tasks.String(),
		modules: map[string][]byte{"hello": wasmtest.Hello()}})
	st := &gatedStore{SQLite: b.store, release: make(chan struct{})}
	release := sync.OnceFunc(func() { close(st.release) })
	sq := SQLiteStore(b.store)
	sq.Runs = st
	b.engine = b.newEngine(Config{GracePeriod: time.Millisecond, EventBuffer: 4 * due, FireBatch: batch}, sq)
	events, unsubscribe := b.engine.Subscribe()
	defer unsubscribe()
	if err := b.engine.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release) // before the engine stops: a failed test holds no write back
	st.mu.Lock()
	st.armed = true
	st.mu.Unlock()

	b.clock.Advance(10 * time.Minute)
	queued := map[string]bool{}
	for len(queued) < batch {
		ev := waitEvent(t, events, func(ev Event) bool { return ev.Type == EventRunQueued })
		queued[ev.Task] = true
	}
	st.mu.Lock()
	first := st.first
	st.mu.Unlock()
	if len(first) != batch {
		t.Fatalf("first write of %d runs; want %d", len(first), batch)
	}
	for _, r := range first {
		if !queued[r.Task] {
			t.Errorf("queued %v before the other writes; want the first write's runs, %s among them", queued, r.Task)
		}
	}
	release()
	for len(queued) < due {
		ev := waitEvent(t, events, func(ev Event) bool { return ev.Type == EventRunQueued })
		queued[ev.Task] = true
	}
}
