package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// overrideColumns are the columns scanOverride reads.
const overrideColumns = `AppName, TaskName, Configuration, IsCustom, IsDeleted,
	CreatedAt, UpdatedAt, ConsecutiveFailures, DisabledReason, DisabledAt`

func scanOverride(row pgx.Row) (store.Override, error) {
	var (
		o                            store.Override
		config                       string
		created, updated, disabledAt *time.Time
	)
	err := row.Scan(&o.App, &o.Task, &config, &o.Custom, &o.Deleted,
		&created, &updated, &o.Failures.ConsecutiveFailures, &o.Failures.DisabledReason, &disabledAt)
	if err != nil {
		return store.Override{}, err
	}
	if err := o.DecodeConfiguration([]byte(config)); err != nil {
		return store.Override{}, err
	}
	o.CreatedAt, o.UpdatedAt, o.Failures.DisabledAt = utc(created), utc(updated), utc(disabledAt)
	return o, nil
}

// Overrides implements store.Overrides.
func (s *Store) Overrides(ctx context.Context) ([]store.Override, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+overrideColumns+` FROM TaskConfigurations ORDER BY AppName COLLATE "C", TaskName COLLATE "C"`)
	var list []store.Override
	if err == nil {
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Override, error) { return scanOverride(row) })
	}
	if err != nil {
		return nil, fmt.Errorf("listing overrides: %w", err)
	}
	return list, nil
}

// putOverrideSQL writes an override's configuration ($3-$5), creating its
// row if needed, at $6.
const putOverrideSQL = `INSERT INTO TaskConfigurations AS c
	(AppName, TaskName, Configuration, IsCustom, IsDeleted, CreatedAt, UpdatedAt) VALUES ($1, $2, $3, $4, $5, $6, $6)
	ON CONFLICT (AppName, TaskName) DO UPDATE SET Configuration = excluded.Configuration,
		IsCustom = excluded.IsCustom, IsDeleted = excluded.IsDeleted, UpdatedAt = excluded.UpdatedAt`

func (s *Store) putOverrideArgs(o *store.Override) ([]any, error) {
	config, err := o.EncodeConfiguration()
	if err != nil {
		return nil, err
	}
	return []any{text(o.App), text(o.Task), text(string(config)), o.Custom, o.Deleted, s.opts.Now()}, nil
}

// PutOverride implements store.Overrides.
func (s *Store) PutOverride(ctx context.Context, o store.Override) error {
	doing := fmt.Sprintf("putting override of %s/%s", o.App, o.Task)
	if err := store.CheckOverride(&o); err != nil {
		return err
	}
	args, err := s.putOverrideArgs(&o)
	if err == nil {
		_, err = s.pool.Exec(ctx, putOverrideSQL, args...)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}

// DeleteOverride implements store.Overrides.
func (s *Store) DeleteOverride(ctx context.Context, app, task string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM TaskConfigurations WHERE AppName = $1 AND TaskName = $2`, app, task)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("deleting override of %s/%s: %w", app, task, err)
	}
	return nil
}

// RecordOutcome implements store.Outcomes. A success is one statement; a
// failure a transaction that locks the task's override.
func (s *Store) RecordOutcome(ctx context.Context, app, task string, o store.Outcome) (store.FailureState, error) {
	doing := fmt.Sprintf("recording outcome of %s/%s", app, task)
	if err := store.CheckOutcome(app, task, o); err != nil {
		return store.FailureState{}, err
	}
	var (
		state store.FailureState
		err   error
	)
	if o.Failed {
		state, err = s.recordFailure(ctx, app, task, o)
	} else {
		var disabledAt *time.Time
		err = s.pool.QueryRow(ctx, `WITH cur AS (SELECT DisabledReason, DisabledAt FROM TaskConfigurations
				WHERE AppName = $1 AND TaskName = $2),
			clear AS (UPDATE TaskConfigurations SET ConsecutiveFailures = 0
				WHERE AppName = $1 AND TaskName = $2 AND ConsecutiveFailures <> 0)
			SELECT DisabledReason, DisabledAt FROM cur`, app, task).Scan(&state.DisabledReason, &disabledAt)
		state.DisabledAt = utc(disabledAt)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return store.FailureState{}, fmt.Errorf("%s: %w", doing, err)
	}
	return state, nil
}

func (s *Store) recordFailure(ctx context.Context, app, task string, o store.Outcome) (state store.FailureState, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ov := store.Override{App: app, Task: task}
		args, err := s.putOverrideArgs(&ov)
		if err != nil {
			return err
		}
		// A task without an override gets an empty one, to count in.
		if _, err := tx.Exec(ctx, `INSERT INTO TaskConfigurations
			(AppName, TaskName, Configuration, IsCustom, IsDeleted, CreatedAt, UpdatedAt) VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (AppName, TaskName) DO NOTHING`, args...); err != nil {
			return err
		}
		ov, err = scanOverride(tx.QueryRow(ctx, `SELECT `+overrideColumns+` FROM TaskConfigurations
			WHERE AppName = $1 AND TaskName = $2 FOR UPDATE`, app, task))
		if err != nil {
			return err
		}
		state = ov.Failures
		if state.Fail(o, s.opts.Now()) {
			disabled := false
			ov.Enabled = &disabled
			args, err := s.putOverrideArgs(&ov)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, putOverrideSQL, args...); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE TaskConfigurations SET ConsecutiveFailures = $1, DisabledReason = $2,
			DisabledAt = $3 WHERE AppName = $4 AND TaskName = $5`,
			state.ConsecutiveFailures, text(state.DisabledReason), ts(state.DisabledAt), app, task)
		return err
	})
	return state, err
}

