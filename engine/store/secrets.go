package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Secret is one secret of an app, as stored: sealed.
type Secret struct {
	App, Name string
	// Ciphertext is the sealed value; ListSecrets leaves it nil.
	Ciphertext []byte
	// UpdatedAt is when it was last set.
	UpdatedAt time.Time
}

// PutSecret implements Secrets.
func (s *SQLite) PutSecret(ctx context.Context, sec Secret) error {
	switch {
	case sec.App == "":
		return fmt.Errorf("storing secret: %w: no app", ErrInvalid)
	case sec.Name == "":
		return fmt.Errorf("storing secret of %s: %w: no name", sec.App, ErrInvalid)
	case len(sec.Ciphertext) == 0:
		return fmt.Errorf("storing secret %s of %s: %w: no ciphertext", sec.Name, sec.App, ErrInvalid)
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO secrets (app, name, ciphertext, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (app, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
			sec.App, sec.Name, sec.Ciphertext, formatTime(s.now(sec.UpdatedAt)))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing secret %s of %s: %w", sec.Name, sec.App, err)
	}
	return nil
}

// Secret implements Secrets.
func (s *SQLite) Secret(ctx context.Context, app, name string) (Secret, error) {
	sec := Secret{App: app, Name: name}
	var updated string
	err := s.rdb.QueryRowContext(ctx, `SELECT ciphertext, updated_at FROM secrets WHERE app = ? AND name = ?`, app, name).Scan(&sec.Ciphertext, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err == nil {
		sec.UpdatedAt, err = parseTime(updated)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("reading secret %s of %s: %w", name, app, err)
	}
	return sec, nil
}

// ListSecrets implements Secrets.
func (s *SQLite) ListSecrets(ctx context.Context, app string) ([]Secret, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT name, updated_at FROM secrets WHERE app = ? ORDER BY name`, app)
	list, err := collect(rows, err, func(sc scanner) (Secret, error) {
		sec := Secret{App: app}
		var updated string
		if err := sc.Scan(&sec.Name, &updated); err != nil {
			return Secret{}, err
		}
		var err error
		sec.UpdatedAt, err = parseTime(updated)
		return sec, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing secrets of %s: %w", app, err)
	}
	return list, nil
}

// DeleteSecret implements Secrets.
func (s *SQLite) DeleteSecret(ctx context.Context, app, name string) error {
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return execFound(ctx, tx, `DELETE FROM secrets WHERE app = ? AND name = ?`, app, name)
	})
	if err != nil {
		return fmt.Errorf("deleting secret %s of %s: %w", name, app, err)
	}
	return nil
}
