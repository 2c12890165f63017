package engine

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
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
// submitted in order by drainFires.
func (e *Engine) onTimer() {
	e.mu.Lock()
	e.timer = nil
	if e.stopping {
		e.mu.Unlock()
		return
	}
	now := e.cfg.Clock.Now()
	var start []*taskState
	for {
		ts := e.heap.peek()
		if ts == nil || ts.next.After(now) {
			break
		}
		if e.owns(ts.key) {
			ts.fires = append(ts.fires, ts.next)
			if !ts.firing {
				ts.firing = true
				start = append(start, ts)
			}
		}
		ts.next = ts.sched.Next(ts.next)
		if ts.next.IsZero() {
			heap.Pop(&e.heap)
		} else {
			heap.Fix(&e.heap, 0)
		}
	}
	e.firing.tasks = append(e.firing.tasks, start...)
	spawn := min(len(e.firing.tasks), maxFireWorkers-e.firing.workers)
	e.firing.workers += spawn
	e.armLocked()
	e.mu.Unlock()
	for range spawn {
		e.crew.spawn(e.fireWorker)
	}
}

// maxFireWorkers bounds the goroutines recording due instants. A goroutine
// per task due would start thousands at once when thousands are due
// together: they would then compete for the processors with the store's
// writer that records their fires, and be answered together when it
// finally ran. A few dozen keep the writer's batches full.
const maxFireWorkers = 64

// fireQueue holds the tasks whose due instants wait for a fire worker.
type fireQueue struct {
	tasks   []*taskState
	workers int // fire workers running
}

// fireWorker drains the due instants of the queued tasks, one task at a
// time, until none is left.
func (e *Engine) fireWorker() {
	for {
		e.mu.Lock()
		q := &e.firing
		if len(q.tasks) == 0 {
			q.tasks = nil // let a large tick's queue go
			q.workers--
			e.mu.Unlock()
			return
		}
		ts := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		e.mu.Unlock()
		e.drainFires(ts)
	}
}

// drainFires submits a task's due instants in order; one goroutine per task
// does so at a time, so the instants of a task are recorded in order.
func (e *Engine) drainFires(ts *taskState) {
	for {
		e.mu.Lock()
		if len(ts.fires) == 0 {
			ts.firing = false
			e.mu.Unlock()
			return
		}
		at := ts.fires[0]
		ts.fires = ts.fires[1:]
		e.mu.Unlock()
		e.submit(context.Background(), &runReq{ts: ts, trigger: store.TriggerSchedule, scheduled: at})
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
	e.catchUpWhere(ctx, func(ts *taskState) bool { return e.owns(ts.key) })
}

// catchUpWhere is catchUp for the tasks for which want is true.
func (e *Engine) catchUpWhere(ctx context.Context, want func(*taskState) bool) {
	type candidate struct {
		ts    *taskState
		task  *app.Task // never changed: see taskState
		sched schedule.Schedule
		next  time.Time
	}
	e.mu.Lock()
	var candidates []candidate
	for _, ts := range e.tasks {
		if as := e.apps[ts.app]; as != nil && ts.schedulable(as) && want(ts) {
			candidates = append(candidates, candidate{ts, ts.task, ts.sched, ts.next})
		}
	}
	e.mu.Unlock()
	clockNow := e.cfg.Clock.Now()
	for _, c := range candidates {
		ts := c.ts
		// Reload set the task's next fire time from the clock a moment
		// ago: a time from it on is the scheduler's to fire, not missed.
		now := clockNow
		if !c.next.IsZero() && !c.next.After(now) {
			now = c.next.Add(-time.Nanosecond)
		}
		last, err := e.cfg.Store.Runs.LastScheduled(ctx, ts.app, ts.name)
		if err != nil {
			e.log.ErrorContext(ctx, "reading last scheduled time", slog.String("task", ts.key), slog.Any("error", err))
			continue
		}
		var runAt time.Time
		if c.task.Misfire == app.MisfireRunOnce {
			window := c.task.MisfireWindow
			if window <= 0 {
				window = app.DefaultMisfireWindow
			}
			runAt = missedTime(*c.task, c.sched, last, now, window)
		}
		var skipAt time.Time
		if runAt.IsZero() {
			if skipAt = missedTime(*c.task, c.sched, last, now, 0); skipAt.IsZero() {
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
