package engine

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	goruntime "runtime"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
)

// maxCatchUpSteps bounds the walk over missed fire times of one task.
const maxCatchUpSteps = 1_000_000

// armLocked sets the clock's timer for the earliest fire time.
func (e *Engine) armLocked() {
	if !e.armed || e.stopping {
		return
	}
	first := e.heap.peek()
	if first == nil {
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
		return
	}
	if e.timer != nil {
		if e.timerAt.Equal(first.next) {
			return
		}
		e.timer.Stop()
	}
	e.timerAt = first.next
	e.timer = e.crew.afterFunc(first.next.Sub(e.cfg.Clock.Now()), e.onTimer)
}

// onTimer fires every due instant exactly once: each task's instants are
// recorded in order by the fire workers (fireWorker). The due tasks go
// to the workers a batch (Config.FireBatch) at a time, the lock let go
// in between, so that the first batch is being recorded while the next
// tasks' following fire times are worked out: with thousands of tasks
// due, working them all out first held every fire back (18 ms for
// 10,000).
func (e *Engine) onTimer() {
	e.mu.Lock()
	e.timer = nil
	if e.stopping {
		e.mu.Unlock()
		return
	}
	now := e.cfg.Clock.Now()
	var start []*taskState
	// A stop while the lock was let go ends the walk; the tasks claimed
	// go to the workers, which refuse them.
	for !e.stopping {
		ts := e.heap.peek()
		if ts == nil || ts.next.After(now) {
			break
		}
		if e.owns(ts.key) {
			ts.fires = append(ts.fires, ts.next)
			if e.claimFiresLocked(ts) {
				start = append(start, ts)
			}
		}
		ts.next = ts.sched.Next(ts.next)
		if ts.next.IsZero() {
			heap.Pop(&e.heap)
		} else {
			heap.Fix(&e.heap, 0)
		}
		if len(start) == e.cfg.FireBatch {
			// The heap is whole: whoever takes the lock meanwhile
			// sees every task once, either fired or due.
			spawn := e.queueFiresLocked(start)
			start = nil
			e.mu.Unlock()
			if spawn > 0 {
				e.spawnFireWorkers(spawn)
				// The new worker would otherwise wait for a
				// processor until this walk is preempted: let it
				// take its batch to the store first.
				goruntime.Gosched()
			}
			e.mu.Lock()
		}
	}
	spawn := e.queueFiresLocked(start)
	e.armLocked()
	e.mu.Unlock()
	e.spawnFireWorkers(spawn)
}

// claimFiresLocked reports whether ts's due instants are to be queued for
// a fire worker: it has some, no worker drains them yet, and no catch-up
// holds them back. It then counts them as drained.
func (e *Engine) claimFiresLocked(ts *taskState) bool {
	if ts.firing || ts.catchingUp || len(ts.fires) == 0 {
		return false
	}
	ts.firing = true
	return true
}

// queueFiresLocked queues tasks claimed by claimFiresLocked for the fire
// workers, and returns how many workers to spawn (spawnFireWorkers).
func (e *Engine) queueFiresLocked(tasks []*taskState) int {
	e.firing.tasks = append(e.firing.tasks, tasks...)
	spawn := min(len(e.firing.tasks), maxFireWorkers-e.firing.workers)
	e.firing.workers += spawn
	return spawn
}

func (e *Engine) spawnFireWorkers(n int) {
	for range n {
		e.crew.spawn(e.fireWorker)
	}
}

// maxFireWorkers bounds the goroutines recording due instants, each
// Config.FireBatch of them in one write of the store (Runs.RecordRuns).
// When thousands of tasks are due together, a worker records its batch
// while the next prepares its own and the one before announces its runs:
// the store writes one batch after the other, and no fire waits for the
// whole tick to be recorded. More workers would only compete for the
// processors with the store's writer.
const maxFireWorkers = 4

// fireQueue holds the tasks whose due instants wait for a fire worker.
type fireQueue struct {
	tasks   []*taskState
	workers int // fire workers running
}

