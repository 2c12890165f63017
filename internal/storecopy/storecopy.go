// Package storecopy copies the whole state of a Cronbox store to another,
// SQLite or PostgreSQL either way: runs with their log lines, overrides,
// KV data, tokens, sessions, load errors, events, the notification queue
// with its windows, secrets (ciphertext, as stored), the audit log and,
// between PostgreSQL stores, a cluster's app bundles. It checks the copy
// by counting each table's rows and hashing them, on both sides.
//
// Rows keep their IDs (runs, tokens, events, notifications, audit
// entries), so links and resumable event streams stay valid. The usage
// tables (KV and history bytes) are not copied: the target's triggers
// count them as rows arrive, but for SQLite's history bytes, counted
// once the runs are in. Times are compared to the microsecond,
// PostgreSQL's precision: a copy from SQLite to PostgreSQL keeps them to
// the microsecond.
package storecopy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// kind is how a column's values are compared and written.
type kind int

const (
	kInt   kind = iota // integer
	kText              // text
	kBytes             // bytes, kept as text in SQLite (outputs, messages, keys)
	kBlob              // bytes, kept as a blob in SQLite
	kTime              // a time
	kBool              // a boolean, 0 or 1 in SQLite
)

type column struct {
	name string
	kind kind
}

// table is a table of the store's schema, the same in both databases.
type table struct {
	name    string
	key     string // ORDER BY
	columns []column
	// identity is the column PostgreSQL numbers, whose sequence is moved
	// past the copied rows.
	identity string
	// replace: the target's triggers fill the table from those copied
	// before; its rows are deleted before the source's are copied.
	replace bool
	// pgOnly: only PostgreSQL's schema has the table; it is copied
	// between PostgreSQL stores only (see pgOnlyReason).
	pgOnly bool
}

func cols(spec string) []column {
	var out []column
	for _, f := range strings.Fields(spec) {
		name, k, _ := strings.Cut(f, ":")
		out = append(out, column{name, map[string]kind{"i": kInt, "s": kText, "b": kBytes, "B": kBlob, "t": kTime, "?": kBool}[k]})
	}
	return out
}

// tables are copied in this order (a run before its log lines) and
// emptied in the reverse.
var tables = []table{
	{"TaskExecutions", "ID", cols(`ID:i TaskName:s AppName:s StartTime:t EndTime:t Duration:i Status:s ExitCode:i
		Output:b ErrorMessage:s TriggeredBy:s TriggeredByUser:s CreatedAt:t ScheduledTime:t Attempt:i Input:s Result:s
		PeakMemory:i Reason:s LogsDropped:i LogBytes:i Overdue:? Node:s ErrorLine:s RetryOf:i`), "ID", false, false},
	{"run_logs", "run_id, seq", cols(`run_id:i seq:i time:t level:s message:b`), "", false, false},
	{"run_usage", "run_id", cols(`run_id:i app:s end_time:t cpu_ns:i peak_memory:i output_bytes:i log_bytes:i
		http_sent:i http_received:i kv_written:i files_written:i`), "", false, false},
	// The totals, which survive pruning: the source's replace what the
	// target's trigger summed from the retained runs' usage.
	{"app_usage", "app", cols(`app:s runs:i cpu_ns:i peak_memory:i output_bytes:i log_bytes:i
		http_sent:i http_received:i kv_written:i files_written:i`), "", true, false},
	{"TaskConfigurations", "ID", cols(`ID:i TaskName:s AppName:s Configuration:s IsCustom:? IsDeleted:? CreatedAt:t UpdatedAt:t
		ConsecutiveFailures:i DisabledReason:s DisabledAt:t`), "ID", false, false},
	{"kv", "app, key", cols(`app:s key:b value:B`), "", false, false},
	{"api_tokens", "id", cols(`id:i name:s hash:B role:s apps:s created_at:t last_used_at:t revoked_at:t`), "id", false, false},
	{"sessions", "id_hash", cols(`id_hash:B token_hash:B csrf:s expires_at:t`), "", false, false},
	{"load_errors", "id", cols(`id:i app:s task:s message:s file:s line:i time:t`), "id", false, false},
	{"events", "id", cols(`id:i time:t type:s app:s task:s payload:s`), "id", false, false},
	// PostgreSQL's claims on notifications (claimed_by, claim_until) are
	// a node's, of the moment: not copied, so every pending one is free
	// to be sent by the target's nodes.
	{"notifications", "id", cols(`id:i app:s task:s channel:s kind:s event:s run_id:i suppressed:i payload:s status:s
		attempts:i last_error:s created_at:t next_at:t done_at:t`), "id", false, false},
	{"notify_windows", "app, task, channel", cols(`app:s task:s channel:s until_at:t window_ms:i suppressed:i first_at:t`), "", false, false},
	{"secrets", "app, name", cols(`app:s name:s ciphertext:B updated_at:t`), "", false, false},
	{"audit_log", "id", cols(`id:i time:t actor:s token_id:i action:s app:s target:s before:s after:s`), "id", false, false},
	// A cluster's apps, as versioned bundles (store.Bundles).
	{name: "app_bundles", key: "app, hash", columns: cols(`app:s hash:s data:B`), pgOnly: true},
	{name: "app_versions", key: "app, version", columns: cols(`app:s version:i hash:s removed:? app_version:s node:s size:i
		published_at:t purged:?`), pgOnly: true},
}

