package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// runReq is a run asked for: by the schedule, a person, a retry, a
// dependency or a catch-up.
type runReq struct {
	ts        *taskState
	trigger   store.Trigger
	scheduled time.Time
	attempt   int
	input     json.RawMessage
	user      string
	// retryOf is the run a retry retries: the store records one retry of
	// a run, whichever node asks first.
	retryOf int64
	id      int64 // set once recorded
	// slot is set when the run holds a slot of its app's quotas in the
	// cluster (Cluster.Slots): it may execute.
	slot bool
	// waiting is set while the run is recorded as waiting for room on
	// the node (store.Run.Waiting): another node may take it over, and
	// the node starts it only by RunHandoff.BeginRun.
	waiting bool
}

// The reasons a run is not admitted.
const (
	reasonOverlap  = "previous run still running"
	reasonQuota    = "app quota full"
	reasonDisabled = "task disabled"
	reasonInvalid  = "task has errors"
	reasonRemoved  = "task removed"
	reasonStopping = "engine stopping"
)

// submitted is the outcome of a run asked for: its ID once recorded and
// queued, or zero, with the error a manual run is refused with.
type submitted struct {
	id  int64
	err error
}

// submit admits, records and queues a run (submitAll).
func (e *Engine) submit(ctx context.Context, r *runReq) (int64, error) {
	out := e.submitAll(ctx, []*runReq{r})[0]
	return out.id, out.err
}

// submitAll admits, records and queues runs; the runs admitted and those
// recorded as skipped are recorded together, in one write of the store
// (Runs.RecordRuns), and each is announced as soon as that write is
// durable. A scheduled time that the store already holds was fired
// before and is dropped silently. A run that cannot be admitted is
// recorded as skipped (manual runs get ErrBusy instead).
func (e *Engine) submitAll(ctx context.Context, reqs []*runReq) []submitted {
	out := make([]submitted, len(reqs))
	if e.fenced() {
		for i, r := range reqs {
			out[i].err = e.refuseFenced(ctx, r, store.ErrFenced)
		}
		return out
	}
	reasons := make([]string, len(reqs))
	runs := make([]store.Run, 0, len(reqs))
	recorded := make([]int, 0, len(reqs)) // the index in reqs of each of runs
	e.mu.Lock()
	admitted := 0
	for i, r := range reqs {
		reasons[i] = e.admitLocked(r)
		switch reason := reasons[i]; {
		case reason == "":
			run := e.storeRun(r)
			run.Slot = e.slotNowLocked(r, admitted)
			if run.Waiting = e.waitsLocked(r, admitted); run.Waiting {
				run.Module = r.ts.module.Hash
			}
			admitted++
			runs, recorded = append(runs, run), append(recorded, i)
		case !refusedUnrecorded(r, reason):
			runs, recorded = append(runs, e.skippedRun(r, reason)), append(recorded, i)
		}
	}
	e.mu.Unlock()
	var outcomes []store.Recorded
	if len(runs) > 0 {
		outcomes = e.cfg.Store.Runs.RecordRuns(ctx, runs)
	}
	queued := make([]*runReq, 0, admitted)
	for j, i := range recorded {
		r, rec := reqs[i], outcomes[j]
		switch {
		case reasons[i] != "":
			e.skipped(ctx, r, reasons[i], rec)
		case rec.Err != nil:
			out[i].err = e.notStarted(ctx, r, rec.Err)
		default:
			r.id, out[i].id = rec.ID, rec.ID
			r.slot = runs[j].Slot != nil && runs[j].Slot.Taken
			r.waiting = runs[j].Waiting
			queued = append(queued, r)
		}
	}
	for i, r := range reqs {
		if reasons[i] != "" && refusedUnrecorded(r, reasons[i]) {
			out[i].err = refusal(r, reasons[i])
		}
	}
	e.queueAll(ctx, queued)
	return out
}

// notStarted handles the error of recording the start of run r, which
// had its place reserved by admitLocked, and returns the error to give
// its caller.
func (e *Engine) notStarted(ctx context.Context, r *runReq, err error) error {
	ts := r.ts
	e.mu.Lock()
	ts.queued--
	if as := e.apps[ts.app]; as != nil {
		as.reserved--
		e.forgetAppLocked(as)
	}
	e.mu.Unlock()
	switch {
	case errors.Is(err, store.ErrDuplicate) && r.retryOf != 0:
		e.log.InfoContext(ctx, "run already retried", slog.String("task", ts.key), slog.Int64("run", r.retryOf))
		return nil
	case errors.Is(err, store.ErrDuplicate):
		e.log.DebugContext(ctx, "scheduled time already fired", slog.String("task", ts.key), slog.Time("scheduled", r.scheduled))
		return nil
	case errors.Is(err, store.ErrOverlap): // a run on another node
		_, err := e.skip(ctx, r, reasonOverlap)
		return err
	case errors.Is(err, store.ErrFenced):
		return e.refuseFenced(ctx, r, err)
	}
	if writeFailed(err) && fired(r.trigger) {
		e.missedFire(ts, r.scheduled, err)
		return fmt.Errorf("recording start of %s: %w", ts.key, err)
	}
	e.log.ErrorContext(ctx, "recording run start", slog.String("task", ts.key), slog.String("trigger", string(r.trigger)),
		slog.Time("scheduled", r.scheduled), slog.Any("error", err))
	return fmt.Errorf("recording start of %s: %w", ts.key, err)
}

