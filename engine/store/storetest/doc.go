// Package storetest holds the behaviour that every implementation of the
// store's interfaces must show, one suite an interface: an implementation
// runs storetest.Runs(t, open) for its store.Runs, and so on, where open
// returns a new, empty store for each test. A store can thus provide the
// interfaces one at a time, each checked on its own.
//
// Suites of interfaces that keep times take open(t, now): the store's
// clock is now, which the suite moves. A behaviour that spans two
// interfaces has its own suite over both (Outcomes with Overrides,
// TokenSessions). The suites count on a new store numbering runs and
// tokens from 1. What depends on an implementation's options (limits,
// durability) or its storage is the implementation's own tests' concern.
package storetest

import (
	"sync"
	"time"
)

// epoch is the suites' "now": the times they record are around it.
var epoch = time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)

// fixed returns a clock that stands at t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// clock is a clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
