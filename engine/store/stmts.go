package store

import (
	"context"
	"database/sql"
	"fmt"
)

// writeStmts are the statements of frequent writes, prepared once on the
// write connection; a write uses them through tx.StmtContext.
type writeStmts struct {
	insertRun, setInput                   *sql.Stmt
	finishRun, insertUsage                *sql.Stmt
	lastLogSeq, insertLog, addLogsDropped *sql.Stmt
	addLogBytes                           *sql.Stmt
	kvSet, kvDelete, kvRoom               *sql.Stmt
	getFailures, clearFailures            *sql.Stmt
	insertEvent                           *sql.Stmt
	touchToken                            *sql.Stmt
	historyUsage                          *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, []stmtDef{
		{&w.insertRun, insertRunSQL},
		{&w.setInput, setInputSQL},
		{&w.finishRun, finishRunSQL},
		{&w.insertUsage, `INSERT INTO run_usage (run_id, app, end_time, cpu_ns, peak_memory,
				output_bytes, log_bytes, http_sent, http_received, kv_written, files_written)
			SELECT ID, AppName, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM TaskExecutions WHERE ID = ?`},
		{&w.lastLogSeq, `SELECT coalesce(max(seq), 0) FROM run_logs WHERE run_id = ?`},
		{&w.insertLog, `INSERT INTO run_logs (run_id, seq, time, level, message) VALUES (?, ?, ?, ?, ?)`},
		{&w.addLogsDropped, `UPDATE TaskExecutions SET LogsDropped = LogsDropped + ? WHERE ID = ?`},
		{&w.addLogBytes, `UPDATE TaskExecutions SET LogBytes = LogBytes + ? WHERE ID = ?`},
		{&w.kvSet, `INSERT INTO kv (app, key, value) VALUES (?, ?, ?) ON CONFLICT (app, key) DO UPDATE SET value = excluded.value`},
		{&w.kvDelete, `DELETE FROM kv WHERE app = ? AND key = ?`},
		// What the app's store holds, and what of it the key's old value
		// takes (which a new value replaces).
		{&w.kvRoom, `SELECT coalesce((SELECT bytes FROM kv_usage WHERE app = ?1), 0),
			coalesce((SELECT length(CAST(key AS BLOB)) + length(value) FROM kv WHERE app = ?1 AND key = ?2), 0)`},
		{&w.getFailures, getFailuresSQL},
		{&w.clearFailures, clearFailuresSQL},
		{&w.insertEvent, `INSERT INTO events (time, type, app, task, payload) VALUES (?, ?, ?, ?, ?)`},
		{&w.touchToken, touchTokenSQL},
		{&w.historyUsage, historyUsageSQL},
	})
}

// historyUsageSQL reads the bytes of an app's run history.
const historyUsageSQL = `SELECT coalesce((SELECT bytes FROM history_usage WHERE app = ?), 0)`

// readStmts are the statements of frequent reads, prepared on the read
// pool (database/sql prepares each on every connection that runs it).
type readStmts struct {
	getRun, runExists, runLogs, lastScheduled *sql.Stmt
	pruneDueKeep, pruneDueAge, historyUsage   *sql.Stmt
	kvGet, kvListFrom, kvListRange            *sql.Stmt
	tokenByHash                               *sql.Stmt
	recentRuns                                *sql.Stmt
	lastScheduledOf, pruneDueOf               *sql.Stmt
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, []stmtDef{
		{&r.getRun, `SELECT ` + runColumns + ` FROM TaskExecutions WHERE ID = ?`},
		{&r.recentRuns, recentRunsSQL},
		{&r.runExists, `SELECT 1 FROM TaskExecutions WHERE ID = ?`},
		{&r.runLogs, `SELECT seq, time, level, message FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`},
		{&r.lastScheduled, lastScheduledSQL},
		{&r.lastScheduledOf, lastScheduledOfSQL},
		{&r.pruneDueOf, pruneDueOfSQL},
		{&r.pruneDueKeep, `SELECT 1 FROM TaskExecutions WHERE AppName = ? AND TaskName = ? ORDER BY ID DESC LIMIT 1 OFFSET ?`},
		{&r.pruneDueAge, `SELECT StartTime FROM TaskExecutions WHERE AppName = ? AND TaskName = ? ORDER BY ID LIMIT 1`},
		{&r.historyUsage, historyUsageSQL},
		{&r.kvGet, `SELECT value FROM kv WHERE app = ? AND key = ?`},
		{&r.kvListFrom, `SELECT key FROM kv WHERE app = ? AND key >= ? ORDER BY key LIMIT ?`},
		{&r.kvListRange, `SELECT key FROM kv WHERE app = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`},
		{&r.tokenByHash, `SELECT ` + tokenColumns + ` FROM api_tokens WHERE hash = ?`},
	})
}

// stmtDef is a statement to prepare and where to keep it.
type stmtDef struct {
	dst   **sql.Stmt
	query string
}

// prepareAll prepares defs on db. On an error, the statements prepared so
// far are closed with db.
func prepareAll(ctx context.Context, db *sql.DB, defs []stmtDef) error {
	for _, d := range defs {
		var err error
		if *d.dst, err = db.PrepareContext(ctx, d.query); err != nil {
			return fmt.Errorf("preparing %q: %w", d.query, err)
		}
	}
	return nil
}

// execFound runs a statement that changes one row, and returns ErrNotFound
// when it changed none.
func execFound(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return err
}
