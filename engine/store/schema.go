package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one numbered step of the schema, applied in a transaction of
// its own and recorded in schema_version.
type migration struct {
	version int
	stmts   []string
}

// migrations returns the schema's steps in order, numbered from 1. A step,
// once released, never changes: a change to the schema is a new step.
//
// TaskExecutions and TaskConfigurations keep the columns and indexes of the
// task engine Cronbox grew out of, with AppName required (tasks are
// addressed app/task) and TaskConfigurations unique per app and task rather
// than per task name. Columns added to them are named in their style; new
// tables use snake_case.
func migrations() []migration {
	const now = `(strftime('%Y-%m-%dT%H:%M:%f000000Z', 'now'))` // a default in the format of timeLayout
	return []migration{{version: 1, stmts: []string{
		`CREATE TABLE TaskExecutions (
			ID INTEGER PRIMARY KEY AUTOINCREMENT,
			TaskName TEXT NOT NULL,
			AppName TEXT NOT NULL,
			StartTime TEXT NOT NULL,
			EndTime TEXT,
			Duration INTEGER,          -- milliseconds
			Status TEXT NOT NULL,
			ExitCode INTEGER,
			Output TEXT,
			ErrorMessage TEXT,
			TriggeredBy TEXT,
			TriggeredByUser TEXT,
			CreatedAt TEXT DEFAULT ` + now + `,
			ScheduledTime TEXT,        -- the schedule instant the run was fired for
			Attempt INTEGER NOT NULL DEFAULT 0,
			Input TEXT,                -- JSON
			Result TEXT,               -- JSON
			PeakMemory INTEGER,        -- bytes
			Reason TEXT,               -- why a run was skipped
			LogsDropped INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX idx_task_name ON TaskExecutions(TaskName)`,
		`CREATE INDEX idx_start_time ON TaskExecutions(StartTime DESC)`,
		`CREATE INDEX idx_status ON TaskExecutions(Status)`,
		`CREATE INDEX idx_app_name ON TaskExecutions(AppName)`,
		`CREATE INDEX idx_app_task ON TaskExecutions(AppName, TaskName)`,
		// A scheduled time is fired at most once per task, even across
		// crashes. LastScheduled reads this index too.
		`CREATE UNIQUE INDEX idx_scheduled_once ON TaskExecutions(AppName, TaskName, ScheduledTime)
			WHERE ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')`,
		`CREATE TABLE run_logs (
			run_id INTEGER NOT NULL REFERENCES TaskExecutions(ID) ON DELETE CASCADE,
			seq INTEGER NOT NULL,
			time TEXT NOT NULL,
			level TEXT NOT NULL,
			message TEXT NOT NULL,
			PRIMARY KEY (run_id, seq)
		) WITHOUT ROWID`,
		`CREATE TABLE TaskConfigurations (
			ID INTEGER PRIMARY KEY AUTOINCREMENT,
			TaskName TEXT NOT NULL,
			AppName TEXT NOT NULL,
			Configuration TEXT NOT NULL, -- JSON: name, appName, enabled, schedule, environment, definition
			IsCustom INTEGER DEFAULT 0,
			IsDeleted INTEGER DEFAULT 0,
			CreatedAt TEXT DEFAULT ` + now + `,
			UpdatedAt TEXT DEFAULT ` + now + `,
			ConsecutiveFailures INTEGER NOT NULL DEFAULT 0,
			DisabledReason TEXT NOT NULL DEFAULT '',
			DisabledAt TEXT,
			UNIQUE (AppName, TaskName)
		)`,
		`CREATE INDEX idx_config_task_name ON TaskConfigurations(TaskName)`,
		`CREATE INDEX idx_config_app_name ON TaskConfigurations(AppName)`,
		`CREATE TABLE kv (
			app TEXT NOT NULL,
			key TEXT NOT NULL,  -- compared as bytes (BINARY collation)
			value BLOB NOT NULL,
			PRIMARY KEY (app, key)
		) WITHOUT ROWID`,
		`CREATE TABLE api_tokens (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			name TEXT NOT NULL,
			hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32), -- SHA-256 of the token
			role TEXT NOT NULL,
			apps TEXT NOT NULL DEFAULT '[]', -- JSON list; empty: every app
			created_at TEXT NOT NULL,
			last_used_at TEXT,
			revoked_at TEXT
		)`,
		`CREATE TABLE load_errors (
			id INTEGER PRIMARY KEY,
			app TEXT NOT NULL,
			task TEXT NOT NULL DEFAULT '',
			message TEXT NOT NULL,
			file TEXT NOT NULL DEFAULT '',
			line INTEGER NOT NULL DEFAULT 0,
			time TEXT NOT NULL
		)`,
		`CREATE INDEX idx_load_errors_app ON load_errors(app)`,
		`CREATE TABLE events (
			id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so clients can resume after an id
			time TEXT NOT NULL,
			type TEXT NOT NULL,
			app TEXT NOT NULL DEFAULT '',
			task TEXT NOT NULL DEFAULT '',
			payload TEXT -- JSON
		)`,
		`CREATE INDEX idx_events_app ON events(app)`,
	}}, {version: 2, stmts: []string{
		// What each app's key-value store holds, in bytes (keys and values),
		// kept by triggers for the quota check of a write.
		`CREATE TABLE kv_usage (
			app TEXT PRIMARY KEY,
			bytes INTEGER NOT NULL
		) WITHOUT ROWID`,
		`INSERT INTO kv_usage (app, bytes)
			SELECT app, sum(length(CAST(key AS BLOB)) + length(value)) FROM kv GROUP BY app`,
		`CREATE TRIGGER kv_usage_insert AFTER INSERT ON kv BEGIN
			INSERT INTO kv_usage (app, bytes) VALUES (new.app, length(CAST(new.key AS BLOB)) + length(new.value))
				ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes;
		END`,
		`CREATE TRIGGER kv_usage_update AFTER UPDATE ON kv BEGIN
			UPDATE kv_usage SET bytes = bytes - length(CAST(old.key AS BLOB)) - length(old.value) WHERE app = old.app;
			INSERT INTO kv_usage (app, bytes) VALUES (new.app, length(CAST(new.key AS BLOB)) + length(new.value))
				ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes;
		END`,
		`CREATE TRIGGER kv_usage_delete AFTER DELETE ON kv BEGIN
			UPDATE kv_usage SET bytes = bytes - length(CAST(old.key AS BLOB)) - length(old.value) WHERE app = old.app;
		END`,
	}}, {version: 3, stmts: []string{
		// Browser sessions, so that a restart does not log browsers out.
		// A session is found by the hash of its cookie's value: the
		// database holds neither the cookie nor the token.
		`CREATE TABLE sessions (
			id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),  -- SHA-256 of the cookie's value
			token_hash BLOB NOT NULL CHECK (length(token_hash) = 32), -- the token's, as api_tokens.hash
			csrf TEXT NOT NULL,
			expires_at TEXT NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX idx_sessions_expires ON sessions(expires_at)`,
	}}, {version: 4, stmts: []string{
		// The bytes of log messages each run stores, added up as lines
		// are appended, so that what a run holds is known without reading
		// its lines.
		`ALTER TABLE TaskExecutions ADD COLUMN LogBytes INTEGER NOT NULL DEFAULT 0`,
		`UPDATE TaskExecutions SET LogBytes = coalesce((SELECT sum(length(CAST(message AS BLOB))) FROM run_logs WHERE run_id = ID), 0)`,
		// What each app's run history holds, in bytes (log messages,
		// outputs, inputs, results), kept by triggers for quotas.history.
		`CREATE TABLE history_usage (
			app TEXT PRIMARY KEY,
			bytes INTEGER NOT NULL
		) WITHOUT ROWID`,
		`INSERT INTO history_usage (app, bytes)
			SELECT AppName, sum(` + runBytes("") + `) FROM TaskExecutions GROUP BY AppName`,
		`CREATE TRIGGER history_usage_insert AFTER INSERT ON TaskExecutions BEGIN
			INSERT INTO history_usage (app, bytes) VALUES (new.AppName, ` + runBytes("new.") + `)
				ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes;
		END`,
		`CREATE TRIGGER history_usage_update AFTER UPDATE OF Output, Input, Result, LogBytes ON TaskExecutions BEGIN
			UPDATE history_usage SET bytes = bytes - (` + runBytes("old.") + `) + (` + runBytes("new.") + `) WHERE app = new.AppName;
		END`,
		`CREATE TRIGGER history_usage_delete AFTER DELETE ON TaskExecutions BEGIN
			UPDATE history_usage SET bytes = bytes - (` + runBytes("old.") + `) WHERE app = old.AppName;
		END`,
		// One row rewritten to find out whether the store can write again
		// after a failed write (Heartbeat).
		`CREATE TABLE heartbeat (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			time TEXT NOT NULL
		)`,
	}}, {version: 5, stmts: []string{
		// What each finished run consumed, deleted with the run; and each
		// app's totals, kept by a trigger, which survive pruning, so that
		// what is billed never goes down.
		`CREATE TABLE run_usage (
			run_id INTEGER PRIMARY KEY REFERENCES TaskExecutions(ID) ON DELETE CASCADE,
			app TEXT NOT NULL,
			end_time TEXT NOT NULL,
			cpu_ns INTEGER NOT NULL,
			peak_memory INTEGER NOT NULL,
			output_bytes INTEGER NOT NULL,
			log_bytes INTEGER NOT NULL,
			http_sent INTEGER NOT NULL,
			http_received INTEGER NOT NULL,
			kv_written INTEGER NOT NULL,
			files_written INTEGER NOT NULL
		)`,
		`CREATE INDEX idx_run_usage_end ON run_usage(end_time, app)`,
		`CREATE TABLE app_usage (
			app TEXT PRIMARY KEY,
			runs INTEGER NOT NULL,
			cpu_ns INTEGER NOT NULL,
			peak_memory INTEGER NOT NULL, -- the largest of its runs'
			output_bytes INTEGER NOT NULL,
			log_bytes INTEGER NOT NULL,
			http_sent INTEGER NOT NULL,
			http_received INTEGER NOT NULL,
			kv_written INTEGER NOT NULL,
			files_written INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE TRIGGER run_usage_total AFTER INSERT ON run_usage BEGIN
			INSERT INTO app_usage VALUES (new.app, 1, new.cpu_ns, new.peak_memory, new.output_bytes,
				new.log_bytes, new.http_sent, new.http_received, new.kv_written, new.files_written)
			ON CONFLICT (app) DO UPDATE SET runs = runs + 1, cpu_ns = cpu_ns + excluded.cpu_ns,
				peak_memory = max(peak_memory, excluded.peak_memory),
				output_bytes = output_bytes + excluded.output_bytes, log_bytes = log_bytes + excluded.log_bytes,
				http_sent = http_sent + excluded.http_sent, http_received = http_received + excluded.http_received,
				kv_written = kv_written + excluded.kv_written, files_written = files_written + excluded.files_written;
		END`,
	}}, {version: 6, stmts: []string{
		// Whether a run went past its maxRuntime without being stopped
		// (killOnTimeout false): kept once it ends.
		`ALTER TABLE TaskExecutions ADD COLUMN Overdue INTEGER NOT NULL DEFAULT 0`,
	}}, {version: 7, stmts: []string{
		// The notifications queue: one row a message to one channel, kept
		// after delivery as the record of its attempts.
		`CREATE TABLE notifications (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			app TEXT NOT NULL DEFAULT '',
			task TEXT NOT NULL DEFAULT '',
			channel TEXT NOT NULL,
			kind TEXT NOT NULL,
			event TEXT NOT NULL,
			run_id INTEGER NOT NULL DEFAULT 0,
			suppressed INTEGER NOT NULL DEFAULT 0, -- for a summary: the events it stands for
			payload TEXT NOT NULL,                 -- JSON: what to send and where
			status TEXT NOT NULL,                  -- pending, sent, failed
			attempts INTEGER NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '',
			created_at TEXT NOT NULL,
			next_at TEXT,                          -- when a pending one is tried next
			done_at TEXT
		)`,
		`CREATE INDEX idx_notifications_due ON notifications(next_at) WHERE status = 'pending'`,
		`CREATE INDEX idx_notifications_app ON notifications(app)`,
		// One row per task and channel: until when it stays quiet, and how
		// many events it kept quiet about.
		`CREATE TABLE notify_windows (
			app TEXT NOT NULL,
			task TEXT NOT NULL,
			channel TEXT NOT NULL,
			until_at TEXT NOT NULL,
			window_ms INTEGER NOT NULL,
			suppressed INTEGER NOT NULL DEFAULT 0,
			first_at TEXT, -- the first suppressed event
			PRIMARY KEY (app, task, channel)
		) WITHOUT ROWID`,
	}}, {version: 8, stmts: []string{
		// Each app's secrets, sealed by package secrets before they get
		// here: the store holds ciphertext only.
		`CREATE TABLE secrets (
			app TEXT NOT NULL,
			name TEXT NOT NULL,
			ciphertext BLOB NOT NULL,
			updated_at TEXT NOT NULL,
			PRIMARY KEY (app, name)
		) WITHOUT ROWID`,
		// The audit log: every change, by whom, before and after. Kept
		// apart from the run history, with a retention of its own.
		`CREATE TABLE audit_log (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			time TEXT NOT NULL,
			actor TEXT NOT NULL,
			token_id INTEGER NOT NULL DEFAULT 0,
			action TEXT NOT NULL,
			app TEXT NOT NULL DEFAULT '',
			target TEXT NOT NULL DEFAULT '',
			before TEXT, -- JSON
			after TEXT   -- JSON
		)`,
		`CREATE INDEX idx_audit_time ON audit_log(time)`,
		`CREATE INDEX idx_audit_app ON audit_log(app, id)`,
	}}, {version: 9, stmts: []string{
		// The node a run ran on: the name given to serve --node, which in
		// a home of one node only labels its runs.
		`ALTER TABLE TaskExecutions ADD COLUMN Node TEXT NOT NULL DEFAULT ''`,
	}}, {version: 10, stmts: []string{
		// A run starts holding no bytes of history: the triggers keeping
		// history_usage write only when the bytes change (the update
		// creates the app's row if the insert did not), which takes a
		// write of another table, and its statement journal, off every
		// run recorded: a batch of fires waits for each of its runs.
		`DROP TRIGGER history_usage_insert`,
		`DROP TRIGGER history_usage_update`,
		`DROP TRIGGER history_usage_delete`,
		`CREATE TRIGGER history_usage_insert AFTER INSERT ON TaskExecutions
			WHEN ` + runBytes("new.") + ` <> 0 BEGIN
			INSERT INTO history_usage (app, bytes) VALUES (new.AppName, ` + runBytes("new.") + `)
				ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes;
		END`,
		`CREATE TRIGGER history_usage_update AFTER UPDATE OF Output, Input, Result, LogBytes ON TaskExecutions
			WHEN ` + runBytes("new.") + ` <> ` + runBytes("old.") + ` BEGIN
			INSERT INTO history_usage (app, bytes) VALUES (new.AppName, ` + runBytes("new.") + ` - (` + runBytes("old.") + `))
				ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes;
		END`,
		`CREATE TRIGGER history_usage_delete AFTER DELETE ON TaskExecutions
			WHEN ` + runBytes("old.") + ` <> 0 BEGIN
			UPDATE history_usage SET bytes = bytes - (` + runBytes("old.") + `) WHERE app = old.AppName;
		END`,
	}}, {version: 11, stmts: []string{
		// The last error-level line a run logged: the cause of its failure
		// that run lists show, kept as the lines are appended so that a
		// list reads no logs.
		`ALTER TABLE TaskExecutions ADD COLUMN ErrorLine TEXT`,
	}}, {version: 12, stmts: []string{
		// The run a retry retries: each run is retried at most once,
		// whichever node of a cluster schedules the retry.
		`ALTER TABLE TaskExecutions ADD COLUMN RetryOf INTEGER`,
		`CREATE UNIQUE INDEX idx_retry_once ON TaskExecutions(RetryOf) WHERE RetryOf IS NOT NULL`,
	}}, {version: 13, stmts: []string{
		// A task's finished runs, newest last: pruning to a task's keep
		// finds the newest keep-th of them in this index alone, where
		// idx_app_task would have it read every run to see its status.
		`CREATE INDEX idx_task_finished ON TaskExecutions(AppName, TaskName) WHERE Status <> 'running'`,
	}}, {version: 14, stmts: []string{
		// A run is inserted holding no bytes of history, its input set by
		// an update that history_usage_update counts: TaskExecutions has
		// no insert trigger, whose mere presence makes SQLite journal
		// every page an insert touches (a statement journal), a sixth of
		// the time of recording the fires of an instant.
		`DROP TRIGGER history_usage_insert`,
	}}}
}

