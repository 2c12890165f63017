package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one change in the audit log.
type AuditEntry struct {
	ID int64
	// Time is when the change was made; the store sets it if zero.
	Time time.Time
	// Actor is who made it: "token:NAME" for a token of the API, "local"
	// for the home's owner through the local socket, "cli:USER" for the
	// command line working on the store.
	Actor string
	// TokenID is the ID of the actor's token; 0 for none.
	TokenID int64
	// Action is what was done, e.g. "task.update" or "secret.set".
	Action string
	// App is the app it was done to; "" for none (a token).
	App string
	// Target names what was changed within it: a task, a run's ID, a
	// token's ID, a secret's name.
	Target string
	// Before and After are the changed thing as JSON before and after
	// the change (null for none), with secrets masked.
	Before, After json.RawMessage
}

// AuditFilter selects audit entries. The zero value selects the latest
// DefaultLimit entries.
type AuditFilter struct {
	// Apps, if not nil, keeps the entries of these apps only (entries
	// of no app are left out); an empty, non-nil list keeps none.
	Apps []string
	// App, Actor and Action, if set, keep the entries that have them.
	App, Actor, Action string
	// Since and Until, if set, keep the entries with Since <= Time < Until.
	Since, Until time.Time
	// Before, if set, keeps the entries with an ID below it: the cursor
	// of the next page is the last entry's ID.
	Before int64
	// Limit is the most entries returned, clamped as RunFilter.Limit is.
	Limit int
}

// AppendAudit implements Audit.
func (s *SQLite) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	switch {
	case e.Actor == "":
		return 0, fmt.Errorf("recording audit entry: %w: no actor", ErrInvalid)
	case e.Action == "":
		return 0, fmt.Errorf("recording audit entry: %w: no action", ErrInvalid)
	}
	var id int64
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, actor, token_id, action, app, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			formatTime(s.now(e.Time)), e.Actor, e.TokenID, e.Action, e.App, e.Target, nullJSON(e.Before), nullJSON(e.After))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recording audit entry %s: %w", e.Action, err)
	}
	return id, nil
}

// ListAudit implements Audit.
func (s *SQLite) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.Apps != nil {
		if len(f.Apps) == 0 {
			return nil, nil
		}
		var in string
		in, args = inClause(args, f.Apps)
		where = append(where, "app IN "+in)
	}
	for _, c := range []struct{ col, v string }{{"app", f.App}, {"actor", f.Actor}, {"action", f.Action}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, formatTime(f.Until))
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT id, time, actor, token_id, action, app, target, coalesce(before, ''), coalesce(after, '') FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, clampLimit(f.Limit))
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	list, err := collect(rows, err, func(sc scanner) (AuditEntry, error) {
		var (
			e             AuditEntry
			t             string
			before, after string
		)
		if err := sc.Scan(&e.ID, &t, &e.Actor, &e.TokenID, &e.Action, &e.App, &e.Target, &before, &after); err != nil {
			return AuditEntry{}, err
		}
		if before != "" {
			e.Before = json.RawMessage(before)
		}
		if after != "" {
			e.After = json.RawMessage(after)
		}
		var err error
		e.Time, err = parseTime(t)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit entries: %w", err)
	}
	return list, nil
}

// PruneAudit implements Audit.
func (s *SQLite) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE time < ?`, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning the audit log: %w", err)
	}
	return int(n), nil
}
