package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Usage is what one run consumed, or, summed, what an app's runs did: what
// a hosting operator meters, bills and caps by.
type Usage struct {
	// CPUTime is the CPU time of the thread that ran the guest and its
	// host calls.
	CPUTime time.Duration
	// PeakMemory is the run's peak memory (guest plus what the host held
	// for it); for an app, the largest of its runs'.
	PeakMemory int64
	// OutputBytes and LogBytes are the output and log messages stored.
	OutputBytes, LogBytes int64
	// HTTPSent and HTTPReceived are HTTP body bytes sent and received.
	HTTPSent, HTTPReceived int64
	// KVWritten and FilesWritten are bytes written to the key-value store
	// (keys and values) and to the app's files.
	KVWritten, FilesWritten int64
}

// AppUsage is the usage of an app's runs, summed.
type AppUsage struct {
	// Runs counts the runs that recorded usage.
	Runs int64
	Usage
}

// recordUsage records the usage of run id, which has just ended, in tx; a
// trigger adds it to its app's totals.
func (s *SQLite) recordUsage(ctx context.Context, tx *sql.Tx, id int64, end RunEnd) error {
	u := end.Usage
	_, err := tx.StmtContext(ctx, s.ws.insertUsage).ExecContext(ctx,
		formatTime(end.EndTime), int64(u.CPUTime), u.PeakMemory, u.OutputBytes, u.LogBytes,
		u.HTTPSent, u.HTTPReceived, u.KVWritten, u.FilesWritten, id)
	if err != nil {
		return fmt.Errorf("recording usage: %w", err)
	}
	return nil
}

// RunUsage implements Store.
func (s *SQLite) RunUsage(ctx context.Context, id int64) (Usage, error) {
	var u Usage
	var cpu int64
	err := s.rdb.QueryRowContext(ctx, `SELECT cpu_ns, peak_memory, output_bytes, log_bytes,
			http_sent, http_received, kv_written, files_written FROM run_usage WHERE run_id = ?`, id).
		Scan(&cpu, &u.PeakMemory, &u.OutputBytes, &u.LogBytes, &u.HTTPSent, &u.HTTPReceived, &u.KVWritten, &u.FilesWritten)
	if errors.Is(err, sql.ErrNoRows) {
		return Usage{}, fmt.Errorf("usage of run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Usage{}, fmt.Errorf("usage of run %d: %w", id, err)
	}
	u.CPUTime = time.Duration(cpu)
	return u, nil
}

// UsageSince implements Store.
func (s *SQLite) UsageSince(ctx context.Context, since time.Time) (map[string]AppUsage, error) {
	return s.appUsage(ctx, `SELECT app, count(*), sum(cpu_ns), max(peak_memory), sum(output_bytes),
			sum(log_bytes), sum(http_sent), sum(http_received), sum(kv_written), sum(files_written)
		FROM run_usage WHERE end_time >= ? GROUP BY app`, formatTime(since))
}

// UsageTotals implements Store.
func (s *SQLite) UsageTotals(ctx context.Context) (map[string]AppUsage, error) {
	return s.appUsage(ctx, `SELECT app, runs, cpu_ns, peak_memory, output_bytes, log_bytes,
		http_sent, http_received, kv_written, files_written FROM app_usage`)
}

func (s *SQLite) appUsage(ctx context.Context, query string, args ...any) (map[string]AppUsage, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading usage: %w", err)
	}
	defer rows.Close()
	out := map[string]AppUsage{}
	for rows.Next() {
		var app string
		var a AppUsage
		var cpu int64
		if err := rows.Scan(&app, &a.Runs, &cpu, &a.PeakMemory, &a.OutputBytes, &a.LogBytes,
			&a.HTTPSent, &a.HTTPReceived, &a.KVWritten, &a.FilesWritten); err != nil {
			return nil, fmt.Errorf("reading usage: %w", err)
		}
		a.CPUTime = time.Duration(cpu)
		out[app] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading usage: %w", err)
	}
	return out, nil
}
