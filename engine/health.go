package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// maxWriteRetry caps the wait between tries of the writes that failed.
const maxWriteRetry = time.Minute

// reasonNotRecorded is the reason recorded for fire times the store could
// not record when they came.
const reasonNotRecorded = "missed while the store could not write"

// health is what the engine knows of the store's ability to write, and the
// writes it owes it: the ends of runs and the fire times that could not be
// recorded. Its fields are guarded by Engine.hmu.
type health struct {
	err    error                         // the last write's failure; nil once a write succeeds
	endErr error                         // why the first of ends was not written
	ends   []pendingEnd                  // in the order the runs ended
	fires  map[*taskState]unrecordedFire // by task
	timer  Timer                         // the next try; nil when none is due
	wait   time.Duration                 // before the next try but one
}

// pendingEnd is the end of a run that the store did not take.
type pendingEnd struct {
	id   int64
	key  string // the task, for the log
	end  store.RunEnd
	when time.Time // when the first write failed
}

// unrecordedFire is what a task missed while the store could not record
// its fires.
type unrecordedFire struct {
	first, last time.Time // the scheduled times
	n           int
}

// Healthy returns nil while the store takes the engine's writes, and
// otherwise an error saying why the last write failed (a full disk, a
// read-only file), or that the ends of runs are still owed to the store.
// The engine tries again on its own (Config.WriteRetry); Healthy returns
// nil again once a write succeeds and no run's end is owed.
func (e *Engine) Healthy() error {
	e.hmu.Lock()
	defer e.hmu.Unlock()
	h := &e.health
	switch {
	case h.err != nil:
		return fmt.Errorf("the store cannot write: %w", h.err)
	case len(h.ends) > 0:
		return fmt.Errorf("the store has not taken the end of %d runs: %w", len(h.ends), h.endErr)
	}
	return nil
}