// pgOnlyReason is why a copy with a SQLite side leaves the pgOnly tables
// out: a home of one node keeps its apps in its apps folder, the truth
// that the bundles of a cluster replicate. A cluster's nodes publish the
// apps of their folders on their first sync (from SQLite), and each node
// of a cluster has the current version of every app in its own folder
// (to SQLite); the history of versions stays with the cluster.
const pgOnlyReason = "not copied: SQLite keeps apps in the home's apps folder"

// notCopied are the tables of the schemas that a copy leaves out, with
// why: each store's own bookkeeping, or a cluster's state of the moment.
var notCopied = map[string]string{
	"schema_version": "each store records its own migrations",
	"heartbeat":      "a probe row, rewritten to test that the store can write",
	"nodes":          "the registry of a cluster's live nodes and leases, of the moment",
	"run_cancels":    "requests to the node running a run to cancel it, of the moment",
	"app_slots":      "the slots of each app's quotas that the nodes' leases hold, of the moment",
	"app_leases":     "each node's lease of an app's slots, and what its running runs hold of it, of the moment",
}

// notCopiedColumns are the columns of copied tables that a copy leaves
// out, by table.column, with why.
var notCopiedColumns = map[string]string{
	"notifications.claimed_by":       "a node's claim on a notification, of the moment",
	"notifications.claim_until":      "a node's claim on a notification, of the moment",
	"taskexecutions.nooverlap":       "a running run's flag for the cluster's overlap index; not read back",
	"taskexecutions.slotmemory":      "the slot of its app's quotas a running run holds, of the moment",
	"taskexecutions.replace":         "a running run's flag for the cluster's replace index; not read back",
	"taskexecutions.waiting":         "a running run's wait for room on its node, of the moment",
	"taskexecutions.module":          "the module a waiting run needs of the node that takes it over, of the moment",
	"app_usage.shard":                "the row of an app's totals a PostgreSQL connection adds to; the totals are read summed",
	"taskexecutions.progress":        "a run's last progress report, which only a cluster's store keeps, for the other nodes to show",
	"taskexecutions.progressmessage": "a run's last progress report, which only a cluster's store keeps, for the other nodes to show",
}

// copied returns the tables a copy between stores of these kinds copies.
func copied(bothPostgres bool) []table {
	var out []table
	for _, tb := range tables {
		if bothPostgres || !tb.pgOnly {
			out = append(out, tb)
		}
	}
	return out
}

// derived are the tables the target's triggers fill, emptied with --force.
var derived = []string{"kv_usage", "history_usage"}

// TableReport is what Copy found of one table.
type TableReport struct {
	Table string
	// Skipped says why the table was not copied, "" if it was.
	Skipped       string
	Rows          int64
	SourceHash    string // SHA-256 of the rows, in key order
	TargetRows    int64
	TargetHash    string
	RowsIdentical bool
}

// ErrNotEmpty is returned by Copy when the target holds data and force is
// false.
var ErrNotEmpty = errors.New("the target store is not empty")

// ErrMismatch is returned by Copy when the target's rows differ from the
// source's after the copy.
var ErrMismatch = errors.New("the copy differs from its source")

