// Package store records Cronbox's state: the history of runs and their log
// lines, the runtime overrides of task configuration with each task's
// failure count, every app's key-value data, API tokens and browser
// sessions, app load errors and a window of recent events.
//
// The store's contract is a set of small interfaces, one a concern: Runs
// (with RunReader, its read side), Retention, Metering, Overrides, Outcomes,
// LoadErrors, KeyValue, Tokens, Sessions, EventLog, Notifications, Secrets, Audit and Stats. Their users depend on the ones
// they call, not on SQL, so that another store (PostgreSQL, serving
// several nodes) can provide them one at a time; package storetest holds
// the behaviour every implementation of each must show. SQLite is the
// implementation for one node, and provides them all.
//
// # SQLite
//
// The database runs in WAL mode: readers never block the writer or each
// other, and other processes (the cronbox CLI reading history while serve
// records it) can open the same file; a busy timeout makes them wait for a
// lock instead of failing.
//
// SQLite allows one writer at a time, so every write goes through one
// connection, owned by a goroutine that groups the writes that arrive while
// a transaction commits into the next transaction (group commit). A write
// method returns once its transaction has committed, so a returned write is
// durable in the sense Options.Synchronous describes. Each write runs in a
// savepoint of the shared transaction, so a failing write (a duplicate, a
// missing run) undoes only itself. Reads use a separate pool of read-only
// connections and see every write that has returned.
//
// A write is not interrupted by its context once the writer has taken it:
// interrupting SQLite inside a transaction would roll back the whole group.
// The context governs the wait for the writer; a write that returns an
// error was not committed.
//
// # Times
//
// Times are stored as TEXT in UTC with nine fractional digits, e.g.
// "2026-01-16T10:30:00.000000000Z": RFC 3339, readable in the sqlite3
// shell, and ordered correctly as text (RFC3339Nano, which trims trailing
// zeros, is not). Durations are stored in milliseconds.
//
// # Schema
//
// Migrations are numbered in the code, each applied in its own transaction
// and recorded in the schema_version table. Opening a database that a newer
// Cronbox has migrated fails with ErrSchemaTooNew.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/cronbox/cronbox/hostapi"
)

// Every method of the store's interfaces is safe for concurrent use.
// Methods that take an app and a task address the task app/task.

// RunReader reads the history of runs.
type RunReader interface {
	// GetRun returns a run with its output, input and result, or
	// ErrNotFound.
	GetRun(ctx context.Context, id int64) (*Run, error)
	// ListRuns returns runs, newest first, without their output, input and
	// result.
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// RecentRuns returns the newest runs, up to n (clamped as
	// RunFilter.Limit is), of each of tasks, in one go: each task's runs
	// are together, newest first. A task without runs has none.
	RecentRuns(ctx context.Context, tasks []TaskRef, n int) ([]Run, error)
	// RunLogs returns up to limit log lines of a run with Seq > afterSeq,
	// in order; limit is clamped as RunFilter.Limit is. It returns
	// ErrNotFound for an unknown run.
	RunLogs(ctx context.Context, runID, afterSeq int64, limit int) ([]LogLine, error)
}

