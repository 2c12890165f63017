package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// countingStore counts the calls of the reads and prunes a start makes
// per task or for all tasks at once.
type countingStore struct {
	store.Runs
	store.Retention
	mu    sync.Mutex
	calls map[string]int
}

func (s *countingStore) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *countingStore) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func (s *countingStore) LastScheduled(ctx context.Context, app, task string) (time.Time, error) {
	s.count("LastScheduled")
	return s.Runs.LastScheduled(ctx, app, task)
}

func (s *countingStore) LastScheduledOf(ctx context.Context, tasks []store.TaskRef) (map[store.TaskRef]time.Time, error) {
	s.count("LastScheduledOf")
	return s.Runs.LastScheduledOf(ctx, tasks)
}

func (s *countingStore) PruneRuns(ctx context.Context, app, task string, keep int, maxAge time.Duration, now time.Time) (int, error) {
	s.count("PruneRuns " + app + "/" + task)
	return s.Retention.PruneRuns(ctx, app, task, keep, maxAge, now)
}

func (s *countingStore) PruneDue(ctx context.Context, limits []store.PruneLimit, now time.Time) ([]store.TaskRef, error) {
	s.count("PruneDue")
	return s.Retention.PruneDue(ctx, limits, now)
}

// TestStartReadsHistoryInBulk restarts an engine of many scheduled tasks
// after a downtime: its start reads the last fire times of all the tasks
// in one read and looks for history to prune in one, pruning only the task
// over its keep, and still catches up each task by its own policy.
func TestStartReadsHistoryInBulk(t *testing.T) {
	t.Parallel()
	var y strings.Builder
	y.WriteString("tasks:\n")
	modules := map[string][]byte{}
	for i := range 20 {
		misfire := "skip"
		if i%2 == 0 {
			misfire = "run-once"
		}
		fmt.Fprintf(&y, "  - name: t%d\n    schedule: \"*/5 * * * *\"\n    misfire: %s\n", i, misfire)
		modules[fmt.Sprintf("t%d", i)] = wasmtest.Hello()
	}
	// pruned keeps 2 runs, and has 3 once it ran three times.
	y.WriteString("  - name: pruned\n    schedule: \"*/5 * * * *\"\n    retention: { keep: 2 }\n")
	modules["pruned"] = wasmtest.Hello()
	b := newDemo(t, Config{}, y.String(), modules)
	b.start()
	b.advance(10*time.Minute, 5*time.Minute)
	if err := b.engine.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One more run of pruned while stopped, as another process might.
	if _, err := b.store.StartRun(context.Background(), store.Run{App: "demo", Task: "pruned", StartTime: b.clock.Now(), Trigger: store.TriggerManual}); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(30 * time.Minute)

	cs := &countingStore{Runs: b.store, Retention: b.store, calls: map[string]int{}}
	st := SQLiteStore(b.store)
	st.Runs, st.Retention = cs, cs
	e, err := New(Config{Home: b.home, Store: st, Runtime: b.rt, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	b.engine = e
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	b.start()

	want := map[string]int{"LastScheduledOf": 1, "PruneDue": 1, "PruneRuns demo/pruned": 1}
	if got := cs.counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("start called %v; want %v", got, want)
	}
	for i := range 20 {
		runs := b.runs("demo", fmt.Sprintf("t%d", i))
		catchUp, skipped := count(runs, store.StatusSucceeded, store.TriggerCatchUp), count(runs, store.StatusSkipped, "")
		if wantCatchUp := 1 - i%2; catchUp != wantCatchUp || skipped != i%2 {
			t.Errorf("t%d: %d catch-up runs and %d skipped, want %d and %d", i, catchUp, skipped, wantCatchUp, i%2)
		}
	}
	// The oldest run of pruned, its first fire, went; the run that holds
	// its last fire time stays.
	for _, r := range b.runs("demo", "pruned") {
		if r.ScheduledTime.Equal(t0.Add(5 * time.Minute)) {
			t.Errorf("run %d of pruned, its first fire, is kept past its keep of 2", r.ID)
		}
	}
}

// TestShareTasksCopiesNothing checks that sharing the tasks of an app
// without overrides copies none of them: a start of many tasks would
// otherwise copy each, which the garbage collector then pays for.
func TestShareTasksCopiesNothing(t *testing.T) { // not parallel: it counts allocations
	var y strings.Builder
	y.WriteString("tasks:\n")
	for i := range 200 {
		fmt.Fprintf(&y, "  - name: t%d\n    schedule: \"H H * * *\"\n    module: tasks/t.wasm\n", i)
	}
	b := newDemo(t, Config{}, y.String(), map[string][]byte{"t": wasmtest.Hello()})
	a, merged, err := loadDefinition(b.engine.appsDir(), "demo", overrideSet{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var shared []*app.Task
	allocs := testing.AllocsPerRun(5, func() { shared = shareTasks(a, merged) })
	for i, task := range shared {
		if task != &a.Tasks[i] {
			t.Fatalf("task %d is a copy, not the app's own", i)
		}
	}
	if allocs > 20 {
		t.Errorf("sharing %d tasks took %.0f allocations; want a few, for the index and the result", len(merged), allocs)
	}
}

// TestTaskStateFitsItsSizeClass keeps taskState, one a task, within the
// 256-byte size class of Go's allocator: a few bytes more take the
// 288-byte class, 3 MB more at 100,000 tasks.
func TestTaskStateFitsItsSizeClass(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(taskState{}); size > 256 {
		t.Errorf("taskState is %d bytes, more than 256", size)
	}
}
