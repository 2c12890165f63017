package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// runHandle is a run that executes.
type runHandle struct {
	req     *runReq
	as      *appState
	task    app.Task // the configuration it started with
	app     guestApp // what its app gave it when it started
	module  *runtime.Module
	ctx     context.Context
	cancel  context.CancelCauseFunc
	started time.Time
	overdue atomic.Bool

	mu       sync.Mutex // guards progress
	progress int
	message  string
}

// startLocked takes a slot for r and starts it.
func (e *Engine) startLocked(as *appState, r *runReq) {
	ts := r.ts
	h := e.newRunHandleLocked(context.Background(), as, r)
	ts.queued--
	if ts.running == nil {
		ts.running = map[int64]*runHandle{}
	}
	ts.running[r.id] = h
	as.running++
	as.memory += h.task.Limits.Memory
	e.running++
	e.runs[r.id] = h
	e.crew.spawn(func() { e.execute(h) })
}

// newRunHandleLocked makes the handle of run r of an app as, cancelled when
// parent is done. The engine's lock is held.
func (e *Engine) newRunHandleLocked(parent context.Context, as *appState, r *runReq) *runHandle {
	ctx, cancel := context.WithCancelCause(parent)
	m := as.app.Manifest
	ga := guestApp{Permissions: m.Permissions, Quotas: m.Quotas, Files: as.filesQuotaLocked(), Secrets: e.secretsOf(ctx, as.name)}
	return &runHandle{req: r, as: as, task: *r.ts.task, app: ga, module: r.ts.module, ctx: ctx, cancel: cancel, started: e.cfg.Clock.Now()}
}

// execute runs the guest, records how it ended and applies the rules that
// follow a run.
func (e *Engine) execute(h *runHandle) {
	defer h.cancel(nil)
	log := e.runLogger(h)
	end, ended := e.runAndRecord(h, log)
	e.afterRun(h, end, ended, log)
}

func (e *Engine) runLogger(h *runHandle) *slog.Logger {
	return e.log.With(slog.String("app", h.task.App), slog.String("task", h.task.Name), slog.Int64("run", h.req.id))
}

// runAndRecord runs the guest of a started run and records how it ended,
// with its outcome, and whether its history is due for pruning: the one
// way every run, scheduled, triggered or run once, goes.
func (e *Engine) runAndRecord(h *runHandle, log *slog.Logger) (store.RunEnd, store.Ended) {
	r, t := h.req, h.task
	// The run is overdue maxRuntime after it started: the timer is set
	// before anyone hears of the start, so a clock that moves on at once
	// (a test's) still fires it.
	var overdue Timer
	if !t.KillOnTimeout && t.MaxRuntime > 0 {
		overdue = e.crew.afterFunc(t.MaxRuntime, func() {
			h.overdue.Store(true)
			log.Warn("run overdue", slog.Duration("max_runtime", t.MaxRuntime))
			e.publish(Event{Type: EventRunOverdue, App: t.App, Task: t.Name, RunID: r.id})
		})
	}
	e.publish(Event{Type: EventRunStarted, App: t.App, Task: t.Name, RunID: r.id, Trigger: r.trigger, Scheduled: r.scheduled})
	log.Debug("run started", slog.String("trigger", string(r.trigger)), slog.Int("attempt", r.attempt))

	end := e.runGuest(h, log)
	end.App = t.App // kept with it if the store does not take it (keepEnd)
	if overdue != nil {
		overdue.Stop()
	}

	bg := context.Background()
	var ended store.Ended
	var after store.AfterEnd
	if unrecorded(context.Cause(h.ctx)) {
		log.Warn("run cut short: its end is left to the node that takes it over", slog.Any("cause", context.Cause(h.ctx)))
	} else {
		// The limits are checked with a slack of 1/32, so that a full
		// history is pruned some runs at a time rather than after every run.
		keep, quota := t.Retention.Keep, h.app.Quotas.History
		after = store.AfterEnd{App: t.App, Task: t.Name, Now: e.cfg.Clock.Now(), HistoryQuota: quota + quota/32}
		if e.pruneCheckDue(r.ts, keep) {
			after.Keep, after.MaxAge = keep+keep/32, t.Retention.MaxAge
		}
		if counted(end.Status) {
			after.Outcome = &store.Outcome{Failed: end.Status != store.StatusSucceeded, MaxFailures: t.MaxFailures}
		}
		var err error
		ended, err = e.cfg.Store.Runs.EndRun(bg, r.id, end, after)
		switch {
		case err == nil:
		case !ended.Recorded && writeFailed(err):
			e.keepEnd(r.id, t.Key(), end, err)
		default:
			log.Error("recording run end", slog.Any("error", err))
		}
	}
	if after.Outcome != nil && ended.State == nil {
		// The end was not recorded, or the outcome not counted with it:
		// the outcome is counted on its own, as the end will be.
		fs, err := e.cfg.Store.Outcomes.RecordOutcome(bg, t.App, t.Name, *after.Outcome)
		if err != nil {
			log.Error("recording run outcome", slog.Any("error", err))
		} else {
			ended.State = &fs
		}
	}
	log.Info("run finished", slog.String("status", string(end.Status)), slog.Duration("duration", end.Duration), slog.Int("exit_code", end.ExitCode))
	return end, ended
}

