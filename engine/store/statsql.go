package store

import (
	"context"
	"time"
)

// sqliteStats is the statistics' SQL of SQLite: times are RFC 3339 text,
// whose prefixes are their hour and day.
var sqliteStats = StatsDialect{
	Hour: func(col string) string { return `substr(` + col + `, 1, 13)` },
	Day:  func(col string) string { return `substr(` + col + `, 1, 10)` },
	Time: func(col string) string { return col },
	Millis: func(from, to string) string {
		return `CAST(round((julianday(` + to + `) - julianday(` + from + `)) * 86400000) AS INTEGER)`
	},
	Arg: func(t time.Time) any { return formatTime(t) },
}

// sqliteRows runs the statistics' queries on the read pool.
type sqliteRows struct{ s *SQLite }

func (q sqliteRows) QueryRows(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := q.s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return EachRow(rows, row)
}

// TaskStats implements Stats.
func (s *SQLite) TaskStats(ctx context.Context, app, task string, q TaskStatsQuery) (TaskStats, error) {
	return ComputeTaskStats(ctx, sqliteRows{s}, sqliteStats, app, task, q)
}

// Overview implements Stats.
func (s *SQLite) Overview(ctx context.Context, q OverviewQuery) (Overview, error) {
	return ComputeOverview(ctx, sqliteRows{s}, sqliteStats, q)
}
