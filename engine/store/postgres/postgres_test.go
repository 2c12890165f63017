package postgres

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/pgtest"
)

func openTest(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 4
	}
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestOpenConcurrently opens a new database from several goroutines at
// once, as the nodes of a cluster starting together do: every Open
// succeeds, and each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	migs := migrations()
	for range n {
		wg.Go(func() {
			s, err := open(t.Context(), url, Options{MaxConns: 2}, migs)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d concurrent Opens failed: %v", len(errs), n, err)
	}
	s := openTest(t, url, Options{})
	var versions, rows int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(DISTINCT version), count(*) FROM schema_version`).Scan(&versions, &rows); err != nil {
		t.Fatal(err)
	}
	if want := len(migs); versions != want || rows != want {
		t.Errorf("schema_version holds %d versions in %d rows, want %d of each", versions, rows, want)
	}
}

// TestMigrateOnce migrates a database twice: the second time applies
// nothing.
func TestMigrateOnce(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	n, err := migrate(t.Context(), s.pool, migrations(), time.Now())
	if err != nil || n != 0 {
		t.Errorf("migrating a migrated database applied %d steps, %v; want 0", n, err)
	}
}

// TestSchemaTooNew opens a database that a newer Cronbox migrated.
func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{})
	latest := migrations()[len(migrations())-1].version
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_version (version, applied_at) VALUES ($1, now())`, latest+3); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), url, Options{MaxConns: 1})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want %v", err, store.ErrSchemaTooNew)
	}
	for _, want := range []string{fmt.Sprintf("version %d", latest+3), fmt.Sprintf("up to %d", latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestKVQuotaConcurrent has many writers, on two connections each, fill
// an app's store at once: together they never pass its quota.
func TestKVQuotaConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const (
		quota   = 1000
		writers = 8
		each    = 10 // keys per writer, of 2+98 bytes: 80 keys want 8000 bytes
	)
	stores := []*Store{openTest(t, url, Options{MaxConns: 4}), openTest(t, url, Options{MaxConns: 4})}
	var (
		wg       sync.WaitGroup
		accepted sync.Map
	)
	for w := range writers {
		wg.Go(func() {
			kv := stores[w%2].KVWithQuota("a", quota)
			for i := range each {
				key := fmt.Sprintf("%c%c", 'a'+w, 'a'+i)
				err := kv.Set(t.Context(), key, make([]byte, 98))
				switch {
				case err == nil:
					accepted.Store(key, true)
				case !errors.Is(err, hostapi.ErrQuota):
					t.Errorf("Set(%s): %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	accepted.Range(func(any, any) bool { n++; return true })
	used, err := stores[0].KVUsage(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT coalesce(sum(octet_length(key) + octet_length(value)), 0) FROM kv WHERE app = 'a'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if used != stored || stored > quota || n != quota/100 {
		t.Errorf("%d writes accepted, %d bytes stored, usage %d; want %d writes, at most %d bytes, usage as stored", n, stored, used, quota/100, quota)
	}
}

// TestAppendLogsConcurrent appends the lines of one run from several
// writers at once: every line is kept, numbered without gaps or repeats.
func TestAppendLogsConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s1, s2 := openTest(t, url, Options{}), openTest(t, url, Options{})
	now := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	id, err := s1.StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: now})
	if err != nil {
		t.Fatal(err)
	}
	const writers, batches, size = 6, 10, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := []*Store{s1, s2}[w%2]
			for b := range batches {
				lines := make([]store.LogLine, size)
				for i := range lines {
					lines[i] = store.LogLine{Time: now, Level: "info", Message: fmt.Sprintf("w%d b%d l%d", w, b, i)}
				}
				if err := s.AppendLogs(t.Context(), id, lines); err != nil {
					t.Errorf("AppendLogs: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	lines, err := s1.RunLogs(t.Context(), id, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i+1, l.Seq)
		}
		seen[l.Message] = true
	}
	if len(lines) != writers*batches*size || len(seen) != len(lines) {
		t.Errorf("%d lines (%d distinct), want %d", len(lines), len(seen), writers*batches*size)
	}
}

// TestMaxLogLines keeps a run's first MaxLogLines lines and counts the
// rest, also when FinishRun brings them.
func TestMaxLogLines(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{MaxLogLines: 3})
	ctx := t.Context()
	now := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	id, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: now})
	if err != nil {
		t.Fatal(err)
	}
	line := store.LogLine{Time: now, Level: "info", Message: "12345"}
	if err := s.AppendLogs(ctx, id, []store.LogLine{line, line}); err != nil {
		t.Fatal(err)
	}
	end := store.RunEnd{Status: store.StatusSucceeded, EndTime: now, Logs: []store.LogLine{line, line, line}, LogsDropped: 4, Output: "out"}
	if err := s.FinishRun(ctx, id, end); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := s.RunLogs(ctx, id, 0, 10)
	if len(lines) != 3 || r.LogsDropped != 2+4 {
		t.Errorf("%d lines kept, %d dropped; want 3 and 6", len(lines), r.LogsDropped)
	}
	if used, err := s.HistoryUsage(ctx, "a"); err != nil || used != 3*5+3 {
		t.Errorf("HistoryUsage = %d, %v; want %d", used, err, 3*5+3)
	}
}

// TestPruneHistory deletes an app's oldest finished runs until its
// history fits its quota, keeping running runs and the run holding
// LastScheduled.
func TestPruneHistory(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	epoch := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	var ids []int64
	for i := range 6 {
		r := store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: epoch.Add(time.Duration(i) * time.Minute)}
		if i == 0 {
			r.Trigger, r.ScheduledTime = store.TriggerSchedule, r.StartTime
		}
		id, err := s.StartRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if i == 5 {
			break // running: 0 bytes, kept
		}
		if err := s.FinishRun(ctx, id, store.RunEnd{Status: store.StatusSucceeded, EndTime: r.StartTime, Output: strings.Repeat("x", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := s.StartRun(ctx, store.Run{App: "b", Task: "t", Trigger: store.TriggerManual, StartTime: epoch})
	if err := s.FinishRun(ctx, other, store.RunEnd{Status: store.StatusFailed, EndTime: epoch, Output: strings.Repeat("y", 1000)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneHistory(ctx, "a", 500); err != nil || n != 0 {
		t.Fatalf("PruneHistory within quota = %d, %v", n, err)
	}
	n, err := s.PruneHistory(ctx, "a", 250)
	if err != nil || n != 3 {
		t.Fatalf("PruneHistory = %d, %v; want 3 (runs %d to %d)", n, err, ids[1], ids[3])
	}
	runs, _ := s.ListRuns(ctx, store.RunFilter{Apps: []string{"a"}})
	var left []int64
	for _, r := range runs {
		left = append(left, r.ID)
	}
	if want := []int64{ids[5], ids[4], ids[0]}; fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("runs left %v, want %v", left, want)
	}
	if used, _ := s.HistoryUsage(ctx, "a"); used != 200 {
		t.Errorf("HistoryUsage = %d, want 200", used)
	}
	if used, _ := s.HistoryUsage(ctx, "b"); used != 1000 {
		t.Errorf("HistoryUsage(b) = %d, want 1000", used)
	}
}

// TestEventIDsConcurrent appends events from two stores at once: IDs are
// unique, and every event is read back in ID order.
func TestEventIDsConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	stores := []*Store{openTest(t, url, Options{}), openTest(t, url, Options{})}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 25 {
				if _, err := stores[w%2].AppendEvent(t.Context(), store.Event{Type: "x"}); err != nil {
					t.Errorf("AppendEvent: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	evs, err := stores[0].Events(t.Context(), store.EventFilter{Limit: store.MaxLimit})
	if err != nil || len(evs) != 100 {
		t.Fatalf("%d events, %v; want 100", len(evs), err)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("event IDs out of order: %d after %d", evs[i].ID, evs[i-1].ID)
		}
	}
}

// TestDuplicateIsOnlyTheScheduledTime: only the index of scheduled times
// makes StartRun answer ErrDuplicate; another unique violation (an ID
// taken behind the sequence's back) is an error of its own.
func TestDuplicateIsOnlyTheScheduledTime(t *testing.T) {
	t.Parallel()
	s := openTest(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	if _, err := s.pool.Exec(ctx, `INSERT INTO TaskExecutions (ID, AppName, TaskName, Status, StartTime) VALUES (1, 'a', 't', 'running', $1)`, at); err != nil {
		t.Fatal(err)
	}
	_, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at})
	if err == nil || errors.Is(err, store.ErrDuplicate) {
		t.Errorf("StartRun on a taken ID = %v; want an error that is not ErrDuplicate", err)
	}
}