// finishedEvent is the event of a run's end. It is published once the
// engine has let go of the run, so that whoever hears of it may start the
// task again at once.
func finishedEvent(h *runHandle, end store.RunEnd) Event {
	return Event{Type: EventRunFinished, App: h.task.App, Task: h.task.Name, RunID: h.req.id, Status: end.Status, Message: end.Error}
}

// counted reports whether a status counts for the failure count: runs
// stopped from outside say nothing about the task.
func counted(s store.Status) bool {
	return s != store.StatusCancelled && s != store.StatusInterrupted
}

// runGuest runs the module with the run's capabilities and limits.
func (e *Engine) runGuest(h *runHandle, log *slog.Logger) store.RunEnd {
	r, t := h.req, h.task
	sink := &runSink{e: e, h: h, batch: e.cfg.LogBatch, log: log}
	g, err := newGuest(e.cfg.Home, e.cfg.Store.KV, t, h.app, r.id, r.input, sink)
	if err != nil {
		return e.failedEnd(err)
	}
	var refused int64 // by the files quota before the run
	if g.Files != nil {
		refused = g.Files.Refusals()
	}
	call, spec := g.Call, g.Spec
	defer call.Close()
	sink.acct = g.Account
	// Under memory pressure the run's pending log lines are written out.
	g.Account.OnPressure(sink.flush)

	res, err := e.cfg.Runtime.Run(hostapi.WithCall(h.ctx, call), h.module, spec)
	if g.Files != nil && g.Files.Refusals() > refused {
		// The guest saw EIO only; the run's log says why.
		sink.Log(hostapi.LevelWarn, fmt.Sprintf("the app's files (data/files/%s) reached their quota of %s (quotas.files in app.yaml): writes past it failed with EIO",
			t.App, bytesize.Format(g.Files.Limit())))
	}
	var end store.RunEnd
	if err != nil {
		end = e.failedEnd(err)
	} else {
		end = store.RunEnd{
			Status:     store.Status(res.Status),
			EndTime:    e.cfg.Clock.Now(),
			Duration:   res.Duration,
			ExitCode:   res.ExitCode,
			Output:     e.output(res),
			Error:      res.Error,
			Result:     call.Result(),
			PeakMemory: res.PeakMemory,
			Usage:      usageOf(res.Usage),
		}
	}
	switch cause := context.Cause(h.ctx); {
	case errors.Is(cause, errShutdown), errors.Is(cause, errFenced):
		end.Status, end.Error = store.StatusInterrupted, cause.Error()
	case errors.Is(cause, errReplaced), errors.Is(cause, errCancelled):
		end.Status, end.Error = store.StatusCancelled, cause.Error()
	}
	end.Overdue = h.overdue.Load()
	if end.Overdue && end.Error == "" && end.Status != store.StatusSucceeded {
		end.Error = "overdue: ran past maxRuntime " + t.MaxRuntime.String()
	}
	end.Logs, end.LogsDropped, end.Progress = sink.end()
	return end
}

