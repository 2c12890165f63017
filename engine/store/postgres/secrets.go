package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

var (
	_ store.Secrets = (*Store)(nil)
	_ store.Audit   = (*Store)(nil)
)

// orNow returns t, or the store's time for the zero time.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.Now()
	}
	return t
}

// PutSecret implements store.Secrets: one statement.
func (s *Store) PutSecret(ctx context.Context, sec store.Secret) error {
	switch {
	case sec.App == "":
		return fmt.Errorf("storing secret: %w: no app", store.ErrInvalid)
	case sec.Name == "":
		return fmt.Errorf("storing secret of %s: %w: no name", sec.App, store.ErrInvalid)
	case len(sec.Ciphertext) == 0:
		return fmt.Errorf("storing secret %s of %s: %w: no ciphertext", sec.Name, sec.App, store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO secrets (app, name, ciphertext, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		text(sec.App), text(sec.Name), sec.Ciphertext, s.orNow(sec.UpdatedAt))
	if err != nil {
		return fmt.Errorf("storing secret %s of %s: %w", sec.Name, sec.App, err)
	}
	return nil
}

// Secret implements store.Secrets.
func (s *Store) Secret(ctx context.Context, app, name string) (store.Secret, error) {
	sec := store.Secret{App: app, Name: name}
	err := s.pool.QueryRow(ctx, `SELECT ciphertext, updated_at FROM secrets WHERE app = $1 AND name = $2`, text(app), text(name)).
		Scan(&sec.Ciphertext, &sec.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Secret{}, fmt.Errorf("reading secret %s of %s: %w", name, app, err)
	}
	sec.UpdatedAt = sec.UpdatedAt.UTC()
	return sec, nil
}

// ListSecrets implements store.Secrets.
func (s *Store) ListSecrets(ctx context.Context, app string) ([]store.Secret, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, updated_at FROM secrets WHERE app = $1 ORDER BY name COLLATE "C"`, text(app))
	var list []store.Secret
	if err == nil {
		var sec store.Secret
		_, err = pgx.ForEachRow(rows, []any{&sec.Name, &sec.UpdatedAt}, func() error {
			list = append(list, store.Secret{App: app, Name: sec.Name, UpdatedAt: sec.UpdatedAt.UTC()})
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("listing secrets of %s: %w", app, err)
	}
	return list, nil
}

// DeleteSecret implements store.Secrets.
func (s *Store) DeleteSecret(ctx context.Context, app, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE app = $1 AND name = $2`, text(app), text(name))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("deleting secret %s of %s: %w", name, app, err)
	}
	return nil
}

// AppendAudit implements store.Audit: one statement.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	switch {
	case e.Actor == "":
		return 0, fmt.Errorf("recording audit entry: %w: no actor", store.ErrInvalid)
	case e.Action == "":
		return 0, fmt.Errorf("recording audit entry: %w: no action", store.ErrInvalid)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_log (time, actor, token_id, action, app, target, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		s.orNow(e.Time), text(e.Actor), e.TokenID, text(e.Action), text(e.App), text(e.Target), auditJSON(e.Before), auditJSON(e.After)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("recording audit entry %s: %w", e.Action, err)
	}
	return id, nil
}

// auditJSON is a before or after as the column takes it: NULL for none.
func auditJSON(j json.RawMessage) any {
	if len(j) == 0 {
		return nil
	}
	return text(string(j))
}

// ListAudit implements store.Audit.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Apps != nil {
		add("app = ANY($?)", f.Apps)
	}
	for _, c := range []struct{ col, v string }{{"app", f.App}, {"actor", f.Actor}, {"action", f.Action}} {
		if c.v != "" {
			add(c.col+" = $?", text(c.v))
		}
	}
	if !f.Since.IsZero() {
		add("time >= $?", f.Since)
	}
	if !f.Until.IsZero() {
		add("time < $?", f.Until)
	}
	if f.Before > 0 {
		add("id < $?", f.Before)
	}
	q := `SELECT id, time, actor, token_id, action, app, target, coalesce(before, ''), coalesce(after, '') FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, store.ClampLimit(f.Limit))
	q += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	var list []store.AuditEntry
	if err == nil {
		var (
			e             store.AuditEntry
			before, after string
		)
		_, err = pgx.ForEachRow(rows, []any{&e.ID, &e.Time, &e.Actor, &e.TokenID, &e.Action, &e.App, &e.Target, &before, &after}, func() error {
			out := e
			out.Time = out.Time.UTC()
			if before != "" {
				out.Before = json.RawMessage(before)
			}
			if after != "" {
				out.After = json.RawMessage(after)
			}
			list = append(list, out)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("listing audit entries: %w", err)
	}
	return list, nil
}

// PruneAudit implements store.Audit.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_log WHERE time < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("pruning the audit log: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