// runBytes is the SQL expression of the bytes a run of TaskExecutions
// holds in the history, its columns prefixed with row ("new.", "old." or
// ""): what quotas.history counts.
func runBytes(row string) string {
	size := func(col string) string { return `coalesce(length(CAST(` + row + col + ` AS BLOB)), 0)` }
	return size("Output") + ` + ` + size("Input") + ` + ` + size("Result") + ` + ` + row + `LogBytes`
}

// CountHistoryUsage sets history_usage, in a write transaction tx of a
// SQLite store, to what each app's runs hold: after runs were written
// into TaskExecutions otherwise than through the store (a copy of a
// store), since the triggers count a run's bytes as they change, and a
// run is inserted holding none (migration 14).
func CountHistoryUsage(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM history_usage`); err != nil {
		return fmt.Errorf("counting history usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO history_usage (app, bytes)
		SELECT AppName, sum(`+runBytes("")+`) FROM TaskExecutions GROUP BY AppName`); err != nil {
		return fmt.Errorf("counting history usage: %w", err)
	}
	return nil
}

// migrate brings db's schema to the last of migs. Each step runs in its own
// write transaction, which rechecks the version, so processes opening the
// same file at once apply each step once.
func migrate(ctx context.Context, db *sql.DB, migs []migration, now time.Time) error {
	latest := migs[len(migs)-1].version
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > latest {
		return schemaTooNew(v, latest)
	}
	for _, m := range migs {
		if m.version > v {
			if err := applyMigration(ctx, db, m, latest, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// schemaVersion returns the version db's schema is at; 0 for a new file.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}

func schemaTooNew(v, latest int) error {
	return fmt.Errorf("%w: the database is at version %d, this Cronbox knows versions up to %d; use a newer Cronbox or restore a backup", ErrSchemaTooNew, v, latest)
}

// applyMigration applies m in a transaction, unless another process has.
func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int, now time.Time) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", m.version, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", m.version, err)
	}
	v, err := schemaVersion(ctx, tx)
	switch {
	case err != nil:
		return err
	case v > latest:
		return schemaTooNew(v, latest)
	case v >= m.version:
		return tx.Rollback() // another process applied it
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", m.version, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, m.version, formatTime(now)); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", m.version, err)
	}
	return nil
}