// writeFailed reports whether err is the store failing to write, rather
// than a write it refuses (a duplicate, an unknown run) or a caller giving
// up.
func writeFailed(err error) bool {
	switch {
	case err == nil, errors.Is(err, store.ErrDuplicate), errors.Is(err, store.ErrFinished),
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

// fired reports whether runs of t are fires of a schedule, to which the
// misfire policy applies when the store cannot record them.
func fired(t store.Trigger) bool {
	return t == store.TriggerSchedule || t == store.TriggerCatchUp
}

// wrote records the outcome of a write to the store.
func (e *Engine) wrote(err error) {
	if err == nil && !e.writeFailing.Load() || err != nil && !writeFailed(err) {
		return // the usual case takes no lock
	}
	e.hmu.Lock()
	defer e.hmu.Unlock()
	h := &e.health
	if err == nil {
		if h.err != nil {
			h.err = nil
			e.writeFailing.Store(false)
			e.log.Info("the store writes again")
		}
		return
	}
	e.writeFailing.Store(true)
	if h.err == nil {
		e.log.Error("the store cannot write", slog.Any("error", err))
	}
	h.err = err
	e.retryWritesLocked()
}

// retryWritesLocked sets the timer of the next try of the failed writes,
// unless one is set; the wait doubles from one try to the next. The
// engine's hmu is held.
func (e *Engine) retryWritesLocked() {
	h := &e.health
	if e.retriesOff.Load() {
		return
	}
	if h.timer != nil {
		return
	}
	if h.wait == 0 {
		h.wait = e.cfg.WriteRetry
	}
	d := h.wait
	h.wait = min(2*h.wait, max(maxWriteRetry, e.cfg.WriteRetry))
	h.timer = e.crew.afterFunc(d, e.retryWrites)
}

// keepEnd keeps the end of run id, which the store did not take, to write
// it later.
func (e *Engine) keepEnd(id int64, key string, end store.RunEnd, err error) {
	e.log.Error("recording run end: kept to write again", slog.String("task", key), slog.Int64("run", id),
		slog.Time("end", end.EndTime), slog.Any("error", err))
	e.hmu.Lock()
	defer e.hmu.Unlock()
	if len(e.health.ends) == 0 {
		e.health.endErr = err
	}
	e.health.ends = append(e.health.ends, pendingEnd{id: id, key: key, end: end, when: e.cfg.Clock.Now()})
	e.retryWritesLocked()
}

// missedFire notes a fire time of ts that the store could not record; the
// task's misfire policy applies to it once the store writes again.
func (e *Engine) missedFire(ts *taskState, at time.Time, err error) {
	e.log.Error("recording fire time: the misfire policy applies once the store writes again",
		slog.String("task", ts.key), slog.Time("scheduled", at), slog.Any("error", err))
	e.hmu.Lock()
	defer e.hmu.Unlock()
	h := &e.health
	if h.fires == nil {
		h.fires = map[*taskState]unrecordedFire{}
	}
	h.fires[ts] = h.fires[ts].merge(unrecordedFire{first: at, last: at, n: 1})
	e.retryWritesLocked()
}

// merge returns the fire times of f and g together.
func (f unrecordedFire) merge(g unrecordedFire) unrecordedFire {
	switch {
	case f.n == 0:
		return g
	case g.n == 0:
		return f
	}
	if g.first.Before(f.first) {
		f.first = g.first
	}
	if g.last.After(f.last) {
		f.last = g.last
	}
	f.n += g.n
	return f
}

// retryWrites tries again what the store owes: the run ends first, in
// order, then (with nothing else to write) a heartbeat; once the store
// writes, the misfire policies of the fire times it could not record.
func (e *Engine) retryWrites() {
	e.mu.Lock()
	stopping := e.stopping
	e.mu.Unlock()
	if stopping {
		return
	}

	e.hmu.Lock()
	e.health.timer = nil
	e.hmu.Unlock()
	ctx := context.Background()
	ok, wrote := e.writeEnds(ctx)
	if ok && wrote == 0 && e.Healthy() != nil {
		ok = e.cfg.Store.Runs.Heartbeat(ctx, e.cfg.Clock.Now()) == nil
	}
	if ok {
		e.hmu.Lock()
		fires := e.health.fires
		e.health.fires = nil
		e.hmu.Unlock()
		for ts, f := range fires {
			e.recordMissed(ctx, ts, f)
		}
	}
	e.hmu.Lock()
	defer e.hmu.Unlock()
	h := &e.health
	if h.err != nil || len(h.ends) > 0 || len(h.fires) > 0 {
		e.retryWritesLocked()
	} else {
		h.wait = 0
	}
}

// writeEnds writes the ends of runs that the store did not take, in order,
// until one fails; it reports whether all were written (or refused for
// good, e.g. for a run no longer running), and how many it wrote. One call
// at a time writes them (endsMu), and only it removes them.
func (e *Engine) writeEnds(ctx context.Context) (ok bool, done int) {
	e.endsMu.Lock()
	defer e.endsMu.Unlock()
	e.hmu.Lock()
	ends := e.health.ends
	e.hmu.Unlock()
	defer func() {
		e.hmu.Lock()
		e.health.ends = e.health.ends[done:]
		e.hmu.Unlock()
	}()
	for _, p := range ends {
		err := e.cfg.Store.Runs.FinishRun(ctx, p.id, p.end)
		if writeFailed(err) {
			e.hmu.Lock()
			e.health.endErr = err
			e.hmu.Unlock()
			return false, done
		}
		done++
		if err != nil {
			e.log.Warn("recording run end", slog.String("task", p.key), slog.Int64("run", p.id), slog.Any("error", err))
			continue
		}
		e.log.Info("recorded run end that was kept", slog.String("task", p.key), slog.Int64("run", p.id),
			slog.String("status", string(p.end.Status)), slog.Duration("late", e.cfg.Clock.Now().Sub(p.when)))
	}
	return true, done
}

// recordMissed applies ts's misfire policy to the fire times the store
// could not record, as to those missed while the engine was not running:
// run-once runs the task once for the latest, if it is within the misfire
// window and no later time was fired; otherwise the latest is recorded as
// skipped.
func (e *Engine) recordMissed(ctx context.Context, ts *taskState, f unrecordedFire) {
	e.mu.Lock()
	task, as := ts.task, e.apps[ts.app]
	schedulable := !ts.removed && as != nil && ts.schedulable(as)
	e.mu.Unlock()
	if !schedulable {
		e.log.Warn("fire times not recorded, of a task no longer scheduled", slog.String("task", ts.key),
			slog.Time("first", f.first), slog.Time("last", f.last), slog.Int("fires", f.n))
		return
	}
	var runAt time.Time
	if task.Misfire == app.MisfireRunOnce {
		last, err := e.cfg.Store.Runs.LastScheduled(ctx, ts.app, ts.name)
		if err != nil {
			e.log.ErrorContext(ctx, "reading last scheduled time", slog.String("task", ts.key), slog.Any("error", err))
		}
		window := task.MisfireWindow
		if window <= 0 {
			window = app.DefaultMisfireWindow
		}
		if err == nil && !last.After(f.last) && !f.last.Before(e.cfg.Clock.Now().Add(-window)) {
			runAt = f.last
		}
	}
	reason := reasonNotRecorded
	if f.n > 1 {
		reason = fmt.Sprintf("%s (%d fire times from %s)", reasonNotRecorded, f.n, f.first.UTC().Format(time.RFC3339))
	}
	if !e.misfire(ctx, ts, runAt, f.last, reason) {
		e.hmu.Lock()
		if e.health.fires == nil {
			e.health.fires = map[*taskState]unrecordedFire{}
		}
		e.health.fires[ts] = f.merge(e.health.fires[ts])
		e.hmu.Unlock()
	}
}

// misfire runs ts once for the missed fire time runAt (trigger catch-up),
// or, if runAt is zero, records the missed time skipAt as skipped with
// reason. It reports false when the store could not record the skipped
// time.
func (e *Engine) misfire(ctx context.Context, ts *taskState, runAt, skipAt time.Time, reason string) bool {
	if runAt.IsZero() {
		e.log.InfoContext(ctx, "skipping missed fire times", slog.String("task", ts.key), slog.Time("latest", skipAt), slog.String("reason", reason))
		run := e.storeRun(&runReq{ts: ts, trigger: store.TriggerCatchUp})
		run.ScheduledTime, run.Reason = skipAt, reason
		id, err := e.cfg.Store.Runs.RecordSkipped(ctx, run)
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			e.log.ErrorContext(ctx, "recording missed fire time", slog.String("task", ts.key), slog.Time("scheduled", skipAt), slog.Any("error", err))
			return !writeFailed(err)
		}
		if err == nil {
			e.publish(Event{Type: EventRunSkipped, App: ts.app, Task: ts.name, RunID: id, Status: store.StatusSkipped, Message: reason})
		}
		return true
	}
	e.log.InfoContext(ctx, "catching up a missed fire time", slog.String("task", ts.key), slog.Time("scheduled", runAt))
	r := &runReq{ts: ts, trigger: store.TriggerCatchUp, scheduled: runAt}
	e.crew.spawn(func() { e.submit(context.WithoutCancel(ctx), r) })
	return true
}

// stopRetries stops the tries of failed writes and makes a last one of
// the run ends the store owes; those it still does not take are left for
// MarkInterrupted at the next start, as are the fire times not recorded
// for the next start's catch-up.
func (e *Engine) stopRetries() {
	e.hmu.Lock()
	if e.health.timer != nil {
		e.health.timer.Stop()
		e.health.timer = nil
	}
	fires := e.health.fires
	e.health.fires = nil
	e.hmu.Unlock()
	e.writeEnds(context.Background())
	e.hmu.Lock()
	left := e.health.ends
	e.health.ends = nil
	e.hmu.Unlock()
	for _, p := range left {
		e.log.Error("run end not recorded: the next start marks the run interrupted", slog.String("task", p.key), slog.Int64("run", p.id))
	}
	for ts, f := range fires {
		e.log.Error("fire times not recorded: the next start's catch-up applies the misfire policy", slog.String("task", ts.key),
			slog.Time("first", f.first), slog.Time("last", f.last), slog.Int("fires", f.n))
	}
}

// watchedRuns and watchedOutcomes are the engine's view of Config.Store's
// Runs and Outcomes: the outcome of each write the engine makes tells it
// whether the store can write.
type watchedRuns struct {
	store.Runs
	e *Engine
}

type watchedOutcomes struct {
	store.Outcomes
	e *Engine
}

func (w watchedRuns) StartRun(ctx context.Context, r store.Run) (int64, error) {
	id, err := w.Runs.StartRun(ctx, r)
	w.e.wrote(err)
	return id, err
}

func (w watchedRuns) FinishRun(ctx context.Context, id int64, end store.RunEnd) error {
	err := w.Runs.FinishRun(ctx, id, end)
	w.e.wrote(err)
	return err
}

func (w watchedRuns) EndRun(ctx context.Context, id int64, end store.RunEnd, after store.AfterEnd) (store.Ended, error) {
	ended, err := w.Runs.EndRun(ctx, id, end, after)
	w.e.wrote(err)
	return ended, err
}

func (w watchedRuns) RecordSkipped(ctx context.Context, r store.Run) (int64, error) {
	id, err := w.Runs.RecordSkipped(ctx, r)
	w.e.wrote(err)
	return id, err
}

// RecordRuns tells the engine of the batch's outcome once: a failed write
// if any run met one, a write if any run was recorded.
func (w watchedRuns) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	out := w.Runs.RecordRuns(ctx, runs)
	wrote := false
	for _, rec := range out {
		if writeFailed(rec.Err) {
			w.e.wrote(rec.Err)
			return out
		}
		wrote = wrote || rec.Err == nil
	}
	if wrote {
		w.e.wrote(nil)
	}
	return out
}

func (w watchedRuns) AppendLogs(ctx context.Context, runID int64, lines []store.LogLine) error {
	err := w.Runs.AppendLogs(ctx, runID, lines)
	w.e.wrote(err)
	return err
}

func (w watchedRuns) Heartbeat(ctx context.Context, now time.Time) error {
	err := w.Runs.Heartbeat(ctx, now)
	w.e.wrote(err)
	return err
}

func (w watchedOutcomes) RecordOutcome(ctx context.Context, app, task string, o store.Outcome) (store.FailureState, error) {
	fs, err := w.Outcomes.RecordOutcome(ctx, app, task, o)
	w.e.wrote(err)
	return fs, err
}
