package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"
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
