package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Stats answers the questions of the UI's charts with aggregates the
// store computes, so that a chart costs one request whatever the size of
// the history.
type Stats interface {
	// TaskStats returns a task's newest finished runs with the p50 and
	// p95 of their durations, and its runs per UTC day since q.Since.
	TaskStats(ctx context.Context, app, task string, q TaskStatsQuery) (TaskStats, error)
	// Overview returns the runs per hour by status, the timeline of
	// recent runs and the tasks failing, slowest and most often late, of
	// the apps q selects.
	Overview(ctx context.Context, q OverviewQuery) (Overview, error)
}

// TaskStatsQuery selects what TaskStats computes.
type TaskStatsQuery struct {
	// Runs is how many of the task's newest finished runs (neither
	// running nor skipped) TaskStats.Runs holds: DefaultStatsRuns if zero
	// or less, at most MaxLimit.
	Runs int
	// Since is when the first day of TaskStats.Days starts; the zero
	// time counts every day.
	Since time.Time
}

// DefaultStatsRuns is TaskStatsQuery.Runs's default.
const DefaultStatsRuns = 50

// TaskStats is a task's recent durations and daily outcomes.
type TaskStats struct {
	// Runs are the newest finished runs, oldest first.
	Runs []RunPoint
	// P50 and P95 are the median and 95th percentile of the durations of
	// Runs, by nearest rank (the smallest duration at least p percent of
	// the runs do not exceed); zero without runs.
	P50, P95 time.Duration
	// Days count the finished runs that started on each UTC day since
	// Since, oldest first; days without runs are left out.
	Days []DayCount
}

// RunPoint is a run as the charts draw it.
type RunPoint struct {
	ID         int64
	App, Task  string
	Status     Status
	Start, End time.Time // End is zero while running
	Duration   time.Duration
}

// DayCount is how the runs of one UTC day ended.
type DayCount struct {
	Day time.Time // midnight UTC
	// Succeeded counts the runs that succeeded, Failed those that ended
	// in any other final state but skipped.
	Succeeded, Failed int
}

// OverviewQuery selects what Overview computes.
type OverviewQuery struct {
	// Apps, if not nil, are the only apps counted; a non-nil empty list
	// selects nothing.
	Apps []string
	// Since starts the window of Hours, Failing, Slowest and Late.
	Since time.Time
	// TimelineSince starts the window of Timeline; Since if zero.
	TimelineSince time.Time
	// TimelineLimit is the most runs in Timeline, the newest: 500 if
	// zero or less, at most MaxLimit.
	TimelineLimit int
	// Top is the most tasks in each of Failing, Slowest and Late: 10 if
	// zero or less, at most 100.
	Top int
	// LateAfter is how long after its scheduled time a run may start
	// without being late: 5s if zero or less.
	LateAfter time.Duration
}

// Overview is the state of the apps an OverviewQuery selects.
type Overview struct {
	// Hours count the runs that started in each UTC hour of the window,
	// by status, in order of hour and status; empty hours are left out.
	Hours []HourCount
	// Timeline holds the runs, skipped ones aside, that started in the
	// timeline's window or are still running, in order of ID.
	Timeline []RunPoint
	// Failing are the tasks whose newest finished run in the window did
	// not succeed, the most recent first.
	Failing []FailingTask
	// Slowest are the tasks with the longest mean duration of their runs
	// that ended in the window, the slowest first.
	Slowest []SlowTask
	// Late are the tasks with the most late runs in the window, most
	// first: runs fired for a scheduled time that started more than
	// LateAfter after it, or were skipped.
	Late []LateTask
}

// HourCount is how many runs of a status started in an hour.
type HourCount struct {
	Hour   time.Time
	Status Status
	Runs   int
}

// FailingTask is a task whose newest finished run failed.
type FailingTask struct {
	App, Task string
	// RunID, Status, Start and Cause are of its newest finished run;
	// Cause is its last error-level log line, or else its error.
	RunID  int64
	Status Status
	Start  time.Time
	Cause  string
	// Failures counts its runs in the window that did not succeed.
	Failures int
}

// SlowTask is a task's durations in the window.
type SlowTask struct {
	App, Task string
	Runs      int
	Mean, Max time.Duration
	// MaxRunID is the newest of its runs that took Max.
	MaxRunID int64
}

