package engine

import (
	"sort"
	"sync"
	"time"
)

// Clock is the engine's source of time. The scheduler reads the time and
// waits for fire times, retries and overdue marks only through it, so tests
// can run the engine in simulated time (see FakeClock).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a fake clock, in the
	// goroutine that advances time) once d has passed. Stop on the returned
	// Timer prevents the call if it has not happened yet.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call of Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call; it reports whether it did.
	Stop() bool
}

var (
	_ Clock = RealClock{}
	_ Clock = (*FakeClock)(nil)
)

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock with time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a Clock whose time moves only when Advance or Set is called.
// Timers fire in the order of their deadlines, each with the clock set to
// its deadline, in the goroutine that advances the clock. It is safe for
// concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int64
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *FakeClock
	at   time.Time
	seq  int64
	f    func()
	done bool
}

// NewFakeClock returns a FakeClock set to now.
func NewFakeClock(now time.Time) *FakeClock { return &FakeClock{now: now} }

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements Clock. A d of zero or less fires at the next Advance.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop implements Timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Advance moves the clock forward by d, firing every timer due on the way,
// including those that the fired functions set within the interval.
func (c *FakeClock) Advance(d time.Duration) {
	c.Set(c.Now().Add(d))
}

// Set moves the clock to t (never backwards), firing the timers due.
func (c *FakeClock) Set(t time.Time) {
	for {
		c.mu.Lock()
		next := c.popDue(t)
		if next == nil {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// popDue removes and returns the earliest pending timer due at or before t.
func (c *FakeClock) popDue(t time.Time) *fakeTimer {
	live := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.done {
			live = append(live, tm)
		}
	}
	c.timers = live
	if len(live) == 0 {
		return nil
	}
	sort.Slice(live, func(i, j int) bool {
		if !live[i].at.Equal(live[j].at) {
			return live[i].at.Before(live[j].at)
		}
		return live[i].seq < live[j].seq
	})
	first := live[0]
	if first.at.After(t) {
		return nil
	}
	first.done = true
	return first
}

// Pending returns how many timers wait to fire.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}