// usageOf is a run's usage as the store records it.
func usageOf(u runtime.Usage) store.Usage {
	return store.Usage{
		CPUTime: u.CPUTime, PeakMemory: u.PeakMemory, OutputBytes: u.OutputBytes, LogBytes: u.LogBytes,
		HTTPSent: u.HTTPSent, HTTPReceived: u.HTTPReceived, KVWritten: u.KVWritten, FilesWritten: u.FilesWritten,
	}
}

func (e *Engine) failedEnd(err error) store.RunEnd {
	return store.RunEnd{Status: store.StatusFailed, EndTime: e.cfg.Clock.Now(), ExitCode: -1, Error: err.Error()}
}

// output joins stdout and stderr, capped at Config.MaxOutput.
func (e *Engine) output(res *runtime.Result) string {
	out := append(slices.Clip(res.Stdout), res.Stderr...)
	truncated := res.Truncated()
	if len(out) > e.cfg.MaxOutput {
		out, truncated = out[:e.cfg.MaxOutput], true
	}
	s := string(out)
	if truncated {
		s += "\n…[output truncated]"
	}
	return s
}

// environ returns env as sorted KEY=VALUE strings.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// pruneCheckDue reports whether the end of a run of ts asks the store
// whether the task's history passes its retention (keep, maxAge): once
// every keep/64 ends of the task on this node, every end for a keep of
// 64 or less. The check reads as far as the keep-th newest run of the
// task, which made it the most of an end's cost at a high rate of runs;
// every keep/64 runs, the history passes its slack of keep/32 by half of
// it at most on each node. The app's history quota, a sum kept as runs
// are written, is checked at every end.
func (e *Engine) pruneCheckDue(ts *taskState, keep int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts.sinceCheck++
	if int(ts.sinceCheck) < keep/64 {
		return false
	}
	ts.sinceCheck = 0
	return true
}