// waitsLocked reports whether run r is to be recorded waiting for room
// on the node (store.Run.Waiting), so that a node with room may take it
// over (RunHandoff): in a cluster, when the node has none, the ahead runs
// recorded with r before it counted as taking theirs. A run of a
// replace task is not handed over: the node that records it cancels the
// task's other runs on it, as one node does.
func (e *Engine) waitsLocked(r *runReq, ahead int) bool {
	return e.handoff != nil && e.running+e.claims+ahead >= e.cfg.MaxConcurrent && r.ts.task.Concurrency != app.ConcurrencyReplace
}

// slotNowLocked returns the slot of the cluster's app quotas that run r
// asks for with its start (store.Run.Slot): when the node would start it
// at once, so that it does not hold a slot while it waits for the node;
// nil otherwise, or for a single node. ahead is how many runs recorded
// with r go before it: they are not queued yet, but will be.
func (e *Engine) slotNowLocked(r *runReq, ahead int) *store.Slot {
	as := e.apps[r.ts.app]
	if e.sharedSlots() == nil || len(as.queue) > 0 || e.running+e.claims+ahead >= e.cfg.MaxConcurrent {
		return nil
	}
	s := as.slot(r)
	return &s
}

// sharedSlots returns the slots of the cluster's app quotas; nil for a
// single node, which counts an app's runs itself.
func (e *Engine) sharedSlots() store.Slots {
	if e.cl == nil {
		return nil
	}
	return e.cl.cfg.Slots
}

// refusedUnrecorded reports whether a run that cannot be admitted for
// reason is refused without a record of it: a manual run gets an error
// (refusal), and nothing is recorded while the engine stops.
func refusedUnrecorded(r *runReq, reason string) bool {
	return r.trigger == store.TriggerManual || reason == reasonStopping
}

// refusal is the error a run refused without a record gets.
func refusal(r *runReq, reason string) error {
	switch {
	case r.trigger != store.TriggerManual:
		return nil
	case reason == reasonInvalid || reason == reasonRemoved:
		return fmt.Errorf("triggering %s: %w: %s", r.ts.key, ErrInvalidTask, reason)
	}
	return fmt.Errorf("triggering %s: %w: %s", r.ts.key, ErrBusy, reason)
}

// skippedRun is run r as recorded skipped for reason.
func (e *Engine) skippedRun(r *runReq, reason string) store.Run {
	run := e.storeRun(r)
	run.Status, run.Reason = store.StatusSkipped, reason
	return run
}

// skip refuses a run that cannot be admitted for reason: a manual run
// gets an error, any other is recorded as skipped.
func (e *Engine) skip(ctx context.Context, r *runReq, reason string) (int64, error) {
	if refusedUnrecorded(r, reason) {
		return 0, refusal(r, reason)
	}
	id, err := e.cfg.Store.Runs.RecordSkipped(ctx, e.skippedRun(r, reason))
	return 0, e.skipped(ctx, r, reason, store.Recorded{ID: id, Err: err})
}

// skipped handles the outcome of recording run r as skipped for reason.
func (e *Engine) skipped(ctx context.Context, r *runReq, reason string, rec store.Recorded) error {
	ts := r.ts
	switch err := rec.Err; {
	case errors.Is(err, store.ErrDuplicate):
		return nil
	case errors.Is(err, store.ErrFenced):
		return e.refuseFenced(ctx, r, err)
	case writeFailed(err) && fired(r.trigger):
		e.missedFire(ts, r.scheduled, err)
		return fmt.Errorf("recording skipped run of %s: %w", ts.key, err)
	case err != nil:
		e.log.ErrorContext(ctx, "recording skipped run", slog.String("task", ts.key), slog.Any("error", err))
		return fmt.Errorf("recording skipped run of %s: %w", ts.key, err)
	}
	e.log.InfoContext(ctx, "run skipped", slog.String("task", ts.key), slog.String("reason", reason), slog.Time("scheduled", r.scheduled))
	e.publish(Event{Type: EventRunSkipped, App: ts.app, Task: ts.name, RunID: rec.ID, Status: store.StatusSkipped, Message: reason})
	return nil
}

