package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Synchronous is SQLite's synchronous setting for the write connection.
type Synchronous string

// The synchronous settings Open accepts.
const (
	// SyncNormal syncs the write-ahead log only at checkpoints. A commit
	// is in the operating system once a write returns, so it survives a
	// crash or kill of the process; a crash of the machine or a power
	// loss can lose the last commits (never corrupt the database).
	SyncNormal Synchronous = "NORMAL"
	// SyncFull also syncs the log at every commit, so a returned write
	// survives a machine crash too. Group commit shares one sync among
	// the writes of a transaction.
	SyncFull Synchronous = "FULL"
)

// Options configures a SQLite store. The zero value is valid.
type Options struct {
	// Synchronous is the durability of a returned write. Default
	// SyncNormal.
	Synchronous Synchronous
	// BusyTimeout is how long a statement waits for a lock that another
	// process holds before it fails. Default 5s.
	BusyTimeout time.Duration
	// MaxReadConns is the size of the pool of read connections. Default 4.
	MaxReadConns int
	// MaxBatch is the most writes committed in one transaction. Default
	// 256.
	MaxBatch int
	// MaxLogLines is how many log lines a run keeps; later lines are only
	// counted. Default 10,000.
	MaxLogLines int
	// MaxEvents is about how many recent events are kept. Default 10,000.
	MaxEvents int
	// Now is the clock of the store's bookkeeping times (when an override
	// was updated, a token used, an event recorded…). Default time.Now.
	Now func() time.Time

	// checkpointHold, set by tests, is called before each checkpoint.
	checkpointHold func()
}

