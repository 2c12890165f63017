// Package pending is a write queued for a writer goroutine, with its
// caller waiting for the outcome: the caller may leave before the writer
// takes it, and then the writer leaves it out; once the writer has it, the
// caller waits for its outcome whatever its context says, since a write
// under way cannot be called back.
//
// Both stores' writers (SQLite's committer, PostgreSQL's group writer)
// queue their writes as pending.Op.
package pending

import (
	"context"
	"sync/atomic"
)

// The states of an Op.
const (
	queued    int32 = iota
	taken           // the writer has it: the caller waits for the outcome
	abandoned       // the caller left before the writer took it
)

// Op is the state of one queued write. Init it before it is queued; it
// must not be copied after.
type Op struct {
	state atomic.Int32
	done  chan error // buffered: the writer never waits for the caller
}

// Init makes o ready to be queued.
func (o *Op) Init() { o.done = make(chan error, 1) }

// Wait returns the outcome of the write. If ctx ends before the writer
// takes it, Wait returns ctx's error and the writer leaves the write out
// (Take reports false); after, Wait waits for the outcome.
func (o *Op) Wait(ctx context.Context) error {
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		return <-o.done
	}
}

// Take is the writer's: it reports whether the caller still waits, and if
// so the write is the writer's to run and Finish.
func (o *Op) Take() bool { return o.state.CompareAndSwap(queued, taken) }

// Finish gives a taken write its outcome. The writer calls it once.
func (o *Op) Finish(err error) { o.done <- err }