// fireWorker records the due instants of the queued tasks, up to
// Config.FireBatch tasks at a time, each task's first due instant, until no
// task is left. A task stays with its worker until its instants are
// drained, so that they are recorded in order.
func (e *Engine) fireWorker() {
	var (
		tasks []*taskState
		reqs  []*runReq
	)
	ctx := context.Background()
	// keepFiring drops the tasks of tasks that have no fires left, or
	// wait for their catch-up, and lets them go.
	keepFiring := func() {
		kept := tasks[:0]
		for _, ts := range tasks {
			if len(ts.fires) == 0 || ts.catchingUp {
				ts.firing = false
			} else {
				kept = append(kept, ts)
			}
		}
		clear(tasks[len(kept):])
		tasks = kept
	}
	for {
		e.mu.Lock()
		keepFiring()
		q := &e.firing
		n := min(len(q.tasks), e.cfg.FireBatch-len(tasks))
		tasks = append(tasks, q.tasks[:n]...)
		clear(q.tasks[:n])
		q.tasks = q.tasks[n:]
		keepFiring()
		reqs = reqs[:0]
		for _, ts := range tasks {
			reqs = append(reqs, &runReq{ts: ts, trigger: store.TriggerSchedule, scheduled: ts.fires[0]})
			ts.fires = ts.fires[1:]
		}
		if len(tasks) == 0 {
			q.tasks = nil // let a large tick's queue go
			q.workers--
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		e.submitAll(ctx, reqs)
	}
}

// reasonMissed is the reason recorded for fire times missed while the
// engine was not running and not caught up.
const reasonMissed = "missed while Cronbox was not running"

// catchUp applies each scheduled task's misfire policy to the fire times
// that passed while the engine was not running. run-once runs the task once
// (trigger catch-up) for the latest missed time within the misfire window.
// Otherwise (skip, or nothing missed within the window) the latest missed
// time is recorded as skipped, so that no missed time goes unrecorded in
// silence, but a long downtime does not flood the history.
func (e *Engine) catchUp(ctx context.Context) {
	e.mu.Lock()
	for _, ts := range e.tasks {
		if e.owns(ts.key) {
			e.awaitCatchUpLocked(ts)
		}
	}
	e.mu.Unlock()
	e.catchUpPending(ctx)
}

// awaitCatchUpLocked makes a scheduled task wait for its catch-up
// (catchUpPending), once this node has come to own it: the fire times
// before its next one were not this node's to fire, and the node fires
// the later ones. The caller holds e.mu, and has held it since the node
// came to own the task, so that no fire of the scheduler slips in between.
func (e *Engine) awaitCatchUpLocked(ts *taskState) {
	if as := e.apps[ts.app]; ts.catchingUp || as == nil || !ts.schedulable(as) {
		return
	}
	ts.catchingUp = true
	e.catchUps = append(e.catchUps, pendingCatchUp{ts: ts, from: ts.next})
}

// pendingCatchUp is a task that waits for its catch-up (catchingUp): the
// misfire policy of the fire times before from, which no node fired
// (zero: every time until the catch-up). Its fires from from on are the
// scheduler's; they wait in its fires until the catch-up has read the
// task's last recorded fire time, which none of them may be yet. Kept
// here, not in taskState, which would carry it for every task for good.
type pendingCatchUp struct {
	ts   *taskState
	from time.Time
}

// catchUpPending applies the misfire policy of each task that waits for
// its catch-up to the times after its last recorded fire and before the
// first the scheduler handled as the task's, then lets the scheduler's
// fires of the task go.
func (e *Engine) catchUpPending(ctx context.Context) {
	e.mu.Lock()
	pending := e.catchUps
	e.catchUps = nil
	e.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	// Read while the scheduler's fires of the tasks wait: the last fire
	// recorded is another node's, or of before the wait. One read for
	// them all: at start, they are every task.
	refs := make([]store.TaskRef, len(pending))
	for i, p := range pending {
		refs[i] = store.TaskRef{App: p.ts.app, Task: p.ts.name}
	}
	lasts, err := e.cfg.Store.Runs.LastScheduledOf(ctx, refs)
	if err != nil {
		e.log.ErrorContext(ctx, "reading last scheduled times", slog.Int("tasks", len(pending)), slog.Any("error", err))
	}
	for i, p := range pending {
		ts, from, last := p.ts, p.from, lasts[refs[i]]
		e.mu.Lock()
		task, sched := ts.task, ts.sched
		as := e.apps[ts.app]
		schedulable := as != nil && ts.schedulable(as)
		ts.catchingUp = false
		var spawn int
		if !e.stopping && e.claimFiresLocked(ts) {
			spawn = e.queueFiresLocked([]*taskState{ts})
		}
		e.mu.Unlock()
		e.spawnFireWorkers(spawn)
		if err != nil || !schedulable {
			continue
		}
		// A time from the task's next on is the scheduler's to fire, not
		// missed.
		now := e.cfg.Clock.Now()
		if !from.IsZero() && !from.After(now) {
			now = from.Add(-time.Nanosecond)
		}
		var runAt time.Time
		if task.Misfire == app.MisfireRunOnce {
			window := task.MisfireWindow
			if window <= 0 {
				window = app.DefaultMisfireWindow
			}
			runAt = missedTime(*task, sched, last, now, window)
		}
		var skipAt time.Time
		if runAt.IsZero() {
			if skipAt = missedTime(*task, sched, last, now, 0); skipAt.IsZero() {
				continue
			}
		}
		if !e.misfire(ctx, ts, runAt, skipAt, reasonMissed) {
			e.missedFire(ts, skipAt, errors.New("recording the missed fire time failed"))
		}
	}
}

// missedTime returns the latest fire time of a task after last and at or
// before now, and within window of now if window is not zero; or the zero
// time. A task that never fired (last zero) has missed nothing, unless it
// is a one-shot schedule and a window is given.
func missedTime(task app.Task, sched schedule.Schedule, last, now time.Time, window time.Duration) time.Time {
	from := last
	if from.IsZero() && (window == 0 || task.Schedule.At.IsZero()) {
		return time.Time{}
	}
	if window > 0 {
		if start := now.Add(-window); from.Before(start) {
			from = start.Add(-time.Nanosecond)
		}
	}
	var latest time.Time
	t := sched.Next(from)
	for i := 0; i < maxCatchUpSteps && !t.IsZero() && !t.After(now); i++ {
		latest = t
		t = sched.Next(t)
	}
	return latest
}
