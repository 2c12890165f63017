package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

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
	e.finishUnstarted(ctx, queued, store.StatusCancelled, "not started: "+errCancelled.Error())
	return nil
}

// RunInfo is a snapshot of a run that executes.
type RunInfo struct {
	ID        int64
	App, Task string
	Trigger   store.Trigger
	Attempt   int
	User      string
	// Started is when it took its slot.
	Started time.Time
	// Progress and ProgressMessage are its last progress report.
	Progress        int
	ProgressMessage string
	// Overdue is set when it ran past maxRuntime without being stopped
	// (killOnTimeout: false).
	Overdue bool
}

// Running returns a snapshot of the runs that execute, oldest first.
func (e *Engine) Running() []RunInfo {
	e.mu.Lock()
	out := make([]RunInfo, 0, len(e.runs))
	for id, h := range e.runs {
		h.mu.Lock()
		out = append(out, RunInfo{
			ID: id, App: h.task.App, Task: h.task.Name, Trigger: h.req.trigger, Attempt: h.req.attempt,
			User: h.req.user, Started: h.started, Progress: h.progress, ProgressMessage: h.message,
			Overdue: h.overdue.Load(),
		})
		h.mu.Unlock()
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Tasks returns a snapshot of every task, ordered by app and task name.
func (e *Engine) Tasks() []TaskInfo {
	e.mu.Lock()
	out := make([]TaskInfo, 0, len(e.tasks))
	for _, ts := range e.tasks {
		out = append(out, e.taskInfoLocked(ts))
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b TaskInfo) int {
		return cmp.Or(cmp.Compare(a.Task.App, b.Task.App), cmp.Compare(a.Task.Name, b.Task.Name))
	})
	return out
}

// SetEnabled switches a task on or off through its override in the store.
// Enabling a task clears its failure count and the reason it was disabled.
func (e *Engine) SetEnabled(ctx context.Context, appName, task string, enabled bool) error {
	return e.UpdateTask(ctx, appName, task, TaskUpdate{Enabled: &enabled})
}

// PutOverride checks an override against its app, stores it (its failure
// state is left as it is) and applies it at once. An override that Merge
// would reject returns an error wrapping ErrInvalidOverride that names the
// problems.
func (e *Engine) PutOverride(ctx context.Context, o store.Override) error {
	if err := e.storeOverride(ctx, o); err != nil {
		return err
	}
	return e.reloadApp(ctx, o.App)
}

// storeOverride checks an override against its app and stores it, as
// PutOverride does, without applying it.
func (e *Engine) storeOverride(ctx context.Context, o store.Override) error {
	ao, err := AppOverride(o)
	if err != nil {
		return fmt.Errorf("putting override of %s/%s: %w: %w", o.App, o.Task, ErrInvalidOverride, err)
	}
	var a *app.App // as loaded: a reload replaces it, and never changes it
	e.mu.Lock()
	if as := e.apps[o.App]; as != nil {
		a = as.app
	}
	e.mu.Unlock()
	if a == nil {
		return fmt.Errorf("putting override of %s/%s: app %w", o.App, o.Task, ErrNotFound)
	}
	if errs, _ := app.CheckOverrides(a, []app.Override{ao}); len(errs) > 0 {
		return fmt.Errorf("putting override of %s/%s: %w: %w", o.App, o.Task, ErrInvalidOverride, errors.Join(problemsAsErrors(errs)...))
	}
	if err := e.cfg.Store.Overrides.PutOverride(ctx, o); err != nil {
		return fmt.Errorf("putting override of %s/%s: %w", o.App, o.Task, err)
	}
	return nil
}

func problemsAsErrors(ps []app.Problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// reloadApp loads one app again with the store's current overrides.
func (e *Engine) reloadApp(ctx context.Context, name string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	// An app whose folder is gone is removed, as Reload removes it: it
	// stops firing and its running runs finish.
	if _, err := os.Stat(filepath.Join(e.appsDir(), name)); errors.Is(err, fs.ErrNotExist) {
		e.removeApp(ctx, name)
		e.unloadUnused(ctx)
		return nil
	}
	ov, err := e.overrides(ctx)
	if err != nil {
		return fmt.Errorf("reloading app %s: %w", name, err)
	}
	e.loadApp(ctx, name, ov)
	e.unloadUnused(ctx)
	return nil
}

// storedOverride returns the task's override, or a new one.
func (e *Engine) storedOverride(ctx context.Context, appName, task string) (store.Override, error) {
	all, err := e.cfg.Store.Overrides.Overrides(ctx)
	if err != nil {
		return store.Override{}, fmt.Errorf("reading overrides: %w", err)
	}
	for _, o := range all {
		if o.App == appName && o.Task == task {
			return o, nil
		}
	}
	return store.Override{App: appName, Task: task}, nil
}
