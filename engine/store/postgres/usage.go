package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// RunUsage implements store.Metering.
func (s *Store) RunUsage(ctx context.Context, id int64) (store.Usage, error) {
	var (
		u   store.Usage
		cpu int64
	)
	err := s.pool.QueryRow(ctx, `SELECT cpu_ns, peak_memory, output_bytes, log_bytes,
			http_sent, http_received, kv_written, files_written FROM run_usage WHERE run_id = $1`, id).
		Scan(&cpu, &u.PeakMemory, &u.OutputBytes, &u.LogBytes, &u.HTTPSent, &u.HTTPReceived, &u.KVWritten, &u.FilesWritten)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Usage{}, fmt.Errorf("usage of run %d: %w", id, err)
	}
	u.CPUTime = time.Duration(cpu)
	return u, nil
}

// UsageSince implements store.Metering.
func (s *Store) UsageSince(ctx context.Context, since time.Time) (map[string]store.AppUsage, error) {
	return s.appUsage(ctx, `SELECT app, count(*), sum(cpu_ns)::bigint, max(peak_memory), sum(output_bytes)::bigint,
			sum(log_bytes)::bigint, sum(http_sent)::bigint, sum(http_received)::bigint, sum(kv_written)::bigint, sum(files_written)::bigint
		FROM run_usage WHERE end_time >= $1 GROUP BY app`, since)
}

// AppUsageSQL reads each app's usage totals, summed over the rows they
// are kept in (migration 20), as the columns of SQLite's app_usage.
const AppUsageSQL = `SELECT app, sum(runs)::bigint AS runs, sum(cpu_ns)::bigint AS cpu_ns, max(peak_memory) AS peak_memory,
	sum(output_bytes)::bigint AS output_bytes, sum(log_bytes)::bigint AS log_bytes, sum(http_sent)::bigint AS http_sent,
	sum(http_received)::bigint AS http_received, sum(kv_written)::bigint AS kv_written, sum(files_written)::bigint AS files_written
	FROM app_usage GROUP BY app`

// UsageTotals implements store.Metering.
func (s *Store) UsageTotals(ctx context.Context) (map[string]store.AppUsage, error) {
	return s.appUsage(ctx, AppUsageSQL)
}

func (s *Store) appUsage(ctx context.Context, query string, args ...any) (map[string]store.AppUsage, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	out := map[string]store.AppUsage{}
	if err == nil {
		var (
			app string
			a   store.AppUsage
			cpu int64
		)
		_, err = pgx.ForEachRow(rows, []any{&app, &a.Runs, &cpu, &a.PeakMemory, &a.OutputBytes, &a.LogBytes,
			&a.HTTPSent, &a.HTTPReceived, &a.KVWritten, &a.FilesWritten}, func() error {
			a.CPUTime = time.Duration(cpu)
			out[app] = a
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading usage: %w", err)
	}
	return out, nil
}
