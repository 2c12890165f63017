package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// newTestCommitter returns a committer on a new database with a table t,
// without starting its loop.
func newTestCommitter(t *testing.T) (*committer, *sql.DB) {
	t.Helper()
	opts, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	db, err := openWriter(t.Context(), filepath.Join(t.TempDir(), "db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	c := &committer{db: db, maxBatch: 8, wake: make(chan struct{}, 1), stopped: make(chan struct{}), checkpoint: func() {}}
	if err := prepareAll(t.Context(), db, []stmtDef{
		{&c.save, "SAVEPOINT write"}, {&c.undo, "ROLLBACK TO write"}, {&c.release, "RELEASE write"},
	}); err != nil {
		t.Fatal(err)
	}
	return c, db
}

// insert returns a write that inserts x.
func insert(x int) writeFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, x)
		return err
	}
}

func values(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT x FROM t ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var xs []int
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	return xs
}

// TestCommitBatch commits writes together, one of them failing halfway:
// only that one is undone.
func TestCommitBatch(t *testing.T) {
	t.Parallel()
	c, db := newTestCommitter(t)
	errHalfway := errors.New("failing halfway")
	ops := []*writeOp{
		{ctx: t.Context(), fn: insert(1)},
		{ctx: t.Context(), fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			return errHalfway
		}},
		{ctx: t.Context(), fn: insert(1)}, // a constraint violation
		{ctx: t.Context(), fn: insert(3)},
		// Single-statement writes, without savepoints: a failing one
		// leaves its neighbours alone.
		{ctx: t.Context(), fn: insert(4), single: true},
		{ctx: t.Context(), fn: insert(3), single: true}, // a constraint violation
		{ctx: t.Context(), fn: insert(5), single: true},
	}
	errs := make([]error, len(ops))
	if err := c.commit(ops, errs); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], errHalfway) || !isUnique(errs[2]) || errs[3] != nil ||
		errs[4] != nil || !isUnique(errs[5]) || errs[6] != nil {
		t.Errorf("errors = %v", errs)
	}
	if got, want := values(t, db), []int{1, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
}

// TestCommitterCancel checks both sides of a caller leaving: before the
// writer takes its write, the write never happens; after, it commits and
// the caller learns so.
func TestCommitterCancel(t *testing.T) {
	t.Parallel()
	c, db := newTestCommitter(t)

	// The loop is not running yet: the write waits in the queue.
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error)
	go func() { result <- c.do(ctx, insert(1)) }()
	<-c.wake // queued
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("do = %v, want %v", err, context.Canceled)
	}

	go c.loop()
	ctx, cancel = context.WithCancel(t.Context())
	err := c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cancel() // the caller gives up while the writer runs its write
		return insert(2)(ctx, tx)
	})
	if err != nil {
		t.Errorf("do canceled while running = %v, want nil: the write committed", err)
	}
	c.close()
	if err := c.do(t.Context(), insert(3)); !errors.Is(err, ErrClosed) {
		t.Errorf("do after close = %v, want %v", err, ErrClosed)
	}
	if got := values(t, db); len(got) != 1 || got[0] != 2 {
		t.Errorf("committed %v, want [2]", got)
	}
}

// TestCommitterFiresFirst: writes that record fires are committed before
// the writes queued with them, up to maxCommitFires runs a commit, and a
// commit of shareFires runs or more holds nothing else; a small fire
// shares its commit.
func TestCommitterFiresFirst(t *testing.T) {
	t.Parallel()
	c, db := newTestCommitter(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	// queue queues a write inserting x, of fires runs (0: not a fire),
	// and waits until it is queued (the loop does not run: take is
	// called below).
	queue := func(x, fires int) {
		wg.Go(func() {
			var err error
			if fires > 0 {
				err = c.doFires(t.Context(), fires, insert(x))
			} else {
				err = c.do(t.Context(), insert(x))
			}
			if err != nil {
				t.Errorf("write of %d: %v", x, err)
			}
		})
		<-c.wake
	}
	var commits [][]int
	errs := make([]error, c.maxBatch)
	commit := func() {
		for {
			batch, _ := c.take(nil)
			if len(batch) == 0 {
				return
			}
			before := values(t, db)
			c.run(batch, errs)
			commits = append(commits, slices.DeleteFunc(values(t, db), func(x int) bool { return slices.Contains(before, x) }))
		}
	}
	queue(1, 0)
	queue(2, maxCommitFires-100)
	queue(3, 101) // more than 2 leaves room for
	queue(4, 1)
	queue(5, 0)
	queue(6, shareFires-1)
	commit()
	queue(7, 0)
	queue(8, shareFires-1)
	commit()
	want := [][]int{{2}, {3, 4, 6}, {1, 5}, {7, 8}}
	if !slices.EqualFunc(commits, want, slices.Equal) {
		t.Errorf("commits of %v; want %v", commits, want)
	}
}

// TestRecordRunsAreFires: RecordRuns queues its runs as fires, which go
// before the other writes (TestCommitterFiresFirst).
func TestRecordRunsAreFires(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "cronbox.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Hold the writer in a write, so that the next ones queue.
	held, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release) // before wg.Wait: a failing test lets the writer go
	wg.Go(func() {
		err := s.w.do(t.Context(), func(context.Context, *sql.Tx) error {
			close(held)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-held
	const n = 3
	at := time.Now().Truncate(time.Second)
	runs := make([]Run, n)
	for i := range runs {
		runs[i] = Run{App: "a", Task: fmt.Sprint("t", i), Trigger: TriggerSchedule, ScheduledTime: at, StartTime: at}
	}
	wg.Go(func() {
		for _, rec := range s.RecordRuns(t.Context(), runs) {
			if rec.Err != nil {
				t.Error(rec.Err)
			}
		}
	})
	wg.Go(func() {
		if _, err := s.AppendEvent(t.Context(), Event{Type: "run.queued", App: "a", Task: "t0"}); err != nil {
			t.Error(err)
		}
	})
	// Each write queued wakes the writer, which waits in the held one:
	// a wake-up is seen here after the queue has grown.
	var fires, firesOf, others int
	for fires+others < 2 {
		<-s.w.wake
		s.w.mu.Lock()
		fires, others = len(s.w.fires), len(s.w.queue)
		if fires == 1 {
			firesOf = s.w.fires[0].fires
		}
		s.w.mu.Unlock()
	}
	if fires != 1 || firesOf != n || others != 1 {
		t.Errorf("queued %d fires (the first of %d runs) and %d other writes; want the %d runs as one fire, the event as another write", fires, firesOf, others, n)
	}
}

// TestCommitGroupsWritesThatFollow: callers that write again as soon as
// they are answered share commits, even on one processor, where the
// writer woken by the first of them would otherwise commit each write
// alone while the others wait for the processor.
func TestCommitGroupsWritesThatFollow(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, _ := newTestCommitter(t)
	go c.loop()
	defer c.close()
	const callers, each = 8, 50
	txs := map[*sql.Tx]bool{} // written by the writer's goroutine only
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for j := range each {
				err := c.do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
					txs[tx] = true
					return insert(i*each+j)(ctx, tx)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.close()
	writes := callers * each
	if commits := len(txs); commits > writes/4 {
		t.Errorf("%d writes took %d commits, want %d at most", writes, commits, writes/4)
	}
}