// afterRun releases the run's slot and applies the failure count, retries
// and dependencies.
func (e *Engine) afterRun(h *runHandle, end store.RunEnd, ended store.Ended, log *slog.Logger) {
	status := end.Status
	state := ended.State
	r := h.req
	ts := r.ts
	if e.releasing != nil {
		e.releasing(h)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(ts.running, r.id)
	delete(e.runs, r.id)
	h.as.running--
	h.as.memory -= h.task.Limits.Memory
	e.running--
	if r.slot { // given back with its end
		h.as.starved = false
		h.as.freed++
	}
	e.publish(finishedEvent(h, end))
	ts.lastStatus = status
	ts.lastDuration = e.cfg.Clock.Now().Sub(h.started)
	if state != nil {
		ts.failures = state.ConsecutiveFailures
		if state.DisabledReason != "" && ts.task.Enabled {
			t := *ts.task // shared with the app as loaded
			t.Enabled = false
			ts.task = &t
			ts.disabledReason = state.DisabledReason
			e.heap.remove(ts)
			e.armLocked()
			log.Warn("task disabled", slog.String("reason", state.DisabledReason))
			e.publish(Event{Type: EventTaskChanged, App: ts.app, Task: ts.task.Name, Message: state.DisabledReason})
		}
	}
	failed := counted(status) && status != store.StatusSucceeded
	if failed && r.attempt < h.task.Retry.Max && !e.stopping && ts.task.Enabled {
		attempt := r.attempt + 1
		delay := h.task.Retry.Delay(attempt)
		log.Info("retrying", slog.Int("attempt", attempt), slog.Duration("delay", delay))
		e.retryAfter(delay, &runReq{ts: ts, trigger: store.TriggerRetry, scheduled: r.scheduled, attempt: attempt,
			input: r.input, user: r.user, retryOf: r.id})
	}
	if status == store.StatusSucceeded && !ts.removed {
		e.seq++
		ts.lastSuccessSeq = e.seq
		e.fireDependentsLocked(ts)
	}
	if ts.sincePrune < math.MaxInt32 {
		ts.sincePrune++
	}
	// One prune of a task at a time: the runs that end while it is under
	// way find the same runs due, which it deletes; the first to end
	// after it looks again.
	if int(ts.sincePrune) >= e.cfg.PruneEvery && ended.PruneDue && !ts.pruning {
		ts.sincePrune, ts.pruning = 0, true
		t, quota := h.task, h.app.Quotas.History
		e.crew.spawn(func() {
			e.prune(t, quota, log)
			e.mu.Lock()
			ts.pruning = false
			e.mu.Unlock()
		})
	}
	e.dispatchLocked()
	e.forgetAppLocked(h.as)
	if e.othersWait && !e.takingOver && e.roomLocked() > 0 {
		e.crew.spawn(func() { e.takeOver(context.Background()) })
	}
}

// prune deletes the task's runs past its retention, then its app's oldest
// runs past the app's history quota.
func (e *Engine) prune(t app.Task, quota int64, log *slog.Logger) {
	ctx := context.Background()
	n, err := e.cfg.Store.Retention.PruneRuns(ctx, t.App, t.Name, t.Retention.Keep, t.Retention.MaxAge, e.cfg.Clock.Now())
	if err != nil {
		log.Error("pruning run history", slog.Any("error", err))
	} else if n > 0 {
		log.Debug("pruned run history", slog.Int("runs", n))
	}
	if quota <= 0 {
		return
	}
	if n, err = e.cfg.Store.Retention.PruneHistory(ctx, t.App, quota); err != nil {
		log.Error("pruning the app's run history to its quota", slog.Any("error", err))
	} else if n > 0 {
		log.Info("pruned the app's run history to its quota (quotas.history in app.yaml)", slog.Int("runs", n))
	}
}

// fireDependentsLocked runs each task of the app that lists done in its
// after: once every task it lists has succeeded since its own last run.
func (e *Engine) fireDependentsLocked(done *taskState) {
	as := e.apps[done.app]
	if as == nil {
		return
	}
	for _, d := range as.dependents[done.name] {
		if d.removed || !d.task.Enabled {
			continue
		}
		ready := true
		for _, name := range d.task.After {
			dep := e.tasks[done.app+"/"+name]
			if dep == nil || dep.lastSuccessSeq <= d.lastStartSeq {
				ready = false
				break
			}
		}
		if !ready {
			continue
		}
		r := &runReq{ts: d, trigger: store.TriggerDependency}
		e.crew.spawn(func() { e.submit(context.Background(), r) })
	}
}

// runSink receives a run's logs, written to the store in batches, and its
// progress, published as events, and with a store that records progress
// (store.RunProgress) written with the next batch: at most one write a
// LogFlush for any number of reports.
type runSink struct {
	e     *Engine
	h     *runHandle
	batch int
	log   *slog.Logger
	// acct, if set, holds the buffered lines against the run's memory
	// limit; set before the run starts.
	acct *runtime.Account

	mu    sync.Mutex
	buf   []store.LogLine
	held  int64 // bytes of buf reserved in acct
	lines int64 // logged so far
	timer Timer // flushes a batch that has waited LogFlush; nil when buf is empty and progress unchanged
	ended bool  // the run's last flush has been done
	// progress is the run's last progress report, nil before the first;
	// unwritten is set while the store has not recorded it.
	progress  *store.Progress
	unwritten bool

	// kept is the bytes of messages kept for the store, at most the
	// task's LogLimit; dropped and droppedBytes count the lines past it.
	kept, dropped, droppedBytes int64

	// flushing orders the writes: a batch is taken and written under it,
	// so batches reach the store in the order of their lines.
	flushing sync.Mutex
}

var _ hostapi.Sink = (*runSink)(nil)

// Log implements hostapi.Sink.
func (s *runSink) Log(level hostapi.Level, msg string) {
	size := int64(len(msg))
	s.mu.Lock()
	// Past limits.logs: counted, not stored. Once a line is dropped, later
	// ones are too, so the stored lines have no holes. Nor are they shown
	// live: the stream shows what the history keeps, and a flood holds no
	// memory in subscribers' buffers. The first one is announced instead,
	// under the number the run's closing warning will have.
	keep := s.dropped == 0 && s.kept+size <= s.logLimit()
	if keep {
		s.kept += size
	} else {
		s.dropped++
		s.droppedBytes += size
	}
	first := s.dropped == 1 && !keep
	s.mu.Unlock()
	// A line kept past this call is held for the run (reserving may write
	// out the lines pending, so it is done without s.mu). One that does
	// not fit in what the run's memory limit leaves is written at once
	// instead, while the host call that logs it holds its bytes.
	held := keep && (s.acct == nil || s.acct.Reserve(size) == nil)
	s.mu.Lock()
	s.lines++
	seq := s.lines
	full, publish := false, true
	switch {
	case first:
		level, msg = hostapi.LevelWarn, fmt.Sprintf("log lines past limits.logs (%s) are counted, not stored or shown", bytesize.Format(s.logLimit()))
	case !keep:
		publish = false
	default:
		s.buf = append(s.buf, store.LogLine{Time: s.e.cfg.Clock.Now(), Level: level.String(), Message: msg})
		if held {
			s.held += size
		}
		full = !held || len(s.buf) >= s.batch
		if !full && s.timer == nil && !s.ended {
			s.timer = s.e.crew.afterFunc(s.e.cfg.LogFlush, s.flush)
		}
	}
	s.mu.Unlock()
	if publish {
		t := s.h.task
		s.e.publish(Event{Type: EventRunLog, App: t.App, Task: t.Name, RunID: s.h.req.id, Message: msg, Seq: seq, Level: level.String()})
	}
	if full {
		s.flush()
	}
}

// logLimit is the bytes of log messages the run stores: the task's
// limits.logs, or its default for a task made without the loader.
func (s *runSink) logLimit() int64 {
	if l := s.h.task.LogLimit; l > 0 {
		return l
	}
	return app.DefaultLogLimit
}

// end returns the lines not written yet when the run has returned, for
// the write that ends the run (after any flush under way), and how many
// lines were dropped past the task's limits.logs, which a last line then
// reports, and the last progress report; a line logged later (there
// should be none) waits for no timer.
func (s *runSink) end() ([]store.LogLine, int64, *store.Progress) {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	lines := s.buf
	s.buf = nil
	s.unwritten = false // written with the end
	s.releaseLocked()
	if s.dropped > 0 {
		lines = append(lines, store.LogLine{Time: s.e.cfg.Clock.Now(), Level: hostapi.LevelWarn.String(),
			Message: fmt.Sprintf("%d log lines (%s) not stored: the run's logs reached limits.logs, %s",
				s.dropped, bytesize.Format(s.droppedBytes), bytesize.Format(s.logLimit()))})
	}
	return lines, s.dropped, s.progress
}

// releaseLocked returns the bytes of the lines taken from buf; s.mu is held.
func (s *runSink) releaseLocked() {
	if s.acct != nil {
		s.acct.Release(s.held)
	}
	s.held = 0
}

// Progress implements hostapi.Sink.
func (s *runSink) Progress(percent int, msg string) {
	s.h.mu.Lock()
	s.h.progress, s.h.message = percent, msg
	s.h.mu.Unlock()
	s.mu.Lock()
	s.progress, s.unwritten = &store.Progress{Percent: percent, Message: msg}, true
	if s.e.progress != nil && s.timer == nil && !s.ended {
		s.timer = s.e.crew.afterFunc(s.e.cfg.LogFlush, s.flush)
	}
	s.mu.Unlock()
	t := s.h.task
	s.e.publish(Event{Type: EventRunProgress, App: t.App, Task: t.Name, RunID: s.h.req.id, Progress: percent, Message: msg})
}

// flush writes the buffered lines.
func (s *runSink) flush() {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	s.mu.Lock()
	lines, held := s.buf, s.held
	s.buf, s.held = nil, 0
	var progress *store.Progress
	if s.unwritten && s.e.progress != nil {
		progress, s.unwritten = s.progress, false
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	var err error
	switch {
	case progress != nil:
		err = s.e.progress.AppendProgress(context.Background(), s.h.req.id, lines, *progress)
	case len(lines) > 0:
		err = s.e.cfg.Store.Runs.AppendLogs(context.Background(), s.h.req.id, lines)
	default:
		return
	}
	if err != nil {
		s.log.Error("recording run logs", slog.Int("lines", len(lines)), slog.Any("error", err))
	}
	if s.acct != nil {
		s.acct.Release(held)
	}
}