// queueAll queues the recorded runs rs, announces each, and dispatches.
func (e *Engine) queueAll(ctx context.Context, rs []*runReq) {
	if len(rs) == 0 {
		return
	}
	type unstarted struct {
		r      *runReq
		status store.Status
		msg    string
	}
	var ends []unstarted
	announce := rs[:0:0]
	e.mu.Lock()
	for _, r := range rs {
		ts := r.ts
		as := e.apps[ts.app]
		as.reserved--
		switch {
		case e.stopping:
			ends = append(ends, unstarted{r, store.StatusInterrupted, "not started: " + reasonStopping})
			continue
		case as.gone:
			ends = append(ends, unstarted{r, store.StatusCancelled, "not started: " + reasonRemoved})
			continue
		}
		if ts.task.Concurrency == app.ConcurrencyReplace {
			for _, h := range ts.running {
				h.cancel(errReplaced)
			}
			kept := as.queue[:0]
			for _, q := range as.queue {
				if q.ts == ts {
					ends = append(ends, unstarted{q, store.StatusCancelled, "not started: " + errReplaced.Error()})
				} else {
					kept = append(kept, q)
				}
			}
			as.queue = kept
		}
		as.queue = append(as.queue, r)
		announce = append(announce, r)
	}
	e.mu.Unlock()
	for _, r := range announce {
		e.publish(Event{Type: EventRunQueued, App: r.ts.app, Task: r.ts.name, RunID: r.id})
	}
	e.mu.Lock()
	e.dispatchLocked()
	e.mu.Unlock()
	for _, u := range ends {
		e.finishUnstarted(ctx, u.r, u.status, u.msg)
	}
}

func (e *Engine) storeRun(r *runReq) store.Run {
	return store.Run{
		App: r.ts.app, Task: r.ts.name, Status: store.StatusRunning,
		Trigger: r.trigger, TriggeredByUser: r.user, ScheduledTime: r.scheduled,
		Attempt: r.attempt, StartTime: e.cfg.Clock.Now(), Input: r.input, Node: e.cfg.Node, RetryOf: r.retryOf,
		NoOverlap: e.cl != nil && r.ts.task.Concurrency == app.ConcurrencyForbid,
		Replace:   e.sharedSlots() != nil && r.ts.task.Concurrency == app.ConcurrencyReplace,
	}
}

// admitLocked decides whether r may be queued, and reserves its place;
// it returns why not, or "".
func (e *Engine) admitLocked(r *runReq) string {
	ts := r.ts
	as := e.apps[ts.app]
	switch {
	case e.stopping || !e.started:
		return reasonStopping
	case ts.removed || as == nil || as.gone:
		return reasonRemoved
	case !ts.runnable():
		return reasonInvalid
	case r.trigger != store.TriggerManual && (!ts.task.Enabled || !as.enabled()):
		return reasonDisabled
	case ts.task.Concurrency == app.ConcurrencyForbid && ts.queued+len(ts.running) > 0:
		return reasonOverlap
	case len(as.queue)+as.reserved >= e.cfg.MaxQueued:
		return reasonQuota
	}
	ts.queued++
	as.reserved++
	e.seq++
	ts.lastStartSeq = e.seq
	return ""
}

// dispatchLocked starts queued runs while slots are free, serving the apps
// with queued runs in turn, one run each, so that one app's flood never
// starves another. An app's slots are bounded by its concurrency quota and
// by its memory quota (the memory limits of its running runs, summed): on
// this node, and in a cluster with Cluster.Slots over every node, where a
// run first takes a slot from the store (claimLocked) unless its start
// took one.
func (e *Engine) dispatchLocked() {
	for !e.stopping && e.running+e.claims < e.cfg.MaxConcurrent {
		n := len(e.appOrder)
		started := false
		for i := 0; i < n; i++ {
			idx := (e.rr + i) % n
			as := e.apps[e.appOrder[idx]]
			if as == nil || len(as.queue) == 0 || as.running >= as.quota() || !as.fits(as.queue[0].ts.task.Limits.Memory) {
				continue
			}
			r := as.queue[0]
			cancelled := r.trigger != store.TriggerManual && (r.ts.removed || !r.ts.task.Enabled)
			if !cancelled && (r.waiting || !r.slot && e.sharedSlots() != nil) {
				if as.claiming || as.starved {
					continue
				}
				e.rr = (idx + 1) % n
				e.claimLocked(as, r)
				started = true
				break
			}
			as.queue[0] = nil
			as.queue = as.queue[1:]
			started = true
			if cancelled {
				// Disabled or removed while it waited: it is recorded
				// as cancelled (a recorded run cannot become skipped).
				e.crew.spawn(func() {
					e.finishUnstarted(context.Background(), r, store.StatusCancelled, "not started: "+reasonDisabled)
				})
				break
			}
			e.rr = (idx + 1) % n
			e.startLocked(as, r)
			break
		}
		if !started {
			return
		}
	}
}

