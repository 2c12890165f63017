package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// progressStore is a SQLite store that records progress as a store shared
// by several nodes does (store.RunProgress), and keeps what it was given.
type progressStore struct {
	*store.SQLite
	mu     sync.Mutex
	writes []store.Progress  // AppendProgress's, in order
	ends   []*store.Progress // EndRun's
}

func (s *progressStore) AppendProgress(ctx context.Context, id int64, lines []store.LogLine, p store.Progress) error {
	s.mu.Lock()
	s.writes = append(s.writes, p)
	s.mu.Unlock()
	if len(lines) == 0 {
		return nil
	}
	return s.SQLite.AppendLogs(ctx, id, lines)
}

func (s *progressStore) EndRun(ctx context.Context, id int64, end store.RunEnd, after store.AfterEnd) (store.Ended, error) {
	s.mu.Lock()
	s.ends = append(s.ends, end.Progress)
	s.mu.Unlock()
	return s.SQLite.EndRun(ctx, id, end, after)
}

// TestProgressRidesWithTheLogs: a run that reports its progress at each
// of its 200 steps, and logs a line at each, writes its progress with its
// batches of lines, not once a report, and its last report with its end.
func TestProgressRidesWithTheLogs(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: work\n",
		modules: map[string][]byte{"work": wasmtest.Build(t, "../web/ui/testdata/progress")}})
	ps := &progressStore{SQLite: b.store}
	st := SQLiteStore(b.store)
	st.Runs = ps
	b.engine = b.newEngine(Config{}, st)
	b.start()
	const steps = 200
	if r := b.trigger("demo", "work", []byte(`{"steps": 200, "sleepMs": 0}`)); r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	// The lines fill a batch of LogBatch (64) three times; the flush
	// timer (LogFlush, on the bundle's fake clock) does not fire.
	if n := len(ps.writes); n == 0 || n > steps/64+1 {
		t.Errorf("%d writes of progress for %d reports; want one a batch of lines", n, steps)
	}
	for i := 1; i < len(ps.writes); i++ {
		if ps.writes[i].Percent < ps.writes[i-1].Percent {
			t.Errorf("progress written %v after %v", ps.writes[i], ps.writes[i-1])
		}
	}
	if len(ps.ends) != 1 || ps.ends[0] == nil || *ps.ends[0] != (store.Progress{Percent: 100, Message: "step 200"}) {
		t.Errorf("the end carries the progress %v; want 100%% step 200", ps.ends)
	}
}
