package engine

import (
	"context"
	"log/slog"
	"slices"

	"github.com/cronbox/cronbox/engine/store"
)

// watchWaiting has the node take over the runs that wait on other nodes
// for room when it has some (RunHandoff), woken by each run recorded
// waiting and by the store's poll, until leave.
func (e *Engine) watchWaiting() {
	if e.handoff == nil {
		return
	}
	e.watchCluster("the runs that wait on other nodes", func(ctx context.Context) error {
		return e.handoff.WatchWaiting(ctx, func(app string) {
			if app == "" && e.sharedSlots() == nil {
				// The poll: a run whose start failed tries again, as
				// the slots' watch has it do otherwise.
				e.slotFreed("")
			}
			e.takeOver(ctx)
		}, e.dropTaken)
	})
}

// dropTaken drops from the node's queue the runs in ids that waited on it
// and that another node took over, at once rather than when the node
// would have started them: they no longer count against its MaxQueued,
// nor hold back its next runs of a task whose overlap policy is forbid.
func (e *Engine) dropTaken(ids []int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, as := range e.apps {
		for _, r := range slices.Clone(as.queue) {
			if r.waiting && slices.Contains(ids, r.id) {
				e.dropQueuedLocked(as, r)
			}
		}
	}
}

// roomLocked is how many more runs the node has room for: the places of
// MaxConcurrent that neither its runs nor the runs it has queued take.
func (e *Engine) roomLocked() int {
	n := e.cfg.MaxConcurrent - e.running - e.claims
	for _, as := range e.apps {
		n -= len(as.queue) + as.reserved
	}
	return n
}

// takeOver takes over as many runs waiting on other nodes as the node
// has room for, of the tasks it runs with the same modules, and queues
// them as its own: a node with room never leaves runs waiting on a full
// one for longer than a notification takes, or the store's poll.
func (e *Engine) takeOver(ctx context.Context) {
	e.mu.Lock()
	room := e.roomLocked()
	if room <= 0 {
		e.othersWait = true // for when a run of the node ends
	}
	if e.takingOver || room <= 0 || e.stopping || !e.armed || e.fenced() {
		e.mu.Unlock()
		return
	}
	e.takingOver = true
	var tasks []store.TaskModule
	for _, ts := range e.tasks {
		if ts.runnable() {
			tasks = append(tasks, store.TaskModule{App: ts.app, Task: ts.name, Module: ts.module.Hash})
		}
	}
	e.mu.Unlock()

	runs, err := e.handoff.ClaimRuns(ctx, e.cfg.Node, tasks, room)
	if err != nil && ctx.Err() == nil {
		e.log.WarnContext(ctx, "taking over runs that wait on other nodes", slog.Any("error", err))
	}
	var (
		reqs    []*runReq
		orphans []store.Run
	)
	e.mu.Lock()
	e.takingOver = false
	e.othersWait = len(runs) == room
	for _, run := range runs {
		ts := e.tasks[run.App+"/"+run.Task]
		if ts == nil { // dropped by a reload since the take began
			orphans = append(orphans, run)
			continue
		}
		r := &runReq{ts: ts, trigger: run.Trigger, scheduled: run.ScheduledTime, attempt: run.Attempt,
			input: run.Input, user: run.TriggeredByUser, retryOf: run.RetryOf, id: run.ID}
		ts.queued++
		e.apps[ts.app].reserved++
		reqs = append(reqs, r)
	}
	e.mu.Unlock()
	if len(runs) > 0 {
		e.log.InfoContext(ctx, "took over runs that waited on other nodes", slog.Int("runs", len(runs)))
	}
	bg := context.WithoutCancel(ctx)
	for _, run := range orphans {
		end := store.RunEnd{App: run.App, Status: store.StatusCancelled, EndTime: e.cfg.Clock.Now(), ExitCode: -1, Error: "not started: " + reasonRemoved}
		if err := e.cfg.Store.Runs.FinishRun(bg, run.ID, end); err != nil {
			e.log.ErrorContext(ctx, "recording unstarted run", slog.Int64("run", run.ID), slog.Any("error", err))
		}
	}
	e.queueAll(bg, reqs)
}