// Copy copies every table of the store from names to the store to names,
// creating the target's schema if needed. A target that holds rows is
// refused with ErrNotEmpty unless force is set: then they are deleted
// first. The copy is one transaction on the target: it lands whole or
// not at all. The report holds each table's counts and hashes, of both
// sides; the copy fails with ErrMismatch if they differ.
func Copy(ctx context.Context, from, to storeurl.Target, force bool) ([]TableReport, error) {
	if from == to {
		return nil, fmt.Errorf("copying %s: the source and the target are the same store", from)
	}
	src, err := openSide(ctx, from, false)
	if err != nil {
		return nil, fmt.Errorf("opening the source: %w", err)
	}
	defer src.close()
	dst, err := openSide(ctx, to, true)
	if err != nil {
		return nil, fmt.Errorf("opening the target: %w", err)
	}
	defer dst.close()

	list := copied(src.pg != nil && dst.pg != nil)
	reports := make([]TableReport, len(list))
	err = src.read(ctx, func(q querier) error {
		return dst.write(ctx, func(w writer) error {
			if n, which, err := w.count(ctx, list); err != nil {
				return err
			} else if n > 0 {
				if !force {
					return fmt.Errorf("%w: %s holds %d rows (%s first); pass --force to replace its contents", ErrNotEmpty, to, n, which)
				}
				if err := w.empty(ctx, list); err != nil {
					return fmt.Errorf("emptying the target: %w", err)
				}
			}
			for i, tb := range list {
				h := newHasher()
				rows := func(yield func([]any) error) error {
					return q.each(ctx, tb, func(row []any) error {
						h.row(row)
						return yield(row)
					})
				}
				if tb.replace {
					if err := w.clear(ctx, tb.name); err != nil {
						return fmt.Errorf("copying %s: %w", tb.name, err)
					}
				}
				if err := w.insert(ctx, tb, rows); err != nil {
					return fmt.Errorf("copying %s: %w", tb.name, err)
				}
				reports[i] = TableReport{Table: tb.name, Rows: h.n, SourceHash: h.sum()}
			}
			if err := w.finish(ctx, list); err != nil {
				return err
			}
			// The check reads the target inside its transaction: what
			// commits is what was checked.
			for i, tb := range list {
				h := newHasher()
				if err := w.each(ctx, tb, func(row []any) error { h.row(row); return nil }); err != nil {
					return fmt.Errorf("checking %s: %w", tb.name, err)
				}
				r := &reports[i]
				r.TargetRows, r.TargetHash = h.n, h.sum()
				r.RowsIdentical = r.TargetRows == r.Rows && r.TargetHash == r.SourceHash
			}
			for _, r := range reports {
				if !r.RowsIdentical {
					return fmt.Errorf("%w: table %s has %d rows (hash %s) in the source, %d (hash %s) in the target",
						ErrMismatch, r.Table, r.Rows, r.SourceHash[:16], r.TargetRows, r.TargetHash[:16])
				}
			}
			return nil
		})
	})
	if err != nil {
		return reports, err
	}
	for _, tb := range tables {
		if len(list) < len(tables) && tb.pgOnly {
			reports = append(reports, TableReport{Table: tb.name, Skipped: pgOnlyReason})
		}
	}
	return reports, nil
}

// Print writes reports as a table.
func Print(w io.Writer, reports []TableReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %10s  %-16s  %s\n", "TABLE", "ROWS", "SHA-256", "CHECK")
	for _, r := range reports {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "%-20s %10s  %-16s  %s\n", r.Table, "-", "-", r.Skipped)
			continue
		}
		check := "ok"
		if !r.RowsIdentical {
			check = fmt.Sprintf("DIFFERS: target has %d rows, hash %.16s", r.TargetRows, r.TargetHash)
		}
		fmt.Fprintf(&b, "%-20s %10d  %.16s  %s\n", r.Table, r.Rows, r.SourceHash, check)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// hasher hashes rows of canonical values.
type hasher struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n   int64
	buf []byte
}

func newHasher() *hasher { return &hasher{h: sha256.New()} }

// row adds a row: each value with a tag and, for variable sizes, its
// length, so that no two different rows hash alike.
func (h *hasher) row(row []any) {
	b := h.buf[:0]
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(v))
		case bool:
			if v {
				b = append(b, 't')
			} else {
				b = append(b, 'f')
			}
		case time.Time:
			b = binary.BigEndian.AppendUint64(append(b, 'T'), uint64(v.UnixMicro()))
		case string:
			b = append(binary.BigEndian.AppendUint64(append(b, 's'), uint64(len(v))), v...)
		case []byte:
			b = append(binary.BigEndian.AppendUint64(append(b, 'b'), uint64(len(v))), v...)
		default:
			panic(fmt.Sprintf("storecopy: hashing a %T", v))
		}
	}
	b = append(b, '\n')
	h.h.Write(b)
	h.buf = b
	h.n++
}

