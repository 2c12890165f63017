// Package storetest holds the behaviour that every implementation of the
// store's interfaces must show, one suite an interface: an implementation
// runs storetest.Runs(t, open) for its store.Runs, and so on, where open
// returns a new, empty store for each test. A store can thus provide the
// interfaces one at a time, each checked on its own.
//
// The suites count on a new store numbering runs, tokens and events from
// 1. Behaviour that depends on an implementation's options (limits,
// durability, its clock) is the implementation's own tests' concern.
package storetest

import "time"

// epoch is the suites' "now": the times they record are around it.
var epoch = time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)

// fixed returns a clock that stands at t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }
