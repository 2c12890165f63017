package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"

	"github.com/cronbox/cronbox/internal/pending"
)

// writeFunc is one write: it runs inside a transaction that other writes
// share, within a savepoint of its own, so an error undoes its changes
// alone.
type writeFunc func(ctx context.Context, tx *sql.Tx) error

// committer performs every write of the store on its single write
// connection. Writes that arrive while a transaction runs queue up, and
// are then committed together in the next transaction: one commit, one
// append to the log (and with SyncFull one sync) for all of them. A caller
// returns when the transaction holding its write has committed.
//
// Writes that record fires (doFires) go first: a commit takes the queued
// fires before any other write, at most maxCommitFires runs of them, and
// one that holds shareFires runs or more holds nothing else. The fires
// of a large instant are then written one commit after the other, while
// the fire workers whose commit has returned prepare their next batch,
// and the writes that came with the fires' runs (their events, the ends
// of the runs started meanwhile) wait for the instant to be recorded.
type committer struct {
	db       *sql.DB
	maxBatch int
	// save, undo and release manage each write's savepoint.
	save, undo, release *sql.Stmt

	mu     sync.Mutex
	fires  []*writeOp // writes of doFires, taken first
	queue  []*writeOp // the other writes
	closed bool

	wake    chan struct{} // buffered 1: the queue may have grown
	stopped chan struct{}

	// checkpoint asks for the log to be copied back into the database
	// file, when the writer is idle or has committed checkpointEvery
	// times in a row (see checkpointer).
	checkpoint func()
}

// writeOp is a write waiting for its outcome.
type writeOp struct {
	ctx context.Context
	fn  writeFunc
	// single marks a write that changes the database with at most one
	// statement: SQLite undoes a failed statement by itself, so it needs
	// no savepoint of its own.
	single bool
	// fires is how many runs a write of doFires records; 0 for the
	// other writes.
	fires int
	pending.Op
}

// newCommitter starts the goroutine that writes to db, which must have
// exactly one connection, opened with _txlock=immediate.
func newCommitter(ctx context.Context, db *sql.DB, maxBatch int, checkpoint func()) (*committer, error) {
	c := &committer{
		db:         db,
		maxBatch:   maxBatch,
		checkpoint: checkpoint,
		wake:       make(chan struct{}, 1),
		stopped:    make(chan struct{}),
	}
	err := prepareAll(ctx, db, []stmtDef{
		{&c.save, "SAVEPOINT write"},
		{&c.undo, "ROLLBACK TO write"},
		{&c.release, "RELEASE write"},
	})
	if err != nil {
		return nil, err
	}
	go c.loop()
	return c, nil
}

// do performs fn in a write transaction and returns its error, or the
// transaction's; if do returns an error, fn's changes were not committed.
// ctx bounds the wait for the writer only: once the writer has taken fn, fn
// runs to the end with ctx's values but without its cancellation, since
// interrupting SQLite inside a transaction rolls back the whole
// transaction, and do waits for the outcome.
func (c *committer) do(ctx context.Context, fn writeFunc) error {
	return c.enqueue(ctx, &writeOp{fn: fn})
}

// doOne is do for a write whose fn changes the database with at most one
// statement (it may read before and after): it saves the savepoint that do
// wraps around each write, which is most of the cost of a small write.
func (c *committer) doOne(ctx context.Context, fn writeFunc) error {
	return c.enqueue(ctx, &writeOp{fn: fn, single: true})
}

// doFires is doOne for a write that records n runs fired (or skipped),
// which goes before the other writes queued (see committer).
func (c *committer) doFires(ctx context.Context, n int, fn writeFunc) error {
	return c.enqueue(ctx, &writeOp{fn: fn, single: true, fires: max(n, 1)})
}

// The bounds of the fires in a commit (see committer). Four fire workers
// of the engine, each recording 256 runs a write (engine.Config.FireBatch),
// have two writes in a commit and two queued for the next.
const (
	maxCommitFires = 512
	shareFires     = 64
)

func (c *committer) enqueue(ctx context.Context, op *writeOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op.ctx = context.WithoutCancel(ctx)
	op.Init()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if op.fires > 0 {
		c.fires = append(c.fires, op)
	} else {
		c.queue = append(c.queue, op)
	}
	c.mu.Unlock()
	c.signal()
	return op.Wait(ctx)
}

