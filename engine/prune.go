package engine

import (
	"context"
	"log/slog"

	"github.com/cronbox/cronbox/engine/app"
)

// armPruneLocked schedules the next sweep of the run history, unless the
// engine is stopping.
func (e *Engine) armPruneLocked() {
	if e.stopping {
		return
	}
	e.pruneTimer = e.cfg.Clock.AfterFunc(e.cfg.PruneInterval, e.sweep)
}

// sweep prunes, in the background, the history of every task with a
// maximum age: runs age out with time, not only when new runs are added
// (which prune the history of their task every PruneEvery runs). It then
// schedules the next sweep.
func (e *Engine) sweep() {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return
	}
	var tasks []app.Task
	for _, ts := range e.tasks {
		if ts.task.Retention.MaxAge > 0 {
			tasks = append(tasks, ts.task)
		}
	}
	e.addBusyLocked(1)
	e.mu.Unlock()

	deleted := 0
	now := e.cfg.Clock.Now()
	for _, t := range tasks {
		if !e.Started() { // stopping
			break
		}
		n, err := e.cfg.Store.PruneRuns(context.Background(), t.App, t.Name, t.Retention.Keep, t.Retention.MaxAge, now)
		if err != nil {
			e.log.Error("pruning run history", slog.String("task", t.Key()), slog.Any("error", err))
			continue
		}
		deleted += n
	}
	if deleted > 0 {
		e.log.Info("pruned run history", slog.Int("tasks", len(tasks)), slog.Int("runs", deleted))
	}

	e.mu.Lock()
	e.addBusyLocked(-1)
	e.armPruneLocked()
	e.mu.Unlock()
}
