package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// retryable reports whether a run that ended with status s is retried when
// its task has attempts left on the next start: it failed, or Cronbox
// stopped or crashed under it. Cancelled runs were stopped on purpose.
func retryable(s store.Status) bool {
	switch s {
	case store.StatusFailed, store.StatusTimedOut, store.StatusOutOfMemory,
		store.StatusTrapped, store.StatusInterrupted:
		return true
	}
	return false
}

// restoreRetries schedules again the retries left pending by a process
// that stopped or crashed, or by a node of a cluster that was lost: a
// retry lives in a timer, which dies with its process. For each enabled
// task with retries whose latest run that started (skipped runs do not
// count) failed or was interrupted with attempts left, whose key tasks
// accepts and which mine accepts (the task's key and that run; tasks
// spares the reads of the others), it schedules the next attempt
// at the run's end plus the backoff of that attempt, or at once if that
// time has passed. The retry carries the run's scheduled time, input and
// user, as a retry in the same process would, and the run's ID: the
// store records one retry of a run, so that two nodes that both restore
// it run it once.
//
// On a single node it runs in Start after MarkInterrupted, so the runs a
// crash cut short are interrupted by then and retried like the others;
// in a cluster, adoptRetries calls it.
func (e *Engine) restoreRetries(ctx context.Context, tasks func(key string) bool, mine func(key string, last store.Run) bool) error {
	type candidate struct {
		ts    *taskState
		retry app.Retry
	}
	e.mu.Lock()
	var candidates []candidate
	for _, ts := range e.tasks {
		if ts.task.Retry.Max > 0 && ts.task.Enabled && !ts.removed && tasks(ts.key) {
			candidates = append(candidates, candidate{ts, ts.task.Retry})
		}
	}
	e.mu.Unlock()
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].ts.key < candidates[j].ts.key })

	now := e.cfg.Clock.Now()
	var errs []error
	restored := 0
	for _, c := range candidates {
		ts := c.ts
		runs, err := e.cfg.Store.Runs.ListRuns(ctx, store.RunFilter{Apps: []string{ts.app}, Task: ts.name, Statuses: ranStatuses, Limit: 1})
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring retry of %s: %w", ts.key, err))
			continue
		}
		if len(runs) == 0 || !retryable(runs[0].Status) || runs[0].Attempt >= c.retry.Max || !mine(ts.key, runs[0]) {
			continue
		}
		last, err := e.cfg.Store.Runs.GetRun(ctx, runs[0].ID) // ListRuns leaves the input out
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring retry of %s: %w", ts.key, err))
			continue
		}
		attempt := last.Attempt + 1
		ended := last.EndTime
		if ended.IsZero() {
			ended = now
		}
		delay := max(0, ended.Add(c.retry.Delay(attempt)).Sub(now))
		e.log.InfoContext(ctx, "restoring retry", slog.String("task", ts.key), slog.Int64("run", last.ID),
			slog.String("node", last.Node), slog.String("status", string(last.Status)), slog.Int("attempt", attempt),
			slog.Duration("delay", delay))
		e.retryAfter(delay, &runReq{ts: ts, trigger: store.TriggerRetry, scheduled: last.ScheduledTime,
			attempt: attempt, input: last.Input, user: last.TriggeredByUser, retryOf: last.ID})
		restored++
	}
	if restored > 0 {
		e.log.InfoContext(ctx, "restored retries", slog.Int("tasks", restored))
	}
	return errors.Join(errs...)
}

// everyTask and everyRun are restoreRetries' filters on a single node:
// every pending retry is its own.
func everyTask(string) bool { return true }

func everyRun(string, store.Run) bool { return true }

// retryAfter submits r once d has passed. A retry that comes due after Stop
// finds the engine stopping and is dropped; it is restored on the next
// start.
func (e *Engine) retryAfter(d time.Duration, r *runReq) {
	e.crew.afterFunc(d, func() { e.submit(context.Background(), r) })
}