// signal wakes the writer if it waits.
func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close makes later writes fail with ErrClosed and returns once the writes
// queued before have been answered.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	<-c.stopped
}

// take moves the writes of the next commit into batch, at most maxBatch:
// fires first (see committer), and reports whether the committer is
// closed.
func (c *committer) take(batch []*writeOp) ([]*writeOp, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, fires := 0, 0
	for n < len(c.fires) && n < c.maxBatch && (n == 0 || fires+c.fires[n].fires <= maxCommitFires) {
		fires += c.fires[n].fires
		n++
	}
	batch = append(batch[:0], c.fires[:n]...)
	c.fires = dropFirst(c.fires, n)
	if fires < shareFires {
		n = min(len(c.queue), c.maxBatch-len(batch))
		batch = append(batch, c.queue[:n]...)
		c.queue = dropFirst(c.queue, n)
	}
	return batch, c.closed
}

// dropFirst removes the first n writes of q, in place.
func dropFirst(q []*writeOp, n int) []*writeOp {
	rest := copy(q, q[n:])
	clear(q[rest:]) // drop references to taken writes
	return q[:rest]
}

func (c *committer) loop() {
	defer close(c.stopped)
	var (
		batch   []*writeOp
		closed  bool
		errs    = make([]error, c.maxBatch)
		commits int // since the last request for a checkpoint
		yielded bool
	)
	for {
		batch, closed = c.take(batch)
		if len(batch) == 0 && commits > 0 && !yielded {
			// The callers just answered are runnable, most of them on
			// this goroutine's processor, and many write again at once
			// (a trigger's caller triggers the next run, a run that
			// started soon ends). Woken by the first of them, the
			// writer would commit its write alone while the others
			// wait for the processor; letting them run first puts
			// their writes into one commit, whose page writes they
			// share. Nothing was queued: a write that arrives meanwhile
			// waits for the goroutines runnable before the writer, as
			// it would behind a writer preempted in a long commit.
			yielded = true
			runtime.Gosched()
			continue
		}
		yielded = false
		if len(batch) == 0 {
			if commits > 0 {
				c.checkpoint()
				commits = 0
			}
			if closed {
				return
			}
			<-c.wake
			continue
		}
		c.run(batch, errs)
		clear(batch) // drop references to answered writes
		if commits++; commits >= checkpointEvery {
			c.checkpoint()
			commits = 0
		}
	}
}

// run commits the writes of batch that their callers still wait for, and
// answers them.
func (c *committer) run(batch []*writeOp, errs []error) {
	live := batch[:0]
	for _, op := range batch {
		if op.Take() {
			live = append(live, op)
		}
	}
	if len(live) == 0 {
		return
	}
	errs = errs[:len(live)]
	clear(errs)
	err := c.commit(live, errs)
	for i, op := range live {
		if errs[i] == nil {
			errs[i] = err
		}
		op.Finish(errs[i])
	}
}

// commit runs batch in one transaction, recording each write's own error
// in errs, and returns the error that kept the transaction from committing.
// Writes whose error is nil were committed if the returned error is nil.
func (c *committer) commit(batch []*writeOp, errs []error) error {
	ctx := context.Background()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	save, undo, release := tx.Stmt(c.save), tx.Stmt(c.undo), tx.Stmt(c.release)
	for i, op := range batch {
		if op.single {
			// A failed statement leaves the transaction as it was, or,
			// for the errors that end it (a full disk), makes the
			// commit fail.
			errs[i] = op.fn(op.ctx, tx)
			continue
		}
		if _, err := save.ExecContext(ctx); err != nil {
			tx.Rollback()
			return fmt.Errorf("writing: %w", err)
		}
		if errs[i] = op.fn(op.ctx, tx); errs[i] != nil {
			// Some errors (a full disk) end the transaction; then undo
			// fails and the whole batch fails with them.
			if _, err := undo.ExecContext(ctx); err != nil {
				tx.Rollback()
				return fmt.Errorf("writing: %w (after %w)", err, errs[i])
			}
		}
		if _, err := release.ExecContext(ctx); err != nil {
			tx.Rollback()
			return fmt.Errorf("writing: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}
