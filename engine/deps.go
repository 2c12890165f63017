package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cronbox/cronbox/engine/store"
)

// ranStatuses are the statuses of runs that started.
var ranStatuses = []store.Status{
	store.StatusRunning, store.StatusSucceeded, store.StatusFailed, store.StatusTimedOut,
	store.StatusOutOfMemory, store.StatusTrapped, store.StatusCancelled, store.StatusInterrupted,
}

// restoreDependencies reads from the history, for every task that takes
// part in an after: dependency, its last run and its last success, so that
// "succeeded since its own last run" holds across restarts. Run IDs order
// them; the engine's sequence continues above the largest.
func (e *Engine) restoreDependencies(ctx context.Context) error {
	e.mu.Lock()
	involved := map[*taskState]bool{}
	for _, ts := range e.tasks {
		if len(ts.task.After) == 0 {
			continue
		}
		involved[ts] = true
		for _, name := range ts.task.After {
			if dep := e.tasks[ts.app+"/"+name]; dep != nil {
				involved[dep] = true
			}
		}
	}
	e.mu.Unlock()
	type restored struct{ start, success int64 }
	found := map[*taskState]restored{}
	var maxID int64
	for ts := range involved {
		var r restored
		for i, statuses := range [][]store.Status{ranStatuses, {store.StatusSucceeded}} {
			runs, err := e.cfg.Store.Runs.ListRuns(ctx, store.RunFilter{Apps: []string{ts.app}, Task: ts.name, Statuses: statuses, Limit: 1})
			if err != nil {
				return fmt.Errorf("restoring dependency state of %s: %w", ts.key, err)
			}
			if len(runs) == 0 {
				continue
			}
			if i == 0 {
				r.start = runs[0].ID
			} else {
				r.success = runs[0].ID
			}
			maxID = max(maxID, runs[0].ID)
		}
		found[ts] = r
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ts, r := range found {
		ts.lastStartSeq, ts.lastSuccessSeq = r.start, r.success
	}
	e.seq = max(e.seq, maxID)
	if len(found) > 0 {
		e.log.DebugContext(ctx, "restored dependency state", slog.Int("tasks", len(found)))
	}
	return nil
}