// Runs records the history of runs and their log lines.
type Runs interface {
	RunReader
	// StartRun records a run as running and returns its ID. r's App, Task,
	// StartTime and Trigger are required; ScheduledTime is required for the
	// schedule and catch-up triggers. For those triggers a scheduled time
	// is recorded at most once per task: recording it again returns
	// ErrDuplicate, so a time is never fired twice, even across crashes.
	StartRun(ctx context.Context, r Run) (int64, error)
	// FinishRun records how the running run id ended. It returns
	// ErrNotFound for an unknown run and ErrFinished for a run that is no
	// longer running, and then appends none of end.Logs.
	FinishRun(ctx context.Context, id int64, end RunEnd) error
	// EndRun is FinishRun followed, once the end is recorded, by what
	// after asks: the task's outcome counted and its retention checked,
	// in the same round trip where the store can (PostgreSQL: one for a
	// success), so that the one path every run takes costs one write.
	// With an error, Ended.Recorded says whether the end was recorded
	// and Ended.State whether the outcome was counted.
	EndRun(ctx context.Context, id int64, end RunEnd, after AfterEnd) (Ended, error)
	// RecordSkipped records a run that could not start, with r.Reason
	// saying why; it is subject to the same ScheduledTime uniqueness as
	// StartRun.
	RecordSkipped(ctx context.Context, r Run) (int64, error)
	// RecordRuns records runs together, each as StartRun records a run
	// whose Status is running and RecordSkipped one whose Status is
	// skipped, and returns the outcome of each, in their order: a run's
	// error (invalid, a duplicate, fenced) is its own, and fails no other.
	// It returns once every run it recorded is durable, as StartRun does:
	// the fires of one instant cost one write, not one a run. The runs of
	// one call may be recorded in any order (PostgreSQL: in several
	// transactions at once); of two that are the same fire, one is
	// recorded and the other gets ErrDuplicate.
	RecordRuns(ctx context.Context, runs []Run) []Recorded
	// AppendLogs adds log lines to a run, numbering them after its last
	// line. Past the store's limit of lines per run (SQLite:
	// Options.MaxLogLines), lines are counted in Run.LogsDropped instead. It returns ErrNotFound for an unknown run.
	AppendLogs(ctx context.Context, runID int64, lines []LogLine) error
	// MarkInterrupted ends every run still running as interrupted at now
	// and returns how many it ended. The engine calls it when it starts,
	// before it starts runs: those runs were cut short by a stop or a
	// crash.
	MarkInterrupted(ctx context.Context, now time.Time) (int, error)
	// LastScheduled returns the latest ScheduledTime recorded for a task
	// by the schedule and catch-up triggers, or the zero time.
	LastScheduled(ctx context.Context, app, task string) (time.Time, error)
	// LastScheduledOf returns LastScheduled of each of tasks in one read,
	// by task; a task without a recorded time is left out. The engine
	// reads its tasks' times at start with it.
	LastScheduledOf(ctx context.Context, tasks []TaskRef) (map[TaskRef]time.Time, error)
	// Heartbeat writes now to a row of its own: a write that succeeds only
	// if the store can write, for finding out when it can again after a
	// failed write.
	Heartbeat(ctx context.Context, now time.Time) error
}

// Retention keeps the history of runs within its limits.
type Retention interface {
	// PruneRuns deletes a task's finished runs, with their logs, past the
	// newest keepLast, and those that started before now-maxAge; zero
	// keepLast or maxAge means no limit of that kind. It keeps running runs
	// and the run that holds LastScheduled. It returns how many it deleted.
	// It first looks, without writing, whether there is anything to
	// delete, so that calling it after every run is cheap.
	PruneRuns(ctx context.Context, app, task string, keepLast int, maxAge time.Duration, now time.Time) (int, error)
	// PruneDue returns, in one read, the tasks of limits whose PruneRuns
	// with those limits at now may have something to delete, in the order
	// of limits: PruneRuns's own look, for many tasks at once. Like that
	// look it may name a task with nothing to delete (running runs
	// count), never leave out one with something. Limits with neither
	// bound are left out; invalid limits are an ErrInvalid.
	PruneDue(ctx context.Context, limits []PruneLimit, now time.Time) ([]TaskRef, error)
	// PruneHistory deletes an app's oldest finished runs, with their logs,
	// until its history (see HistoryUsage) holds at most quota bytes. Like
	// PruneRuns it keeps running runs and the runs that hold LastScheduled,
	// and writes nothing when the history is within quota. It returns how
	// many runs it deleted.
	PruneHistory(ctx context.Context, app string, quota int64) (int, error)
	// HistoryUsage returns how many bytes an app's run history holds: the
	// log messages, outputs, inputs and results of its runs.
	HistoryUsage(ctx context.Context, app string) (int64, error)
}