// claimLocked takes from the cluster what r, the first run of as's
// queue, needs to start, and dispatches again: a slot of its app's
// quotas, and for a run that waited, its start (RunHandoff.BeginRun, which
// takes the slot in the same write). r starts when it got them;
// otherwise the app waits until a slot is given back (slotFreed). A run
// another node took over meanwhile leaves the queue.
func (e *Engine) claimLocked(as *appState, r *runReq) {
	as.claiming = true
	e.claims++
	var slot *store.Slot
	if !r.slot && e.sharedSlots() != nil {
		s := as.slot(r)
		slot = &s
	}
	waiting, freed := r.waiting, as.freed
	e.crew.spawn(func() {
		ctx := context.Background()
		var (
			ok  bool
			err error
		)
		if waiting {
			ok, err = e.handoff.BeginRun(ctx, r.id, e.cfg.Node, slot)
		} else {
			ok, err = e.sharedSlots().TakeSlot(ctx, r.id, *slot)
			slot.Taken = ok
		}
		gone := errors.Is(err, store.ErrNotWaiting)
		switch {
		case gone:
			e.log.Debug("run taken over by another node", slog.String("task", r.ts.key), slog.Int64("run", r.id))
		case errors.Is(err, store.ErrFenced):
			e.loseLease(ctx, err)
		case err != nil:
			e.log.Warn("starting a queued run in the cluster", slog.String("task", r.ts.key), slog.Int64("run", r.id), slog.Any("error", err))
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		as.claiming = false
		e.claims--
		if ok {
			r.waiting = false
			r.slot = r.slot || slot != nil && slot.Taken
		}
		if gone {
			e.dropQueuedLocked(as, r)
		}
		// A slot given back since the take began may be free now.
		as.starved = !ok && !gone && as.freed == freed
		e.dispatchLocked()
	})
}

// dropQueuedLocked drops r from the queue of its app as, if it is still
// there: another node took it over.
func (e *Engine) dropQueuedLocked(as *appState, r *runReq) {
	i := slices.Index(as.queue, r)
	if i < 0 {
		return // dropped meanwhile, by whoever dropped it
	}
	as.queue = slices.Delete(as.queue, i, i+1)
	r.ts.queued--
	e.forgetAppLocked(as)
}

// slotFreed is called when a slot of app was given back on any node, or
// of any app when app is "": the apps that found none try again.
func (e *Engine) slotFreed(app string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, as := range e.apps {
		if app == "" || name == app {
			as.starved = false
			as.freed++
		}
	}
	e.dispatchLocked()
}

// finishUnstarted records a queued run that will not start, and reports
// whether it did: a run recorded waiting (RunHandoff) is the node's to
// record only while no other node took it over.
func (e *Engine) finishUnstarted(ctx context.Context, r *runReq, status store.Status, msg string) bool {
	e.mu.Lock()
	waiting := r.waiting
	e.mu.Unlock()
	mine := true
	if waiting {
		_, err := e.handoff.BeginRun(context.WithoutCancel(ctx), r.id, e.cfg.Node, nil)
		if mine = err == nil; !mine && !errors.Is(err, store.ErrNotWaiting) {
			e.log.WarnContext(ctx, "recording unstarted run: it waits in the cluster", slog.Int64("run", r.id), slog.Any("error", err))
		}
	}
	if mine {
		now := e.cfg.Clock.Now()
		end := store.RunEnd{App: r.ts.app, Status: status, EndTime: now, ExitCode: -1, Error: msg}
		err := e.cfg.Store.Runs.FinishRun(context.WithoutCancel(ctx), r.id, end)
		if writeFailed(err) {
			e.keepEnd(r.id, r.ts.key, end, err)
		} else if err != nil {
			e.log.ErrorContext(ctx, "recording unstarted run", slog.Int64("run", r.id), slog.Any("error", err))
		}
	}
	e.mu.Lock()
	r.ts.queued--
	if as := e.apps[r.ts.app]; as != nil {
		e.forgetAppLocked(as)
	}
	e.mu.Unlock()
	if mine {
		e.publish(Event{Type: EventRunFinished, App: r.ts.app, Task: r.ts.name, RunID: r.id, Status: status, Message: msg})
	}
	return mine
}