// withDefaults returns o with its zero fields set to their defaults, or an
// error naming the first bad field.
func (o Options) withDefaults() (Options, error) {
	switch o.Synchronous {
	case "":
		o.Synchronous = SyncNormal
	case SyncNormal, SyncFull:
	default:
		return o, fmt.Errorf("store options: Synchronous %q is neither %q nor %q", o.Synchronous, SyncNormal, SyncFull)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxReadConns", &o.MaxReadConns, 4},
		{"MaxBatch", &o.MaxBatch, 256},
		{"MaxLogLines", &o.MaxLogLines, 10_000},
		{"MaxEvents", &o.MaxEvents, 10_000},
	} {
		if *f.v < 0 {
			return o, fmt.Errorf("store options: %s %d is negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.BusyTimeout < 0 {
		return o, fmt.Errorf("store options: BusyTimeout %v is negative", o.BusyTimeout)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// SQLite is the store of one node, in one SQLite database file: it
// provides every interface of the package. Create one with Open.
type SQLite struct {
	opts Options
	w    *committer
	ckpt *checkpointer
	ws   writeStmts
	rdb  *sql.DB
	rs   readStmts

	closeOnce sync.Once
	closeErr  error
}

// Open opens the SQLite store at path, creating the file and its directory
// if needed, and migrates its schema to the current version. A new file is
// readable by its owner only.
func Open(ctx context.Context, path string, opts Options) (*SQLite, error) {
	return open(ctx, path, opts, migrations())
}

// open is Open with the migrations given, so tests can inject their own.
func open(ctx context.Context, path string, opts Options, migs []migration) (*SQLite, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("opening store: %w: empty path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("opening store: creating directory: %w", err)
	}
	// SQLite gives its -wal and -shm files the database file's mode, so
	// creating the file first keeps all three private.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}

	s, err := connect(ctx, abs, opts, migs)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", abs, err)
	}
	return s, nil
}

// connect opens the connections to the file at abs, migrates its schema
// and starts the writer.
func connect(ctx context.Context, abs string, opts Options, migs []migration) (_ *SQLite, err error) {
	s := &SQLite{opts: opts}
	var wdb *sql.DB
	defer func() {
		if err != nil {
			for _, db := range []*sql.DB{wdb, s.rdb} {
				if db != nil {
					db.Close()
				}
			}
		}
	}()
	if wdb, err = openWriter(ctx, abs, opts); err != nil {
		return nil, err
	}
	if err = migrate(ctx, wdb, migs, opts.Now()); err != nil {
		return nil, err
	}
	if err = s.ws.prepare(ctx, wdb); err != nil {
		return nil, err
	}
	if s.rdb, err = openReader(ctx, abs, opts); err != nil {
		return nil, err
	}
	if err = s.rs.prepare(ctx, s.rdb); err != nil {
		return nil, err
	}
	if s.ckpt, err = openCheckpointer(ctx, abs, opts); err != nil {
		return nil, err
	}
	if s.w, err = newCommitter(ctx, wdb, opts.MaxBatch, s.ckpt.request); err != nil {
		s.ckpt.close()
		return nil, err
	}
	return s, nil
}

// dsn returns the driver's name for the file at abs with query parameters.
func dsn(abs string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: abs, RawQuery: params.Encode()}
	return u.String()
}

// openWriter opens the single write connection.
func openWriter(ctx context.Context, abs string, opts Options) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+string(opts.Synchronous)+")")
	// Each write of a group commit runs in a savepoint, whose journal
	// would otherwise be a temporary file: a write per page per write.
	q.Add("_pragma", "temp_store(MEMORY)")
	// The checkpointer copies the log back, off the commit path.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN: no deadlock upgrading a read lock
	db, err := openOne(abs, q)
	if err != nil {
		return nil, err
	}
	// The first connection sets the journal mode, and SQLite answers a
	// change of mode that meets another process's opening of the same
	// new file with SQLITE_BUSY at once, without its busy handler: that
	// is retried, backing off, for up to the busy timeout.
	var mode string
	deadline := time.Now().Add(opts.BusyTimeout)
	for wait := time.Millisecond; ; wait *= 2 {
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		if err == nil {
			break
		}
		if sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().Add(wait).After(deadline) {
			db.Close()
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			db.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("enabling WAL mode: the journal mode is %q (a file system without shared memory?)", mode)
	}
	return db, nil
}

// openOne opens a pool of exactly one connection, kept open, to the file
// at abs with query parameters q.
func openOne(abs string, q url.Values) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(abs, q))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// openReader opens the pool of read-only connections.
func openReader(ctx context.Context, abs string, opts Options) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Set("_query_only", "1")
	db, err := sql.Open("sqlite", dsn(abs, q))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(opts.MaxReadConns)
	db.SetMaxIdleConns(opts.MaxReadConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close waits for pending writes and closes the store. Later writes return
// ErrClosed; closing again does nothing.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		s.w.close()
		s.closeErr = errors.Join(s.ckpt.close(), s.w.db.Close(), s.rdb.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("closing store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// now returns the bookkeeping time t, or the store's clock if t is zero.
func (s *SQLite) now(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.Now()
	}
	return t
}

// timeLayout is how times are stored: fixed width, so text order is time
// order.
const timeLayout = TimeLayout

// TimeLayout is how the SQLite store keeps times, as text in UTC, for
// tools that read or write its tables directly.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime returns t as stored.
func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// nullTime returns t as stored, or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// parseTime reads a stored time; the empty string (from NULL) is the zero
// time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading time: %w", err)
	}
	return t, nil
}

// nullString returns s, or NULL for the empty string.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullID returns a row's ID, or NULL for 0.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullJSON returns a JSON document as stored, or NULL if it is empty.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// sqliteCode returns SQLite's extended result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUnique reports whether err is a violation of a unique index.
func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a violation of a foreign key.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// inClause returns "(?, ?, …)" for n values and appends them to args.
func inClause[T any](args []any, vals []T) (string, []any) {
	b := make([]byte, 0, 2+3*len(vals))
	b = append(b, '(')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
		args = append(args, v)
	}
	return string(append(b, ')')), args
}

// collect reads every row of a query with scan and closes the rows. err is
// the error the query itself returned, passed on as it is.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}
