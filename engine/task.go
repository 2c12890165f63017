package engine

import (
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/runtime"
)

// taskState is a task as the engine runs it. The engine's mutex guards it.
type taskState struct {
	key     string            // "app/task"; never changes
	app     string            // never changes
	name    string            // never changes
	task    *app.Task         // shared with the app as loaded when no override changes it; never changed
	sched   schedule.Schedule // nil: runs only when triggered
	module  *runtime.Module   // nil: cannot run
	loadErr string

	next    time.Time   // the next fire time, while in the heap
	heapIdx int         // index in the heap, -1 when not in it
	fires   []time.Time // due instants not yet submitted
	firing  bool        // a fire worker holds the task's fires (fireWorker)
	// catchingUp is set while the task waits for its catch-up
	// (catchUpPending, pendingCatchUp); its fires wait in fires.
	catchingUp bool
	pruning    bool // a prune of the task's history is under way

	queued  int                  // admitted runs not yet running
	running map[int64]*runHandle // nil until its first run starts
	removed bool

	// sincePrune counts the finished runs since the history was pruned,
	// sinceCheck the ends since one asked whether to prune
	// (pruneCheckDue).
	sincePrune, sinceCheck int32
	lastStatus             store.Status
	lastDuration           time.Duration
	failures               int
	disabledReason         string
	// lastStartSeq and lastSuccessSeq order the task's last admitted run
	// and last success, for after: dependencies.
	lastStartSeq, lastSuccessSeq int64
}

// runnable reports whether the task can run at all.
func (ts *taskState) runnable() bool {
	return !ts.removed && ts.task.Valid() && ts.module != nil
}

// schedulable reports whether the task's schedule should fire.
func (ts *taskState) schedulable(as *appState) bool {
	return ts.runnable() && ts.sched != nil && ts.task.Enabled && as.enabled()
}

// TaskInfo is a snapshot of one task, for listings.
type TaskInfo struct {
	// Task is the task's configuration, overrides merged.
	Task app.Task
	// Next is the next fire time; zero if it will not fire by itself.
	Next time.Time
	// Running and Queued count its runs executing and waiting for a slot.
	Running, Queued int
	// LastStatus is how its last run ended, "" if none since start;
	// LastDuration is how long that run took.
	LastStatus   store.Status
	LastDuration time.Duration
	// Failures counts its consecutive failed runs.
	Failures int
	// DisabledReason says why failures disabled it, if they did.
	DisabledReason string
	// LoadError is why it cannot run, if it cannot.
	LoadError string
	// AppLoadError is why its app's last reload failed, if it did (the
	// last good version runs).
	AppLoadError string
	// Module is the runtime's hash of the module its runs use now; ""
	// when it has none.
	Module string
}
