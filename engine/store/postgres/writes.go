package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cronbox/cronbox/engine/store"

	"github.com/cronbox/cronbox/internal/pending"
)

// maxGroup is the most writes a group holds.
const maxGroup = 256

// groupWriter sends the frequent writes of the store (a run's start, its
// log lines and its end, events) in groups. Each write is a batch of
// statements with the function that reads their results, as the store
// function that makes it owns them; the writer knows no SQL. Writes that
// arrive while every sender is busy queue up, and the next free sender
// sends all of them as one batch: one round trip, one transaction, one
// commit for the group. A caller returns once the transaction holding its
// write has committed, as if it had sent it alone.
//
// A statement that fails aborts its group's transaction, and with it the
// others' writes: the writer then sends each write of the group again
// alone, so that the failure is its own write's only. The frequent
// writes' statements report their usual outcomes (a fenced start, a run
// already ended) as results, not errors; what fails a statement (a unique
// index's violation: a time fired twice, a forbid task running on two
// nodes; a deadlock) is rare, and costs the group a second round trip. A
// write that meets a deadlock or a serialization failure alone is sent
// again (commitAlone).
type groupWriter struct {
	pool *pgxpool.Pool
	// appLock queues into a batch the statements that lock the rows the
	// writes of an app lock in common, in one order, and returns how
	// many: a group sends them before the first write of each app
	// (groupOp.slots), so that two writes of one app in a group, which
	// lock those rows in other orders (one a slot and its history, the
	// other its history only), do not meet another group in a circle.
	// nil sends none.
	appLock func(b *pgx.Batch, app string) int

	mu      sync.Mutex
	more    *sync.Cond // the queue grew, or the writer closed
	queue   []*groupOp
	closed  bool
	senders sync.WaitGroup
}

// groupOp is a write waiting for its outcome.
type groupOp struct {
	b    *pgx.Batch
	read func(pgx.BatchResults) error
	// slots is the app whose lease and app_slots row the write may
	// lock ("" when none): the writes of a group go in the order of
	// their apps, so that every group, and every statement that ends the
	// runs of several apps (slotsFirstSQL), locks the rows of app_slots
	// in one order, and none waits in a circle for another.
	slots string
	// last marks a write that takes a lock every writer of the database
	// takes (the events' advisory lock): it goes in a group of such
	// writes only (take), which holds the lock from its first statement
	// to its commit, and never waits for another lock while it holds
	// it, nor makes the other writes wait for it.
	last bool
	pending.Op
}

// newGroupWriter starts senders goroutines that send writes to pool,
// each group's with appLock (see groupWriter.appLock).
func newGroupWriter(pool *pgxpool.Pool, senders int, appLock func(b *pgx.Batch, app string) int) *groupWriter {
	w := &groupWriter{pool: pool, appLock: appLock}
	w.more = sync.NewCond(&w.mu)
	w.senders.Add(senders)
	for range senders {
		go w.send()
	}
	return w
}

// do sends the statements of b in a group and reads their results, in
// order, with read, which must read them all or return an error. It
// returns read's error, or the transaction's; if it returns an error
// other than read's, nothing of b was committed. ctx bounds the wait for
// a sender only: once a sender has taken the write, do waits for the
// outcome. slots and last place the write in its group (see groupOp).
func (w *groupWriter) do(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error, slots string, last bool) error {
	var err [1]error
	w.doAll(ctx, []write{{b: b, read: read, slots: slots}}, last, err[:])
	return err[0]
}

// write is one write of doAll: the statements of b, whose results read
// reads, and the app whose slots they may lock (groupOp.slots).
type write struct {
	b     *pgx.Batch
	read  func(pgx.BatchResults) error
	slots string
}

// doAll is do for each of writes, queued together and in their order, so
// that they share groups, and returns once every one has its outcome, in
// errs.
func (w *groupWriter) doAll(ctx context.Context, writes []write, last bool, errs []error) {
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	ops := make([]groupOp, len(writes))
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		for i := range errs {
			errs[i] = store.ErrClosed
		}
		return
	}
	for i, wr := range writes {
		op := &ops[i]
		op.b, op.read, op.slots, op.last = wr.b, wr.read, wr.slots, last
		op.Init()
		w.queue = append(w.queue, op)
	}
	w.mu.Unlock()
	if len(ops) == 1 {
		w.more.Signal()
	} else {
		w.more.Broadcast()
	}
	for i := range ops {
		errs[i] = ops[i].Wait(ctx)
	}
}

// close makes later writes fail and returns once the writes queued before
// have been answered.
func (w *groupWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.more.Broadcast()
	w.senders.Wait()
}