func (h *hasher) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// canonical returns a value read from either database as its column's
// kind: nil, int64, string, []byte, time.Time (UTC, to the microsecond)
// or bool.
func canonical(c column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int32:
			return int64(n), nil
		case int16:
			return int64(n), nil
		case float64:
			if n == math.Trunc(n) {
				return int64(n), nil
			}
		}
	case kText:
		switch s := v.(type) {
		case string:
			return s, nil
		case []byte:
			return string(s), nil
		}
	case kBytes, kBlob:
		switch s := v.(type) {
		case string:
			return []byte(s), nil
		case []byte:
			return append([]byte{}, s...), nil
		}
	case kTime:
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Truncate(time.Microsecond), nil
		case string:
			if t == "" {
				return nil, nil
			}
			p, err := time.Parse(store.TimeLayout, t)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			return p.UTC().Truncate(time.Microsecond), nil
		}
	case kBool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case int64:
			return b != 0, nil
		}
	}
	return nil, fmt.Errorf("column %s: unexpected %T", c.name, v)
}

// querier reads the rows of a table, in key order, as canonical values.
type querier interface {
	each(ctx context.Context, tb table, fn func([]any) error) error
}

// writer writes a store's tables in one transaction.
type writer interface {
	querier
	// count returns how many rows the tables hold, and the first that
	// holds some.
	count(ctx context.Context, list []table) (int64, string, error)
	empty(ctx context.Context, list []table) error
	clear(ctx context.Context, table string) error
	insert(ctx context.Context, tb table, rows func(yield func([]any) error) error) error
	finish(ctx context.Context, list []table) error
}

// side is one store of a copy.
type side struct {
	target storeurl.Target
	lite   *sql.DB
	pg     *postgres.Store
}

// openSide opens a store (so that its schema is migrated), then takes
// the connections a copy needs: to write, if write is set.
func openSide(ctx context.Context, t storeurl.Target, write bool) (*side, error) {
	st, err := t.Open(ctx)
	if err != nil {
		return nil, err
	}
	if pg, ok := st.(*postgres.Store); ok {
		return &side{target: t, pg: pg}, nil
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Set("_txlock", "immediate") // the write lock at BEGIN: no deadlock upgrading a read lock
	}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: t.Path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &side{target: t, lite: db}, nil
}

func (s *side) close() {
	if s.lite != nil {
		s.lite.Close()
	}
	if s.pg != nil {
		s.pg.Close()
	}
}