// Metering reads what runs consumed, which FinishRun records with them.
type Metering interface {
	// RunUsage returns what a finished run consumed, or ErrNotFound.
	RunUsage(ctx context.Context, id int64) (Usage, error)
	// UsageSince returns, per app, the usage of its retained runs that
	// ended at or after since.
	UsageSince(ctx context.Context, since time.Time) (map[string]AppUsage, error)
	// UsageTotals returns, per app, the usage of every run it finished,
	// pruned runs included: totals that never go down.
	UsageTotals(ctx context.Context) (map[string]AppUsage, error)
}

// Overrides keeps the runtime overrides of task configuration.
type Overrides interface {
	// Overrides returns every override, ordered by app and task.
	Overrides(ctx context.Context) ([]Override, error)
	// PutOverride creates or replaces the configuration part of an
	// override; the failure state is left as it is.
	PutOverride(ctx context.Context, o Override) error
	// DeleteOverride removes a task's override, failure state included,
	// or returns ErrNotFound.
	DeleteOverride(ctx context.Context, app, task string) error
}

// Outcomes counts each task's consecutive failures, kept with its
// override, which a failure past the task's limit disables.
type Outcomes interface {
	// RecordOutcome counts a finished run of a task: a success resets its
	// consecutive failures, a failure adds one and, on reaching
	// o.MaxFailures, disables the task in its override with a reason.
	RecordOutcome(ctx context.Context, app, task string, o Outcome) (FailureState, error)
	// ResetFailures clears a task's failure state, e.g. when a person
	// enables it again. A task without an override is left alone.
	ResetFailures(ctx context.Context, app, task string) error
}

// KeyValue holds every app's key-value data.
type KeyValue interface {
	// KV returns the key-value namespace of one app.
	KV(app string) hostapi.KV
	// KVWithQuota returns the key-value namespace of one app, which may
	// hold at most quota bytes of keys and values: a Set past it fails
	// with an error wrapping hostapi.ErrQuota.
	KVWithQuota(app string, quota int64) hostapi.KV
	// KVUsage returns how many bytes the app's keys and values take.
	KVUsage(ctx context.Context, app string) (int64, error)
}

// Tokens keeps API tokens, by the hash of their secret.
type Tokens interface {
	// CreateToken records a token and returns its ID; only the token's
	// hash is stored. It returns ErrDuplicate if the hash is known.
	CreateToken(ctx context.Context, t Token) (int64, error)
	// TokenByHash returns the token with that hash: ErrNotFound if there
	// is none, ErrRevoked if it was revoked.
	TokenByHash(ctx context.Context, hash TokenHash) (*Token, error)
	// ListTokens returns every token, revoked ones too, ordered by ID.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes a token for good, and deletes its browser
	// sessions, or returns ErrNotFound.
	// Revoking it again changes nothing.
	RevokeToken(ctx context.Context, id int64) error
	// TouchToken records that a token was just used, or returns
	// ErrNotFound. It is a write: callers should not call it on every
	// request, but at most every minute or so per token.
	TouchToken(ctx context.Context, id int64) error
}

// Sessions keeps browser sessions, by the hash of their cookie.
type Sessions interface {
	// PutSession records a new browser session, and deletes the sessions
	// that have expired. s's IDHash, TokenHash, CSRF and ExpiresAt are
	// required (ErrInvalid); a known IDHash returns ErrDuplicate.
	PutSession(ctx context.Context, s Session) error
	// Session returns the browser session with that ID hash, and false if
	// there is none or it has expired.
	Session(ctx context.Context, id SessionHash) (Session, bool, error)
	// TouchSession moves a session's expiry forward to expires (never
	// back), or returns ErrNotFound if the session does not exist or has
	// expired: an expired session cannot be revived. It is a write:
	// callers should not call it on every request.
	TouchSession(ctx context.Context, id SessionHash, expires time.Time) error
	// DeleteSession deletes a browser session; deleting one that does not
	// exist is not an error.
	DeleteSession(ctx context.Context, id SessionHash) error
}