// ResetFailures implements store.Outcomes.
func (s *Store) ResetFailures(ctx context.Context, app, task string) error {
	_, err := s.pool.Exec(ctx, `UPDATE TaskConfigurations SET ConsecutiveFailures = 0, DisabledReason = '',
		DisabledAt = NULL WHERE AppName = $1 AND TaskName = $2`, app, task)
	if err != nil {
		return fmt.Errorf("resetting failures of %s/%s: %w", app, task, err)
	}
	return nil
}

const tokenColumns = `id, name, hash, role, apps, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (store.Token, error) {
	var (
		t             store.Token
		hash          []byte
		apps          string
		created       time.Time
		used, revoked *time.Time
	)
	if err := row.Scan(&t.ID, &t.Name, &hash, &t.Role, &apps, &created, &used, &revoked); err != nil {
		return store.Token{}, err
	}
	if len(hash) != len(t.Hash) {
		return store.Token{}, fmt.Errorf("token %d: hash of %d bytes", t.ID, len(hash))
	}
	copy(t.Hash[:], hash)
	if err := store.DecodeTokenApps(&t, []byte(apps)); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = created.UTC(), utc(used), utc(revoked)
	return t, nil
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) (int64, error) {
	apps, err := store.CheckToken(&t)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO api_tokens (name, hash, role, apps, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		text(t.Name), t.Hash[:], text(t.Role), text(string(apps)), s.now(t.CreatedAt)).Scan(&id)
	if violates(err, "api_tokens_hash_key") {
		err = store.ErrDuplicate
	}
	if err != nil {
		return 0, fmt.Errorf("creating token %q: %w", t.Name, err)
	}
	return id, nil
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash store.TokenHash) (*store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash[:]))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = store.ErrNotFound
	case err == nil && t.Revoked():
		err = store.ErrRevoked
	}
	if err != nil {
		return nil, fmt.Errorf("looking up token: %w", err)
	}
	return &t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
	var list []store.Token
	if err == nil {
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Token, error) { return scanToken(row) })
	}
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return list, nil
}

// RevokeToken implements store.Tokens: one statement, which deletes the
// token's sessions too.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH t AS (UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING hash),
		d AS (DELETE FROM sessions WHERE token_hash IN (SELECT hash FROM t))
		SELECT count(*) FROM t`, s.opts.Now(), id).Scan(&n)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoking token %d: %w", id, err)
	}
	return nil
}