// read runs fn on a consistent snapshot of the store.
func (s *side) read(ctx context.Context, fn func(querier) error) error {
	if s.pg != nil {
		return pgx.BeginTxFunc(ctx, s.pg.Pool(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
			func(tx pgx.Tx) error { return fn(pgSide{tx}) })
	}
	tx, err := s.lite.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(liteSide{tx})
}

// write runs fn in one transaction, committed if fn succeeds.
func (s *side) write(ctx context.Context, fn func(writer) error) error {
	if s.pg != nil {
		return pgx.BeginFunc(ctx, s.pg.Pool(), func(tx pgx.Tx) error { return fn(pgSide{tx}) })
	}
	tx, err := s.lite.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(liteSide{tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func columnList(tb table) string {
	names := make([]string, len(tb.columns))
	for i, c := range tb.columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// countAll counts the rows of every table of list with count.
func countAll(list []table, count func(string) (int64, error)) (int64, string, error) {
	var (
		total int64
		first string
	)
	for _, tb := range list {
		n, err := count(tb.name)
		if err != nil {
			return 0, "", err
		}
		if n > 0 && first == "" {
			first = fmt.Sprintf("%s: %d", tb.name, n)
		}
		total += n
	}
	return total, first, nil
}

// byteOrder returns tb's key for PostgreSQL's ORDER BY with its text
// columns compared by their bytes, as SQLite compares them.
func byteOrder(tb table) string {
	keys := strings.Split(tb.key, ", ")
	for i, k := range keys {
		for _, c := range tb.columns {
			if c.name == k && c.kind == kText {
				keys[i] += ` COLLATE "C"`
			}
		}
	}
	return strings.Join(keys, ", ")
}

// pgSide reads and writes a PostgreSQL store in a transaction.
type pgSide struct{ tx pgx.Tx }

func (p pgSide) each(ctx context.Context, tb table, fn func([]any) error) error {
	from := tb.name
	if tb.name == "app_usage" { // kept in several rows an app
		from = `(` + postgres.AppUsageSQL + `) AS app_usage`
	}
	rows, err := p.tx.Query(ctx, `SELECT `+columnList(tb)+` FROM `+from+` ORDER BY `+byteOrder(tb))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		for i, c := range tb.columns {
			if vals[i], err = canonical(c, vals[i]); err != nil {
				return err
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (p pgSide) clear(ctx context.Context, name string) error {
	_, err := p.tx.Exec(ctx, `DELETE FROM `+name)
	return err
}

func (p pgSide) count(ctx context.Context, list []table) (int64, string, error) {
	return countAll(list, func(name string) (n int64, err error) {
		err = p.tx.QueryRow(ctx, `SELECT count(*) FROM `+name).Scan(&n)
		return n, err
	})
}

func (p pgSide) empty(ctx context.Context, list []table) error {
	for i := len(list) - 1; i >= 0; i-- {
		if _, err := p.tx.Exec(ctx, `DELETE FROM `+list[i].name); err != nil {
			return err
		}
	}
	for _, name := range derived {
		if _, err := p.tx.Exec(ctx, `DELETE FROM `+name); err != nil {
			return err
		}
	}
	return nil
}

func (p pgSide) insert(ctx context.Context, tb table, rows func(yield func([]any) error) error) error {
	names := make([]string, len(tb.columns))
	for i, c := range tb.columns {
		names[i] = strings.ToLower(c.name)
	}
	// COPY streams the rows (and fires the usage triggers, as inserts
	// do); a goroutine feeds it from the source.
	ch := make(chan []any)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		errc <- rows(func(row []any) error {
			for i, c := range tb.columns {
				if c.kind == kText && row[i] != nil {
					row[i] = textValue(row[i].(string))
				}
			}
			select {
			case ch <- row:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	_, err := p.tx.CopyFrom(ctx, pgx.Identifier{strings.ToLower(tb.name)}, names, pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := <-ch
		if !ok {
			return nil, nil
		}
		return row, nil
	}))
	cancel()
	for range ch { // let the feeder end
	}
	if ferr := <-errc; ferr != nil && !errors.Is(ferr, context.Canceled) {
		return ferr
	}
	return err
}

// textValue returns s as PostgreSQL's text takes it: a text of SQLite
// may hold a NUL byte or invalid UTF-8, which it refuses.
func textValue(s string) string {
	if !strings.ContainsRune(s, 0) && strings.ToValidUTF8(s, "") == s {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func (p pgSide) finish(ctx context.Context, list []table) error {
	for _, tb := range list {
		if tb.identity == "" {
			continue
		}
		_, err := p.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(`+tb.identity+`) FROM `+tb.name+`), 0) + 1, false)`,
			strings.ToLower(tb.name), strings.ToLower(tb.identity))
		if err != nil {
			return fmt.Errorf("moving the IDs of %s past the copied rows: %w", tb.name, err)
		}
	}
	return nil
}

// liteSide reads and writes a SQLite store in a transaction.
type liteSide struct{ tx *sql.Tx }

func (l liteSide) each(ctx context.Context, tb table, fn func([]any) error) error {
	rows, err := l.tx.QueryContext(ctx, `SELECT `+columnList(tb)+` FROM `+tb.name+` ORDER BY `+tb.key)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(tb.columns))
	ptrs := make([]any, len(tb.columns))
	for rows.Next() {
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]any, len(vals))
		for i, c := range tb.columns {
			if row[i], err = canonical(c, vals[i]); err != nil {
				return err
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (l liteSide) clear(ctx context.Context, name string) error {
	_, err := l.tx.ExecContext(ctx, `DELETE FROM `+name)
	return err
}

func (l liteSide) count(ctx context.Context, list []table) (int64, string, error) {
	return countAll(list, func(name string) (n int64, err error) {
		err = l.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&n)
		return n, err
	})
}

func (l liteSide) empty(ctx context.Context, list []table) error {
	for i := len(list) - 1; i >= 0; i-- {
		if _, err := l.tx.ExecContext(ctx, `DELETE FROM `+list[i].name); err != nil {
			return err
		}
	}
	for _, name := range derived {
		if _, err := l.tx.ExecContext(ctx, `DELETE FROM `+name); err != nil {
			return err
		}
	}
	return nil
}

func (l liteSide) insert(ctx context.Context, tb table, rows func(yield func([]any) error) error) error {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(tb.columns)), ", ")
	stmt, err := l.tx.PrepareContext(ctx, `INSERT INTO `+tb.name+` (`+columnList(tb)+`) VALUES (`+marks+`)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	return rows(func(row []any) error {
		args := make([]any, len(row))
		for i, c := range tb.columns {
			args[i] = row[i]
			switch v := row[i].(type) {
			case time.Time:
				args[i] = v.UTC().Format(store.TimeLayout)
			case []byte:
				if c.kind == kBytes {
					args[i] = string(v) // kept as text, as the store writes it
				}
			}
		}
		_, err := stmt.ExecContext(ctx, args...)
		return err
	})
}

// finish counts the history the runs copied hold: SQLite's store has no
// trigger on a run's insert (a run starts holding none).
func (l liteSide) finish(ctx context.Context, _ []table) error {
	return store.CountHistoryUsage(ctx, l.tx)
}
