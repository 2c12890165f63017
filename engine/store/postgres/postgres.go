// Package postgres is the store of a cluster of Cronbox nodes: every
// interface of package store, kept in one PostgreSQL database that the
// nodes share.
//
// It holds what the SQLite store holds, in the same tables (see
// migrations), and shows the same behaviour (package storetest checks
// both). Where SQLite gets its guarantees from having one writer, this
// store gets them from PostgreSQL's: unique indexes (a scheduled time is
// recorded once per task, whichever node fires it), row locks (a run's
// log lines are numbered under the lock of its row; a KV write takes its
// app's usage row first, so that concurrent writers never pass the
// quota), and transaction-scoped advisory locks (migrations; events,
// whose IDs are thus committed in order).
//
// Each frequent write is one round trip at most: a statement, or a batch
// of statements that PostgreSQL runs as one implicit transaction. A run's
// start, log lines and end, and events, go through a group writer: those
// that arrive together share one round trip and one commit.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cronbox/cronbox/engine/store"
)

// Options configures a PostgreSQL store. The zero value is valid.
type Options struct {
	// MaxConns is the most connections the store opens to the database.
	// Default: the URL's pool_max_conns, else 8.
	MaxConns int
	// MaxLogLines is how many log lines a run keeps; later lines are only
	// counted. Default 10,000.
	MaxLogLines int
	// MaxEvents is about how many recent events are kept. Default 10,000.
	MaxEvents int
	// WatchPoll is how long WatchEvents and WatchCancels wait for a
	// notification before they read the database anyway, in case one
	// was lost. Default 2s.
	WatchPoll time.Duration
	// Now is the clock of the store's bookkeeping times (when an override
	// was updated, a token used, an event recorded…). Default time.Now.
	Now func() time.Time
	// NotifyClaim is how long a notification that DueNotifications
	// returns stays claimed by this store: the other stores on the
	// database (the other nodes) do not send it meanwhile, and send it
	// after, if this one has not recorded an attempt. It must outlast the
	// delivery of a batch. Default 5 minutes.
	NotifyClaim time.Duration

	// Writers is how many connections at most send the frequent writes
	// (a run's start, log lines and end; events), each sending the
	// writes that queued while the others were busy as one transaction
	// (see groupWriter). Fewer writers make larger groups: fewer round
	// trips and commits for as many writes. At most MaxConns. Default 2.
	Writers int

	// Tracer, if set, sees every query and batch the store sends: each is
	// one round trip (tests and cronbox-bench count them). Default nil.
	Tracer pgx.QueryTracer
}

func (o Options) withDefaults() (Options, error) {
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxConns", &o.MaxConns, 0},
		{"MaxLogLines", &o.MaxLogLines, 10_000},
		{"MaxEvents", &o.MaxEvents, 10_000},
		{"Writers", &o.Writers, 0},
	} {
		if *f.v < 0 {
			return o, fmt.Errorf("postgres store options: %s %d is negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.WatchPoll < 0 {
		return o, fmt.Errorf("postgres store options: WatchPoll %v is negative", o.WatchPoll)
	}
	if o.WatchPoll == 0 {
		o.WatchPoll = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NotifyClaim < 0 {
		return o, fmt.Errorf("postgres store options: NotifyClaim %v is negative", o.NotifyClaim)
	}
	if o.NotifyClaim == 0 {
		o.NotifyClaim = 5 * time.Minute
	}
	return o, nil
}

// Store is a PostgreSQL store; it provides every interface of package
// store. Create one with Open.
type Store struct {
	opts Options
	pool *pgxpool.Pool
	// name tells this store's claims on the notification queue from
	// other stores' (other nodes'): random, new at each Open.
	name string
	// writes sends the frequent writes in groups.
	writes *groupWriter
	// fences holds, by node name, the epoch RegisterNode gave it: the
	// runs of that node are recorded only under its live lease.
	fences sync.Map
}

var (
	_ store.Runs          = (*Store)(nil)
	_ store.Retention     = (*Store)(nil)
	_ store.Metering      = (*Store)(nil)
	_ store.Overrides     = (*Store)(nil)
	_ store.Outcomes      = (*Store)(nil)
	_ store.KeyValue      = (*Store)(nil)
	_ store.Tokens        = (*Store)(nil)
	_ store.Sessions      = (*Store)(nil)
	_ store.LoadErrors    = (*Store)(nil)
	_ store.EventLog      = (*Store)(nil)
	_ store.Notifications = (*Store)(nil)
	_ store.Nodes         = (*Store)(nil)
	_ store.Stats         = (*Store)(nil)
)

// Open connects to the database at url (postgres://user@host:port/db?…,
// as libpq and pgx take it) and migrates its schema to the current
// version. It fails with store.ErrSchemaTooNew on a database a newer
// Cronbox has migrated.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	return open(ctx, url, opts, migrations())
}

// open is Open with the migrations given, so tests can inject their own.
func open(ctx context.Context, url string, opts Options, migs []migration) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, fmt.Errorf("opening the PostgreSQL store: %w: the URL is not a PostgreSQL connection string", store.ErrInvalid)
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(min(opts.MaxConns, 1<<20))
	} else if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 8
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	if opts.Writers == 0 {
		opts.Writers = 2
	}
	opts.Writers = min(opts.Writers, int(cfg.MaxConns))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the PostgreSQL store %s: %w", where, err)
	}
	if _, err := migrate(ctx, pool, migs, opts.Now()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening the PostgreSQL store %s: %w", where, err)
	}
	var name [12]byte
	_, _ = rand.Read(name[:]) // never fails
	s := &Store{opts: opts, pool: pool, name: hex.EncodeToString(name[:])}
	s.writes = newGroupWriter(pool, opts.Writers, s.lockApp)
	return s, nil
}

