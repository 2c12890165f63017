package store

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"sync"
)

// checkpointEvery is how many commits in a row the writer makes before it
// asks for a checkpoint without waiting to be idle.
const checkpointEvery = 64

// checkpointer copies the write-ahead log back into the database file on a
// connection of its own, so that no write waits for it. SQLite's own
// automatic checkpoint runs inside the commit that crosses 1,000 pages of
// log, and its syncs of the log and the database file (tens of
// milliseconds on a slow disk) then held up every write queued behind
// that commit. The writer asks for a checkpoint when it has nothing
// queued, or after checkpointEvery commits in a row; a request made while
// one runs is served by the next. Checkpoints are PASSIVE: they copy what
// no reader still needs and never block the writer or a reader. A commit
// is as durable as before: it is in the log when it returns, which is
// what a process crash needs, and Synchronous decides whether the log is
// synced.
type checkpointer struct {
	db *sql.DB

	wake    chan struct{} // buffered 1: a checkpoint is wanted
	quit    chan struct{}
	stopped chan struct{}

	hold func() // Options.checkpointHold

	mu     sync.Mutex
	frames int64 // log frames copied into the database so far
	err    error // of the last checkpoint
}

// openCheckpointer opens the checkpointer's connection to the file at abs
// and starts it.
func openCheckpointer(ctx context.Context, abs string, opts Options) (*checkpointer, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	db, err := openOne(abs, q)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	c := &checkpointer{db: db, hold: opts.checkpointHold, wake: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c, nil
}

// request asks for a checkpoint, without waiting.
func (c *checkpointer) request() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.stopped)
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		if c.hold != nil {
			c.hold()
		}
		c.checkpoint()
	}
}

// checkpoint copies what it can of the log into the database file.
func (c *checkpointer) checkpoint() {
	var busy, logged, copied int64
	err := c.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	if err == nil && copied > 0 {
		c.frames += copied
	}
}

// copied returns the log frames copied so far and the last error.
func (c *checkpointer) copied() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, c.err
}

// close stops the checkpointer and closes its connection; SQLite's last
// connection to close checkpoints what is left.
func (c *checkpointer) close() error {
	close(c.quit)
	<-c.stopped
	return c.db.Close()
}
