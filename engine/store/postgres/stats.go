package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// pgStats is the statistics' SQL of PostgreSQL: times are timestamptz,
// turned into UTC text.
var pgStats = store.StatsDialect{
	Hour: func(col string) string { return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')` },
	Day:  func(col string) string { return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD')` },
	Time: func(col string) string {
		return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	},
	Millis: func(from, to string) string {
		return `CAST(round(extract(epoch FROM (` + to + ` - ` + from + `)) * 1000) AS bigint)`
	},
	Arg: func(t time.Time) any { return t },
}

// numbered rewrites the ? placeholders of the statistics' SQL as $1, $2, …;
// their SQL has no ? of another kind.
func numbered(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pgRows runs the statistics' queries on the pool.
type pgRows struct{ s *Store }

func (q pgRows) QueryRows(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := q.s.pool.Query(ctx, numbered(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return store.EachRow(rows, row)
}

// TaskStats implements store.Stats.
func (s *Store) TaskStats(ctx context.Context, app, task string, q store.TaskStatsQuery) (store.TaskStats, error) {
	return store.ComputeTaskStats(ctx, pgRows{s}, pgStats, app, task, q)
}

// Overview implements store.Stats.
func (s *Store) Overview(ctx context.Context, q store.OverviewQuery) (store.Overview, error) {
	return store.ComputeOverview(ctx, pgRows{s}, pgStats, q)
}
