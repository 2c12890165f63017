package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// Trigger runs a task now, by hand, with input as its input JSON (nil
// means null) and user as who asked. It returns the new run's ID once the
// run is recorded and queued. A disabled task may still be run by hand;
// a task with errors may not (ErrInvalidTask), and under the forbid overlap
// policy a task that is running or queued returns ErrBusy.
func (e *Engine) Trigger(ctx context.Context, appName, task string, input json.RawMessage, user string) (int64, error) {
	if len(input) > 0 && !json.Valid(input) {
		return 0, fmt.Errorf("triggering %s/%s: input is not valid JSON", appName, task)
	}
	e.mu.Lock()
	if !e.started || e.stopping {
		e.mu.Unlock()
		return 0, fmt.Errorf("triggering %s/%s: %w", appName, task, ErrNotRunning)
	}
	ts, ok := e.tasks[appName+"/"+task]
	if !ok {
		e.mu.Unlock()
		return 0, fmt.Errorf("triggering %s/%s: task %w", appName, task, ErrNotFound)
	}
	e.mu.Unlock()
	id, err := e.submit(ctx, &runReq{ts: ts, trigger: store.TriggerManual, input: input, user: user})
	if err != nil {
		return 0, err
	}
	e.log.InfoContext(ctx, "run triggered", slog.String("task", ts.key), slog.String("user", user), slog.Int64("run", id))
	return id, nil
}

// Cancel stops a running or queued run; it is recorded as cancelled.
func (e *Engine) Cancel(ctx context.Context, runID int64) error {
	e.mu.Lock()
	if h, ok := e.runs[runID]; ok {
		h.cancel(errCancelled)
		e.mu.Unlock()
		return nil
	}
	var queued *runReq
	for _, as := range e.apps {
		for i, r := range as.queue {
			if r.id == runID {
				queued = r
				as.queue = append(as.queue[:i:i], as.queue[i+1:]...)
				break
			}
		}
	}
	e.mu.Unlock()
	if queued == nil {
		return fmt.Errorf("cancelling run %d: run %w or not running", runID, ErrNotFound)
	}
	if !e.finishUnstarted(ctx, queued, store.StatusCancelled, "not started: "+errCancelled.Error()) {
		return fmt.Errorf("cancelling run %d: %w: it waited for room on this node, and another node took it over", runID, ErrNotFound)
	}
	return nil
}

// RunOnce runs the task app/task once, now, as a manual run by user with
// input (nil means null), and returns the run as recorded when it has
// ended. It is for an engine that is not started, which it leaves so: the
// app is loaded with the store's overrides as Start loads it, and the run
// is recorded, given its guest, capped and published as a run of a started
// engine is, but no schedule fires, and neither retries nor dependents
// follow it. A ctx that is done interrupts the run. Like Trigger, it runs
// a disabled task but not a task with errors (ErrInvalidTask).
func (e *Engine) RunOnce(ctx context.Context, appName, task string, input json.RawMessage, user string) (store.Run, error) {
	key := appName + "/" + task
	if len(input) > 0 && !json.Valid(input) {
		return store.Run{}, fmt.Errorf("running %s: input is not valid JSON", key)
	}
	e.mu.Lock()
	started := e.started
	e.mu.Unlock()
	if started {
		return store.Run{}, fmt.Errorf("running %s once: the engine is started; use Trigger", key)
	}
	if app.ValidName(appName) != nil {
		return store.Run{}, fmt.Errorf("running %s: app %w", key, ErrNotFound)
	}
	ov, err := e.overrides(ctx)
	if err != nil {
		return store.Run{}, fmt.Errorf("running %s: %w", key, err)
	}
	a, tasks, err := loadDefinition(e.appsDir(), appName, ov, nil)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return store.Run{}, fmt.Errorf("running %s: app %w", key, ErrNotFound)
	case err != nil:
		return store.Run{}, fmt.Errorf("running %s: %w", key, err)
	}
	i := -1
	for j, t := range tasks {
		if t.Name == task {
			i = j
		}
	}
	if i < 0 {
		return store.Run{}, fmt.Errorf("running %s: task %w", key, ErrNotFound)
	}
	t := tasks[i]
	if len(t.Errors) > 0 {
		return store.Run{}, fmt.Errorf("running %s: %w:\n%w", key, ErrInvalidTask, errors.Join(problemsAsErrors(t.Errors)...))
	}
	mod, err := e.loadModule(ctx, t.Module)
	if err != nil {
		return store.Run{}, fmt.Errorf("running %s: %w", key, err)
	}
	defer e.unloadUnused(context.WithoutCancel(ctx))

	ts := &taskState{key: key, app: appName, name: task, task: &t, module: mod, heapIdx: -1}
	r := &runReq{ts: ts, trigger: store.TriggerManual, input: input, user: user}
	run := e.storeRun(r)
	if r.id, err = e.cfg.Store.Runs.StartRun(ctx, run); err != nil {
		return store.Run{}, fmt.Errorf("recording start of %s: %w", key, err)
	}
	run.ID = r.id
	e.mu.Lock()
	h := e.newRunHandleLocked(context.WithoutCancel(ctx), &appState{name: appName, app: a}, r)
	e.mu.Unlock()
	defer h.cancel(nil)
	stop := context.AfterFunc(ctx, func() { h.cancel(errShutdown) })
	defer stop()
	end, _ := e.runAndRecord(h, e.runLogger(h))
	e.publish(finishedEvent(h, end))
	// An end the store did not take is tried once more now, not by a
	// timer that would outlive the call.
	e.stopRetries()
	run.Status, run.EndTime, run.Duration, run.ExitCode, run.Output, run.Error, run.Result, run.PeakMemory =
		end.Status, end.EndTime, end.Duration, end.ExitCode, end.Output, end.Error, end.Result, end.PeakMemory
	return run, nil
}