// LoadErrors keeps the errors of the apps that failed to load.
type LoadErrors interface {
	// SetLoadErrors replaces the load errors of an app; none clears them.
	SetLoadErrors(ctx context.Context, app string, errs []LoadError) error
	// LoadErrors returns the load errors of every app that has some.
	LoadErrors(ctx context.Context) (map[string][]LoadError, error)
}

// EventLog keeps a window of recent events, for clients that resume an
// event stream.
type EventLog interface {
	// AppendEvent records an event and returns its ID, which is greater
	// than every earlier event's. About Options.MaxEvents recent events
	// are kept.
	AppendEvent(ctx context.Context, e Event) (int64, error)
	// AppendEvents records events in one write, in order, and returns
	// their IDs, rising in that order: a batch of the events that
	// arrived while the last write was under way.
	AppendEvents(ctx context.Context, events []Event) ([]int64, error)
	// Events returns events in ID order, for a client resuming a stream.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// LastEventID returns the greatest ID of the events kept; 0 if none.
	LastEventID(ctx context.Context) (int64, error)
}

// Secrets keeps each app's secrets, sealed: the store takes and gives
// ciphertext only (package internal/secrets seals and opens it, bound to
// the app and the name), so it never holds a secret's value in clear.
type Secrets interface {
	// PutSecret creates or replaces a secret. s's App, Name and
	// Ciphertext are required (ErrInvalid); UpdatedAt is set by the
	// store if zero.
	PutSecret(ctx context.Context, s Secret) error
	// Secret returns a secret with its ciphertext, or ErrNotFound.
	Secret(ctx context.Context, app, name string) (Secret, error)
	// ListSecrets returns an app's secrets ordered by name, without
	// their ciphertext.
	ListSecrets(ctx context.Context, app string) ([]Secret, error)
	// DeleteSecret deletes a secret, or returns ErrNotFound.
	DeleteSecret(ctx context.Context, app, name string) error
}

// Audit keeps the audit log: who changed what, when, from what to what.
type Audit interface {
	// AppendAudit records an entry and returns its ID, greater than
	// every earlier entry's. e's Actor and Action are required
	// (ErrInvalid); Time is set by the store if zero.
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// ListAudit returns entries newest first (by ID) that match f.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// PruneAudit deletes the entries recorded before t and returns how
	// many.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// *SQLite provides every interface of the store.
var (
	_ Runs       = (*SQLite)(nil)
	_ Retention  = (*SQLite)(nil)
	_ Metering   = (*SQLite)(nil)
	_ Overrides  = (*SQLite)(nil)
	_ Outcomes   = (*SQLite)(nil)
	_ KeyValue   = (*SQLite)(nil)
	_ Tokens     = (*SQLite)(nil)
	_ Sessions   = (*SQLite)(nil)
	_ LoadErrors = (*SQLite)(nil)
	_ EventLog   = (*SQLite)(nil)
	_ Secrets    = (*SQLite)(nil)
	_ Audit      = (*SQLite)(nil)
	_ Stats      = (*SQLite)(nil)
)

// The errors of the store. Methods wrap them; test with errors.Is.
var (
	// ErrNotFound reports that a run, override, token, session or
	// secret does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate reports that a record would duplicate a unique one: a
	// scheduled time already recorded for a task, or a known token or
	// session hash.
	ErrDuplicate = errors.New("already recorded")
	// ErrFinished reports an attempt to finish a run that is not running.
	ErrFinished = errors.New("run is not running")
	// ErrRevoked reports a token that was revoked.
	ErrRevoked = errors.New("token revoked")
	// ErrInvalid reports an argument the store cannot record, e.g. a run
	// without an app.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed reports a write to a closed store.
	ErrClosed = errors.New("store is closed")
	// ErrSchemaTooNew reports a database migrated by a newer Cronbox.
	ErrSchemaTooNew = errors.New("database schema is newer than this Cronbox supports")
)