// take waits for queued writes and moves up to maxGroup of them into
// group, in the order of the apps whose slots they lock (those that lock
// none first, in the order they came). A group holds writes marked last
// or writes not marked, never both, of the kind of the write that has
// waited longest: a transaction that takes the events' lock holds it
// until its commit, and the writes of runs need not wait for it, nor
// the commits of other nodes' events that it waits for. It returns an
// empty group once the writer is closed and its queue empty.
func (w *groupWriter) take(group []*groupOp) []*groupOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 && !w.closed {
		w.more.Wait()
	}
	group = group[:0]
	if len(w.queue) == 0 {
		return group
	}
	last := w.queue[0].last
	rest := w.queue[:0]
	for _, op := range w.queue {
		if op.last == last && len(group) < maxGroup {
			group = append(group, op)
		} else {
			rest = append(rest, op)
		}
	}
	clear(w.queue[len(rest):]) // drop references to taken writes
	w.queue = rest
	slices.SortStableFunc(group, func(a, b *groupOp) int { return strings.Compare(a.slots, b.slots) })
	if len(w.queue) > 0 {
		w.more.Signal() // writes of the other kind for another sender
	}
	return group
}

// send sends groups until the writer is closed.
func (w *groupWriter) send() {
	defer w.senders.Done()
	var (
		group []*groupOp
		errs  []error
	)
	for {
		group = w.take(group)
		if len(group) == 0 {
			return
		}
		live := group[:0]
		for _, op := range group {
			if op.Take() {
				live = append(live, op)
			}
		}
		errs = slices.Grow(errs[:0], len(live))[:len(live)]
		clear(errs)
		if len(live) > 0 && w.commit(live, errs) && (len(live) > 1 || transient(errs[0])) {
			// The group's transaction failed on a statement: nothing of
			// it was committed. Each write alone finds whose it was.
			for i, op := range live {
				w.commitAlone(op, errs[i:i+1])
			}
		}
		for i, op := range live {
			op.Finish(errs[i])
		}
		clear(group) // drop references to answered writes
	}
}

// maxAlone is how often a write is sent alone while it fails on a
// deadlock or a serialization failure.
const maxAlone = 5

// commitAlone sends op alone and records its outcome in err[0], sending
// it again while it fails on a deadlock or a serialization failure: the
// database ends such a conflict by rolling one of its transactions back,
// nothing of it committed, and the same statements sent again get past
// it. Two groups of one node, or of two nodes, that touch the same rows
// in other orders meet such conflicts now and then; a caller should not
// see them.
func (w *groupWriter) commitAlone(op *groupOp, err []error) {
	for range maxAlone {
		w.commit([]*groupOp{op}, err)
		if !transient(err[0]) {
			return
		}
	}
}

// transient reports whether err is a deadlock or a serialization
// failure, which the same transaction sent again may not meet.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// commit sends group as one batch, one transaction, and records each
// write's outcome in errs. It reports whether the transaction failed on a
// statement (the database rolled it back, and said so), which sending
// each write again alone would tell apart.
func (w *groupWriter) commit(group []*groupOp, errs []error) (failedStatement bool) {
	// The statements are queued afresh: pgx keeps in each queued
	// statement the prepared statement it was sent as, which a failed
	// batch deallocates.
	b := &pgx.Batch{}
	locks := make([]int, len(group))
	for i, op := range group {
		if w.locksApp(group, i) {
			locks[i] = w.appLock(b, op.slots)
		}
		for _, q := range op.b.QueuedQueries {
			b.Queue(q.SQL, q.Arguments...)
		}
	}
	br := w.pool.SendBatch(context.Background(), b)
	for i, op := range group {
		r := &opResults{BatchResults: br, left: op.b.Len()}
		errs[i] = nil
		for range locks[i] {
			if _, err := br.Exec(); errs[i] == nil {
				errs[i] = err
			}
		}
		if errs[i] == nil {
			errs[i] = op.read(r)
		}
		// Whatever op left unread (after its error) is not the next
		// write's.
		for r.left > 0 {
			r.Exec()
		}
	}
	err := br.Close()
	var pgErr *pgconn.PgError
	failedStatement = errors.As(err, &pgErr)
	for i := range errs {
		failedStatement = failedStatement || errors.As(errs[i], &pgErr)
	}
	if err != nil || failedStatement {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
			if errs[i] == nil { // another write's statement failed
				errs[i] = errGroupFailed
			}
		}
	}
	return failedStatement
}

// locksApp reports whether the write group[i] of a group sorted by app
// (take) is the first of its app's, before which the group locks the
// app's rows (appLock). A write sent alone locks them too: its statements
// alone may lock the app's row of app_slots before its usage rows.
func (w *groupWriter) locksApp(group []*groupOp, i int) bool {
	return w.appLock != nil && group[i].slots != "" && (i == 0 || group[i-1].slots != group[i].slots)
}

// errGroupFailed is the outcome of a write whose group's transaction
// failed on another write's statement, before it is sent again alone.
var errGroupFailed = errors.New("the transaction of the write failed")

// opResults are the results of one write's statements among its group's.
type opResults struct {
	pgx.BatchResults
	left int // statements whose results are unread
}

// Exec implements pgx.BatchResults.
func (r *opResults) Exec() (pgconn.CommandTag, error) {
	r.left--
	return r.BatchResults.Exec()
}

// Query implements pgx.BatchResults.
func (r *opResults) Query() (pgx.Rows, error) {
	r.left--
	return r.BatchResults.Query()
}

// QueryRow implements pgx.BatchResults.
func (r *opResults) QueryRow() pgx.Row {
	r.left--
	return r.BatchResults.QueryRow()
}

// Close implements pgx.BatchResults: the writer closes the group's
// results, not a write.
func (r *opResults) Close() error { return nil }