// TouchToken implements store.Tokens. last_used_at only moves forward, so
// a late write of an earlier use cannot move it back.
func (s *Store) TouchToken(ctx context.Context, id int64) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH t AS (SELECT id FROM api_tokens WHERE id = $2),
		u AS (UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1))
		SELECT count(*) FROM t`, s.opts.Now(), id).Scan(&n)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("touching token %d: %w", id, err)
	}
	return nil
}

// PutSession implements store.Sessions: one round trip, which deletes the
// expired sessions and records the new one.
func (s *Store) PutSession(ctx context.Context, sess store.Session) error {
	if err := store.CheckSession(&sess); err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM sessions WHERE expires_at <= $1`, s.opts.Now())
	b.Queue(`INSERT INTO sessions (id_hash, token_hash, csrf, expires_at) VALUES ($1, $2, $3, $4)`,
		sess.IDHash[:], sess.TokenHash[:], text(sess.CSRF), sess.ExpiresAt)
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	})
	if violates(err, "sessions_pkey") {
		err = store.ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("recording session: %w", err)
	}
	return nil
}

// Session implements store.Sessions.
func (s *Store) Session(ctx context.Context, id store.SessionHash) (store.Session, bool, error) {
	var (
		sess           store.Session
		idHash, tokenH []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id_hash, token_hash, csrf, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2`,
		id[:], s.opts.Now()).Scan(&idHash, &tokenH, &sess.CSRF, &sess.ExpiresAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Session{}, false, nil
	case err != nil:
	case len(idHash) != len(sess.IDHash) || len(tokenH) != len(sess.TokenHash):
		err = fmt.Errorf("hashes of %d and %d bytes", len(idHash), len(tokenH))
	default:
		copy(sess.IDHash[:], idHash)
		copy(sess.TokenHash[:], tokenH)
		sess.ExpiresAt = sess.ExpiresAt.UTC()
	}
	if err != nil {
		return store.Session{}, false, fmt.Errorf("looking up session: %w", err)
	}
	return sess, true, nil
}

// TouchSession implements store.Sessions.
func (s *Store) TouchSession(ctx context.Context, id store.SessionHash, expires time.Time) error {
	if expires.IsZero() {
		return fmt.Errorf("touching session: %w: no expiry", store.ErrInvalid)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET expires_at = greatest(expires_at, $1) WHERE id_hash = $2 AND expires_at > $3`,
		expires, id[:], s.opts.Now())
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id store.SessionHash) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, id[:]); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// SetLoadErrors implements store.LoadErrors: one round trip.
func (s *Store) SetLoadErrors(ctx context.Context, app string, errs []store.LoadError) error {
	if app == "" {
		return fmt.Errorf("setting load errors: %w: no app", store.ErrInvalid)
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM load_errors WHERE app = $1`, app)
	if len(errs) > 0 {
		var (
			tasks, messages, files = make([]string, len(errs)), make([]string, len(errs)), make([]string, len(errs))
			lines                  = make([]int32, len(errs))
			times                  = make([]time.Time, len(errs))
		)
		for i, e := range errs {
			tasks[i], messages[i], files[i] = text(e.Task), text(e.Message), text(e.File)
			lines[i], times[i] = int32(min(max(e.Line, -1<<31), 1<<31-1)), s.now(e.Time)
		}
		b.Queue(`INSERT INTO load_errors (app, task, message, file, line, time)
			SELECT $1, t, m, f, l, tm FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[])
				WITH ORDINALITY AS e(t, m, f, l, tm, i) ORDER BY i`, text(app), tasks, messages, files, lines, times)
	}
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		for range b.Len() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("setting load errors of %s: %w", app, err)
	}
	return nil
}

// LoadErrors implements store.LoadErrors. Each app's errors are in the
// order they were set.
func (s *Store) LoadErrors(ctx context.Context) (map[string][]store.LoadError, error) {
	rows, err := s.pool.Query(ctx, `SELECT app, task, message, file, line, time FROM load_errors ORDER BY app, id`)
	m := map[string][]store.LoadError{}
	if err == nil {
		var e store.LoadError
		_, err = pgx.ForEachRow(rows, []any{&e.App, &e.Task, &e.Message, &e.File, &e.Line, &e.Time}, func() error {
			e.Time = e.Time.UTC()
			m[e.App] = append(m[e.App], e)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading load errors: %w", err)
	}
	return m, nil
}

// eventLock is the key of the advisory lock that event appends take, so
// that events commit in the order of their IDs: a client resuming after
// an ID never misses an event committed after it with a smaller one.
const eventLock = 0x63726f6e65766e74 // "cronevnt"

// pruneEventsEvery is how many events are appended between prunes.
const pruneEventsEvery = 64

// AppendEvent implements store.EventLog: one round trip. Old events are
// pruned as new ones arrive.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	ids, err := s.AppendEvents(ctx, []store.Event{e})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// AppendEvents implements store.EventLog: one round trip, under the
// events' advisory lock, whatever the number of events. It goes last in
// its group of writes, so that the group takes the lock only when all
// else is done.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) ([]int64, error) {
	if err := store.CheckEvents(events); err != nil {
		return nil, err
	}
	var (
		times                        = make([]time.Time, len(events))
		types, apps, tasks, payloads = make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]*string, len(events))
	)
	for i, e := range events {
		times[i], types[i], apps[i], tasks[i] = s.now(e.Time), text(e.Type), text(e.App), text(e.Task)
		if len(e.Payload) > 0 {
			p := text(string(e.Payload))
			payloads[i] = &p
		}
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(eventLock))
	// The IDs are drawn in the order of the rows, which is the events'.
	b.Queue(`WITH ins AS (INSERT INTO events (time, type, app, task, payload)
			SELECT t, ty, a, tk, p FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[])
				WITH ORDINALITY AS e(t, ty, a, tk, p, i) ORDER BY i
			RETURNING id),
		prune AS (DELETE FROM events WHERE EXISTS (SELECT 1 FROM ins WHERE id % $6 = 0)
			AND id <= (SELECT max(id) FROM ins) - $7)
		SELECT id FROM ins, (SELECT pg_notify('`+eventsChannel+`', (SELECT max(id) FROM ins)::text)) notified ORDER BY id`, times, types, apps, tasks, payloads,
		int64(pruneEventsEvery), int64(s.opts.MaxEvents))
	var ids []int64
	err := s.writeLast(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err == nil && len(ids) != len(events) {
		err = fmt.Errorf("recorded %d of them", len(ids))
	}
	if err != nil {
		if len(events) == 1 {
			return nil, fmt.Errorf("appending event %s: %w", events[0].Type, err)
		}
		return nil, fmt.Errorf("appending %d events: %w", len(events), err)
	}
	return ids, nil
}

// LastEventID implements store.EventLog.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("reading the last event ID: %w", err)
	}
	return id, nil
}

// Events implements store.EventLog.
func (s *Store) Events(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var (
		q    strings.Builder
		args = []any{f.AfterID}
	)
	q.WriteString(`SELECT id, time, type, app, task, coalesce(payload, '') FROM events WHERE id > $1`)
	if len(f.Apps) > 0 {
		args = append(args, f.Apps)
		q.WriteString(` AND app = ANY($2)`)
	}
	args = append(args, store.ClampLimit(f.Limit))
	q.WriteString(` ORDER BY id LIMIT $` + strconv.Itoa(len(args)))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	var list []store.Event
	if err == nil {
		var (
			e       store.Event
			payload string
		)
		_, err = pgx.ForEachRow(rows, []any{&e.ID, &e.Time, &e.Type, &e.App, &e.Task, &payload}, func() error {
			ev := e
			ev.Time = ev.Time.UTC()
			if payload != "" {
				ev.Payload = []byte(payload)
			}
			list = append(list, ev)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return list, nil
}

// DeleteAppData removes everything the store holds for an app: its
// key-value data, runs and logs, overrides, load errors and events, in
// one transaction. Tokens are left: they belong to people, not to apps.
func (s *Store) DeleteAppData(ctx context.Context, app string) error {
	if app == "" {
		return fmt.Errorf("deleting app data: %w: no app", store.ErrInvalid)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			lockUsageSQL,
			`DELETE FROM kv WHERE app = $1`,
			`DELETE FROM TaskExecutions WHERE AppName = $1`, // and, by cascade, run_logs
			`DELETE FROM history_usage WHERE app = $1`,
			`DELETE FROM TaskConfigurations WHERE AppName = $1`,
			`DELETE FROM load_errors WHERE app = $1`,
			`DELETE FROM events WHERE app = $1`,
			`DELETE FROM secrets WHERE app = $1`, // the audit log keeps its entries
		} {
			if _, err := tx.Exec(ctx, q, app); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting data of app %s: %w", app, err)
	}
	return nil
}
