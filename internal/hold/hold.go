// Package hold is the gate of a run started ahead of its work: the guest
// starts and runs, and its first call of a host function that can have an
// effect waits at the gate until the run's owner opens it.
//
// The runtime makes a Gate for a held run and puts it in the context of
// every call of the guest (With); each host module with effects calls Pass
// first. A run that carries no Gate passes at once.
package hold

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// state is where a gated run is.
type state int

const (
	starting state = iota // the guest runs its start-up; the start-up bound runs
	waiting               // the guest waits at the gate; no bound runs
	released              // open: the run has its work, the time limit runs
	ended                 // the run ended, or is ending, without being released
)

// Gate holds a run back at its first effect. Make one with New; it serves
// one run.
type Gate struct {
	open atomic.Bool // released: the fast path of Pass

	mu      sync.Mutex
	state   state
	limit   *time.Timer   // the run's time limit, armed by Start
	d       time.Duration // its duration
	at      time.Time     // when it was released
	arrived chan struct{} // closed when the guest waits at the gate
	release chan struct{} // closed when the gate opens
	// park and unpark, if set, are called by the waiting guest's
	// goroutine before it waits at the gate and once it is done waiting.
	park, unpark func()
}

// New returns a closed gate.
func New() *Gate {
	return &Gate{arrived: make(chan struct{}), release: make(chan struct{})}
}

type key struct{}

// With returns ctx carrying g. A nil g is carried too: it makes Pass as
// cheap as it can be for a run that is not held.
func With(ctx context.Context, g *Gate) context.Context {
	return context.WithValue(ctx, key{}, g)
}

// Pass waits until the gate of the run of ctx opens, if it has one. It
// returns false if the run ended first: the caller must then have no
// effect, and return at once.
func Pass(ctx context.Context) bool {
	g, _ := ctx.Value(key{}).(*Gate)
	if g == nil || g.open.Load() {
		return true
	}
	return g.wait(ctx)
}

func (g *Gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	switch g.state {
	case starting:
		// The start-up bound ends here: waiting costs the guest nothing.
		// A bound that fired already is ending the run.
		if g.limit != nil && !g.limit.Stop() {
			g.state = ended
			g.mu.Unlock()
			return false
		}
		g.state = waiting
		close(g.arrived)
	case ended:
		g.mu.Unlock()
		return false
	}
	park, unpark := g.park, g.unpark
	g.mu.Unlock()
	if park != nil {
		park()
		defer unpark()
	}
	select {
	case <-g.release:
		return true
	case <-ctx.Done():
		select {
		case <-g.release: // released as it ended: the run's end says how
			return true
		default:
		}
		g.End()
		return false
	}
}

// Start arms limit, a timer whose call ends the run, as the run's bound:
// d from now while the guest starts, stopped while it waits at the gate,
// and d again from the release. The runtime calls it when the run starts.
// A run released before Start keeps the limit as armed.
//
// park and unpark, if not nil, are called on the guest's goroutine when
// it comes to wait at the gate and when it is done waiting, released or
// not: the runtime lets go of the run's OS thread while it waits.
func (g *Gate) Start(limit *time.Timer, d time.Duration, park, unpark func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.park, g.unpark = park, unpark
	if g.state == starting {
		g.limit, g.d = limit, d
	}
}

// Release opens the gate: the run has its work, and its time limit counts
// from now. Set what the run's host functions read before calling it. It
// reports false if the run ended, or is ending, without its work: a
// guest that exited, trapped or ran past its start-up bound before its
// first effect, or a run cancelled. A run still starting is released too:
// it passes the gate when it gets there.
func (g *Gate) Release() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch g.state {
	case ended, released:
		return false
	case starting:
		// Before Start, the limit armed then counts from about now.
		if g.limit != nil && !g.limit.Stop() {
			g.state = ended
			return false
		}
	}
	// The release time is read before the limit is armed again, so that
	// the run's Duration, counted from it, reaches the whole limit.
	g.at = time.Now()
	if g.limit != nil {
		g.limit.Reset(g.d)
	}
	g.state = released
	g.open.Store(true)
	close(g.release)
	return true
}

// End marks the run ended: the gate no longer opens. The runtime calls it
// when the run ends.
func (g *Gate) End() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != released {
		g.state = ended
	}
}

// Arrived returns a channel closed once the guest waits at the gate.
func (g *Gate) Arrived() <-chan struct{} { return g.arrived }

// Waiting reports whether the run has not been released and has not ended.
func (g *Gate) Waiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == starting || g.state == waiting
}

// Released returns when the gate opened, and whether it did.
func (g *Gate) Released() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.at, g.state == released
}
