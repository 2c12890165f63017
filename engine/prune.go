package engine

import (
	"context"
	"log/slog"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// armPruneLocked schedules the next sweep of the run history, unless the
// engine is stopping.
func (e *Engine) armPruneLocked() {
	if e.stopping {
		return
	}
	e.pruneTimer = e.crew.afterFunc(e.cfg.PruneInterval, e.sweep)
}

// sweep prunes, in the background, the history of every task: runs age
// out with time, not only when new runs are added (which prune the history
// of their task every PruneEvery runs). It then schedules the next sweep.
func (e *Engine) sweep() {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()

	e.pruneAll()

	e.mu.Lock()
	e.armPruneLocked()
	e.mu.Unlock()
}

// pruneAll prunes the history of every task to its retention, then of
// every app to its history quota. Start calls it, so that a retention or
// quota lowered while Cronbox was down holds at once, and so does sweep.
func (e *Engine) pruneAll() {
	e.mu.Lock()
	tasks := make([]*app.Task, 0, len(e.tasks)) // never changed: see taskState
	for _, ts := range e.tasks {
		tasks = append(tasks, ts.task)
	}
	quotas := map[string]int64{}
	for name, as := range e.apps {
		if as.app != nil {
			quotas[name] = as.app.Manifest.Quotas.History
		}
	}
	e.mu.Unlock()

	ctx := context.Background()
	deleted := 0
	now := e.cfg.Clock.Now()
	// One read finds the few tasks with runs to delete among them all;
	// each of those is then pruned alone.
	limits := make([]store.PruneLimit, 0, len(tasks))
	byRef := make(map[store.TaskRef]*app.Task, len(tasks))
	for _, t := range tasks {
		if t.Retention.Keep > 0 || t.Retention.MaxAge > 0 {
			ref := store.TaskRef{App: t.App, Task: t.Name}
			limits = append(limits, store.PruneLimit{TaskRef: ref, Keep: t.Retention.Keep, MaxAge: t.Retention.MaxAge})
			byRef[ref] = t
		}
	}
	due, err := e.cfg.Store.Retention.PruneDue(ctx, limits, now)
	if err != nil {
		e.log.Error("looking for run history to prune", slog.Int("tasks", len(limits)), slog.Any("error", err))
	}
	for _, ref := range due {
		if e.retriesOff.Load() { // stopping
			return
		}
		t := byRef[ref]
		n, err := e.cfg.Store.Retention.PruneRuns(ctx, t.App, t.Name, t.Retention.Keep, t.Retention.MaxAge, now)
		if err != nil {
			e.log.Error("pruning run history", slog.String("task", t.Key()), slog.Any("error", err))
			continue
		}
		deleted += n
	}
	for name, quota := range quotas {
		if e.retriesOff.Load() || quota <= 0 {
			continue
		}
		n, err := e.cfg.Store.Retention.PruneHistory(ctx, name, quota)
		if err != nil {
			e.log.Error("pruning the app's run history to its quota", slog.String("app", name), slog.Any("error", err))
			continue
		}
		deleted += n
	}
	if deleted > 0 {
		e.log.Info("pruned run history", slog.Int("tasks", len(tasks)), slog.Int("runs", deleted))
	}
	if a := e.cfg.Store.Audit; a != nil && !e.retriesOff.Load() {
		n, err := a.PruneAudit(ctx, now.Add(-e.cfg.AuditRetention))
		if err != nil {
			e.log.Error("pruning the audit log", slog.Any("error", err))
		} else if n > 0 {
			e.log.Info("pruned the audit log", slog.Int("entries", n))
		}
	}
}