// lockApp queues the statements of appLockSQL for app, with the nodes
// that registered on the store, and returns how many.
func (s *Store) lockApp(b *pgx.Batch, app string) int {
	var nodes []string
	s.fences.Range(func(name, _ any) bool {
		nodes = append(nodes, name.(string))
		return true
	})
	slices.Sort(nodes)
	b.Queue(appLockSQL[0], app, nodes)
	for _, q := range appLockSQL[1:] {
		b.Queue(q, app)
	}
	return len(appLockSQL)
}

// Close closes the store's connections, once the writes queued have been
// answered and the queries under way are done. Later writes fail with
// store.ErrClosed. Closing again does nothing.
func (s *Store) Close() error {
	s.writes.close()
	s.pool.Close()
	return nil
}

// Pool returns the store's connection pool, for tools that read or copy
// its tables as a whole.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// now returns the bookkeeping time t, or the store's clock if t is zero.
func (s *Store) now(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.Now()
	}
	return t
}

// ts returns t as PostgreSQL keeps it (microseconds), or nil for the zero
// time.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// utc returns a time read from the database in UTC, the zero time for
// NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// text returns s as a text column takes it: valid UTF-8 without NUL
// bytes, which PostgreSQL's text refuses. Outputs, log messages and KV
// data are bytea and kept as they are; this is for names and messages
// that the engine writes, which are text already.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// nullText returns s as text, or NULL for the empty string.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return text(s)
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
	return text(string(b))
}

// violates reports whether err is a violation of the unique index or
// constraint named name.
func violates(err error, name string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" && e.ConstraintName == name
}

// batch sends b as one round trip, which PostgreSQL runs as one implicit
// transaction, and reads its results in order with read.
func (s *Store) batch(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := s.pool.SendBatch(ctx, b)
	if err := read(br); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}

// write is batch for the frequent writes: b is sent in a group with the
// writes that queued meanwhile, in one transaction (see groupWriter); read
// must read every result of b or return an error.
func (s *Store) write(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	return s.writes.do(ctx, b, read, "", false)
}

// writeSlots is write for a write that may lock the node's lease of app
// and its app_slots row (a run's start or end): it goes in its group in
// the order of the apps (see groupOp.slots).
func (s *Store) writeSlots(ctx context.Context, app string, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	return s.writes.do(ctx, b, read, app, false)
}

// writeLast is write for a write that takes a lock that every writer
// takes: it goes in a group of such writes only.
func (s *Store) writeLast(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	return s.writes.do(ctx, b, read, "", true)
}

// query is a statement built piece by piece, with its arguments.
type query struct {
	strings.Builder
	args []any
}

// arg adds v to the arguments and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}
