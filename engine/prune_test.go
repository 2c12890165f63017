package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// pruneCountingStore counts the ends that ask whether to prune, and
// holds PruneRuns until released, counting its calls.
type pruneCountingStore struct {
	*store.SQLite
	checks, prunes atomic.Int64
	hold           chan struct{} // PruneRuns waits for it to close
}

func (s *pruneCountingStore) engineStore() Store {
	st := SQLiteStore(s.SQLite)
	st.Runs, st.Retention = s, s
	return st
}

func (s *pruneCountingStore) EndRun(ctx context.Context, id int64, end store.RunEnd, after store.AfterEnd) (store.Ended, error) {
	if after.Keep > 0 {
		s.checks.Add(1)
	}
	return s.SQLite.EndRun(ctx, id, end, after)
}

func (s *pruneCountingStore) PruneRuns(ctx context.Context, app, task string, keep int, maxAge time.Duration, now time.Time) (int, error) {
	s.prunes.Add(1)
	<-s.hold
	return s.SQLite.PruneRuns(ctx, app, task, keep, maxAge, now)
}

func newPruneCountingBundle(t *testing.T, tasks string) (*bundle, *pruneCountingStore) {
	t.Helper()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: tasks, modules: map[string][]byte{"t": wasmtest.Hello()}})
	ps := &pruneCountingStore{SQLite: b.store, hold: make(chan struct{})}
	b.engine = b.newEngine(Config{}, ps.engineStore())
	return b, ps
}

// TestPruneCheckedEveryKeep64: the end of a run asks whether the history
// is due for pruning once every keep/64 ends of its task.
func TestPruneCheckedEveryKeep64(t *testing.T) {
	t.Parallel()
	b, ps := newPruneCountingBundle(t, `
tasks:
  - name: t
    retention: { keep: 640 }
`)
	close(ps.hold)
	b.start()
	for range 30 {
		b.trigger("demo", "t", nil)
	}
	if n := ps.checks.Load(); n != 3 {
		t.Errorf("30 ends asked %d times whether to prune, want 3 (every 640/64 = 10)", n)
	}
}

// TestOnePruneOfATaskAtOnce ends runs of a task whose history is due for
// pruning while its prune is under way: they start no other.
func TestOnePruneOfATaskAtOnce(t *testing.T) {
	t.Parallel()
	b, ps := newPruneCountingBundle(t, `
tasks:
  - name: t
    concurrency: allow
    retention: { keep: 1 }
`)
	b.start()
	events, unsubscribe := b.engine.Subscribe()
	defer unsubscribe()
	const runs = 6
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			if _, err := b.engine.Trigger(context.Background(), "demo", "t", nil, "alice"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for finished := 0; finished < runs; {
		if ev := <-events; ev.Type == EventRunFinished {
			finished++
		}
	}
	// Each end's rules, published with its finish, are applied by now.
	b.engine.mu.Lock()
	b.engine.mu.Unlock() //nolint:staticcheck // a barrier: the ends' locked sections are over
	if n := ps.prunes.Load(); n != 1 {
		t.Errorf("%d prunes under way at once, want 1", n)
	}
	close(ps.hold)
	b.idle()
	b.trigger("demo", "t", nil) // the first end after the prune prunes again
	if n := len(b.runs("demo", "t")); n > 2 {
		t.Errorf("%d runs kept, want 1 and the slack of a prune under way", n)
	}
}
