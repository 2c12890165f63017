package engine

import (
	"context"
	"sync"
	"time"
)

// crew starts the engine's goroutines and timers and counts them, so that
// Stop waits for exactly what is running and cancels what is pending, and
// WaitIdle knows when nothing runs. Every goroutine and timer of the
// engine goes through it.
type crew struct {
	clock Clock

	mu      sync.Mutex
	idle    *sync.Cond // signalled when running drops to zero
	running int        // goroutines, and timer functions being called
	timers  map[*crewTimer]struct{}
}

func newCrew(clock Clock) *crew {
	c := &crew{clock: clock, timers: map[*crewTimer]struct{}{}}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// spawn runs fn in a goroutine of its own.
func (c *crew) spawn(fn func()) {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	go func() {
		defer c.done()
		fn()
	}()
}

func (c *crew) done() {
	c.mu.Lock()
	c.running--
	if c.running == 0 {
		c.idle.Broadcast()
	}
	c.mu.Unlock()
}

// crewTimer is a pending call of crew.afterFunc.
type crewTimer struct {
	c     *crew
	t     Timer
	ended bool // fired or stopped
}

// afterFunc calls fn once d has passed on the clock; the call counts as
// running while it goes.
func (c *crew) afterFunc(d time.Duration, fn func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := &crewTimer{c: c}
	c.timers[ct] = struct{}{}
	ct.t = c.clock.AfterFunc(d, func() {
		c.mu.Lock()
		if ct.ended { // stopped as it fired
			c.mu.Unlock()
			return
		}
		ct.ended = true
		delete(c.timers, ct)
		c.running++
		c.mu.Unlock()
		defer c.done()
		fn()
	})
	return ct
}

// Stop implements Timer.
func (ct *crewTimer) Stop() bool {
	ct.c.mu.Lock()
	defer ct.c.mu.Unlock()
	return ct.stopLocked()
}

func (ct *crewTimer) stopLocked() bool {
	if ct.ended {
		return false
	}
	ct.ended = true
	delete(ct.c.timers, ct)
	ct.t.Stop()
	return true
}

// stopTimers cancels every pending timer.
func (c *crew) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ct := range c.timers {
		ct.stopLocked()
	}
}

// wait waits until no goroutine and no timer function of the crew runs,
// or until ctx is done.
func (c *crew) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.idle.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.running > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.idle.Wait()
	}
	return nil
}