// LateTask counts a task's late runs.
type LateTask struct {
	App, Task string
	// Scheduled counts its runs fired for a scheduled time, Late those of
	// them that were late; MaxDelay is the longest start delay.
	Scheduled, Late int
	MaxDelay        time.Duration
}

// The statistics' SQL is written once, for both stores: StatsQuerier runs
// it (with ? placeholders, which a store rewrites as it needs) and
// StatsDialect holds the few expressions that differ.

// StatsQuerier runs a query of the statistics, calling row for each row.
type StatsQuerier interface {
	QueryRows(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error
}

// StatsDialect holds the SQL expressions that differ between stores.
type StatsDialect struct {
	// Hour and Day are the UTC hour ("2006-01-02T15") and day
	// ("2006-01-02") of the time column col, as text.
	Hour, Day func(col string) string
	// Time is the time column col as RFC 3339 text in UTC, NULL if NULL.
	Time func(col string) string
	// Millis is the milliseconds from the time column from to to.
	Millis func(from, to string) string
	// Arg is a time as the store compares it with a time column.
	Arg func(time.Time) any
}

// statsTop clamps OverviewQuery.Top.
func statsTop(n int) int {
	if n <= 0 {
		return 10
	}
	return min(n, 100)
}

// appsWhere returns " AND AppName IN (?, …)" for apps, or "" for nil.
func appsWhere(args []any, apps []string) (string, []any) {
	if apps == nil {
		return "", args
	}
	in, args := inClause(args, apps)
	return ` AND AppName IN ` + in, args
}

// finished is the SQL condition of a run that ended, skipped ones aside.
const finished = `Status NOT IN ('running', 'skipped')`

// ComputeTaskStats implements Stats.TaskStats with db's SQL.
func ComputeTaskStats(ctx context.Context, db StatsQuerier, d StatsDialect, app, task string, q TaskStatsQuery) (TaskStats, error) {
	var out TaskStats
	n := clampLimit(q.Runs)
	if q.Runs <= 0 {
		n = DefaultStatsRuns
	}
	newest := `SELECT ` + pointColumns(d) + ` FROM TaskExecutions
		WHERE AppName = ? AND TaskName = ? AND ` + finished + ` ORDER BY ID DESC LIMIT ?`
	err := db.QueryRows(ctx, `SELECT `+pointOrder+` FROM (`+newest+`) r ORDER BY ID`,
		[]any{app, task, n}, func(scan func(...any) error) error {
			p, err := scanPoint(scan)
			out.Runs = append(out.Runs, p)
			return err
		})
	if err == nil && len(out.Runs) > 0 {
		// Nearest rank: the k-th smallest duration, k = ceil(p·n/100).
		err = db.QueryRows(ctx, `WITH r AS (SELECT dur, row_number() OVER (ORDER BY dur) AS k, count(*) OVER () AS n FROM (`+newest+`) x)
			SELECT coalesce(min(CASE WHEN k >= (n*50+99)/100 THEN dur END), 0), coalesce(min(CASE WHEN k >= (n*95+99)/100 THEN dur END), 0) FROM r`,
			[]any{app, task, n}, func(scan func(...any) error) error {
				var p50, p95 int64
				err := scan(&p50, &p95)
				out.P50, out.P95 = time.Duration(p50)*time.Millisecond, time.Duration(p95)*time.Millisecond
				return err
			})
	}
	if err == nil {
		err = db.QueryRows(ctx, `SELECT `+d.Day("StartTime")+`, sum(CASE WHEN Status = 'succeeded' THEN 1 ELSE 0 END), count(*)
			FROM TaskExecutions WHERE AppName = ? AND TaskName = ? AND `+finished+` AND StartTime >= ?
			GROUP BY 1 ORDER BY 1`, []any{app, task, d.Arg(q.Since)}, func(scan func(...any) error) error {
			var (
				day    string
				ok, of int64
			)
			if err := scan(&day, &ok, &of); err != nil {
				return err
			}
			t, err := time.Parse(time.DateOnly, day)
			out.Days = append(out.Days, DayCount{Day: t, Succeeded: int(ok), Failed: int(of - ok)})
			return err
		})
	}
	if err != nil {
		return TaskStats{}, fmt.Errorf("computing the statistics of %s/%s: %w", app, task, err)
	}
	return out, nil
}

// ComputeOverview implements Stats.Overview with db's SQL.
func ComputeOverview(ctx context.Context, db StatsQuerier, d StatsDialect, q OverviewQuery) (Overview, error) {
	var out Overview
	if q.Apps != nil && len(q.Apps) == 0 {
		return out, nil
	}
	since := d.Arg(q.Since)
	tlSince := q.TimelineSince
	if tlSince.IsZero() {
		tlSince = q.Since
	}
	tlLimit := 500
	if q.TimelineLimit > 0 {
		tlLimit = min(q.TimelineLimit, MaxLimit)
	}
	top := statsTop(q.Top)
	lateAfter := q.LateAfter
	if lateAfter <= 0 {
		lateAfter = 5 * time.Second
	}
	apps, appArgs := appsWhere(nil, q.Apps)
	with := func(args ...any) []any { return append(args, appArgs...) }
	var errs []error
	query := func(what, sql string, args []any, row func(scan func(...any) error) error) {
		if err := db.QueryRows(ctx, sql, args, row); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}

	query("runs per hour", `SELECT `+d.Hour("StartTime")+`, Status, count(*) FROM TaskExecutions
		WHERE StartTime >= ?`+apps+` GROUP BY 1, 2 ORDER BY 1, 2`, with(since), func(scan func(...any) error) error {
		var (
			hour, status string
			n            int64
		)
		if err := scan(&hour, &status, &n); err != nil {
			return err
		}
		t, err := time.Parse("2006-01-02T15", hour)
		out.Hours = append(out.Hours, HourCount{Hour: t, Status: Status(status), Runs: int(n)})
		return err
	})

	query("timeline", `SELECT `+pointOrder+` FROM (SELECT `+pointColumns(d)+` FROM TaskExecutions
		WHERE (StartTime >= ? OR Status = 'running') AND Status <> 'skipped'`+apps+`
		ORDER BY ID DESC LIMIT ?) r ORDER BY ID`, append(with(d.Arg(tlSince)), tlLimit), func(scan func(...any) error) error {
		p, err := scanPoint(scan)
		out.Timeline = append(out.Timeline, p)
		return err
	})

	// One pass over the window's runs, grouped by task, answers the
	// three rankings; the runs they name are read by ID after.
	type agg struct {
		app, task                    string
		finished, total, most, fails int64
		last, scheduled, late, delay int64
	}
	var tasks []agg
	sched := `ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')`
	delay := d.Millis("ScheduledTime", "StartTime")
	query("tasks", `SELECT AppName, TaskName,
			sum(CASE WHEN `+finished+` THEN 1 ELSE 0 END),
			coalesce(sum(CASE WHEN `+finished+` THEN Duration END), 0),
			coalesce(max(CASE WHEN `+finished+` THEN Duration END), 0),
			sum(CASE WHEN Status NOT IN ('running', 'skipped', 'succeeded') THEN 1 ELSE 0 END),
			coalesce(max(CASE WHEN `+finished+` THEN ID END), 0),
			sum(CASE WHEN `+sched+` THEN 1 ELSE 0 END),
			sum(CASE WHEN `+sched+` AND (Status = 'skipped' OR `+delay+` > ?) THEN 1 ELSE 0 END),
			coalesce(max(CASE WHEN `+sched+` AND Status <> 'skipped' THEN `+delay+` END), 0)
		FROM TaskExecutions WHERE StartTime >= ?`+apps+` GROUP BY AppName, TaskName`,
		append([]any{lateAfter.Milliseconds(), since}, appArgs...), func(scan func(...any) error) error {
			var a agg
			err := scan(&a.app, &a.task, &a.finished, &a.total, &a.most, &a.fails, &a.last, &a.scheduled, &a.late, &a.delay)
			tasks = append(tasks, a)
			return err
		})

	// Failing: the tasks whose newest finished run did not succeed.
	var lastIDs []int64
	byLast := map[int64]agg{}
	for _, a := range tasks {
		if a.last > 0 {
			lastIDs = append(lastIDs, a.last)
			byLast[a.last] = a
		}
	}
	for len(lastIDs) > 0 && len(errs) == 0 {
		batch := lastIDs[:min(len(lastIDs), 500)]
		lastIDs = lastIDs[len(batch):]
		in, args := inClause(nil, batch)
		query("failing tasks", `SELECT ID, Status, `+d.Time("StartTime")+`, coalesce(nullif(ErrorLine, ''), ErrorMessage, '')
			FROM TaskExecutions WHERE ID IN `+in+` AND Status <> 'succeeded'`, args, func(scan func(...any) error) error {
			var (
				f             FailingTask
				status, start string
			)
			if err := scan(&f.RunID, &status, &start, &f.Cause); err != nil {
				return err
			}
			a := byLast[f.RunID]
			f.App, f.Task, f.Status, f.Failures = a.app, a.task, Status(status), int(a.fails)
			var err error
			f.Start, err = statsTime(start)
			out.Failing = append(out.Failing, f)
			return err
		})
	}
	slices.SortFunc(out.Failing, func(a, b FailingTask) int { return cmp.Compare(b.RunID, a.RunID) })
	out.Failing = out.Failing[:min(len(out.Failing), top)]

	// Slowest: by mean duration; the run that took the longest is read
	// for each of the top.
	for _, a := range tasks {
		if a.finished > 0 {
			out.Slowest = append(out.Slowest, SlowTask{App: a.app, Task: a.task, Runs: int(a.finished),
				Mean: time.Duration(a.total/a.finished) * time.Millisecond, Max: time.Duration(a.most) * time.Millisecond})
		}
	}
	slices.SortFunc(out.Slowest, func(a, b SlowTask) int {
		return cmp.Or(cmp.Compare(b.Mean, a.Mean), cmp.Compare(a.App, b.App), cmp.Compare(a.Task, b.Task))
	})
	out.Slowest = out.Slowest[:min(len(out.Slowest), top)]
	for i := range out.Slowest {
		x := &out.Slowest[i]
		query("slowest run", `SELECT coalesce(max(ID), 0) FROM TaskExecutions
			WHERE AppName = ? AND TaskName = ? AND StartTime >= ? AND `+finished+` AND Duration = ?`,
			[]any{x.App, x.Task, since, x.Max.Milliseconds()}, func(scan func(...any) error) error { return scan(&x.MaxRunID) })
	}

	// Late: by the count of late runs.
	for _, a := range tasks {
		if a.late > 0 {
			out.Late = append(out.Late, LateTask{App: a.app, Task: a.task, Scheduled: int(a.scheduled), Late: int(a.late),
				MaxDelay: time.Duration(a.delay) * time.Millisecond})
		}
	}
	slices.SortFunc(out.Late, func(a, b LateTask) int {
		return cmp.Or(cmp.Compare(b.Late, a.Late), cmp.Compare(a.App, b.App), cmp.Compare(a.Task, b.Task))
	})
	out.Late = out.Late[:min(len(out.Late), top)]

	if len(errs) > 0 {
		return Overview{}, fmt.Errorf("computing the overview: %w", errs[0])
	}
	return out, nil
}

// pointColumns are the columns of a RunPoint, named for pointOrder, which
// selects them from a subquery for scanPoint.
func pointColumns(d StatsDialect) string {
	return `ID, AppName, TaskName, Status, ` + d.Time("StartTime") + ` AS st, ` + d.Time("EndTime") + ` AS et, coalesce(Duration, 0) AS dur`
}

const pointOrder = `ID, AppName, TaskName, Status, st, coalesce(et, ''), dur`

// scanPoint reads a row of pointOrder.
func scanPoint(scan func(...any) error) (RunPoint, error) {
	var (
		p                  RunPoint
		status, start, end string
		ms                 int64
	)
	if err := scan(&p.ID, &p.App, &p.Task, &status, &start, &end, &ms); err != nil {
		return p, err
	}
	p.Status, p.Duration = Status(status), time.Duration(ms)*time.Millisecond
	var err error
	if p.Start, err = statsTime(start); err == nil {
		p.End, err = statsTime(end)
	}
	return p, err
}

// EachRow calls row for each row of rows (a *sql.Rows or pgx.Rows), for
// a StatsQuerier; the caller closes rows.
func EachRow(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}, row func(scan func(dest ...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// statsTime reads a time of the statistics' SQL: RFC 3339 text, or "".
func statsTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// LastErrorLine returns the message of the last error-level line of
// lines, which a store keeps with the run as the cause of its failure.
func LastErrorLine(lines []LogLine) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.EqualFold(lines[i].Level, "error") {
			return lines[i].Message, true
		}
	}
	return "", false
}
