package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LoadError is a problem the engine found loading an app or one of its
// tasks.
type LoadError struct {
	App  string
	Task string // empty for an error of the app as a whole
	// Message says what is wrong, for a person.
	Message string
	// File and Line locate the problem, when known (Line 0 when not).
	File string
	Line int
	// Time is when the error was found; the store sets it if zero.
	Time time.Time
}

// SetLoadErrors implements LoadErrors. The errors' App fields are ignored: they
// are all app's.
func (s *SQLite) SetLoadErrors(ctx context.Context, app string, errs []LoadError) error {
	if app == "" {
		return fmt.Errorf("setting load errors: %w: no app", ErrInvalid)
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM load_errors WHERE app = ?`, app); err != nil {
			return err
		}
		for _, e := range errs {
			_, err := tx.ExecContext(ctx, `INSERT INTO load_errors (app, task, message, file, line, time)
				VALUES (?, ?, ?, ?, ?, ?)`, app, e.Task, e.Message, e.File, e.Line, formatTime(s.now(e.Time)))
			if err != nil {
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

// LoadErrors implements LoadErrors. Each app's errors are in the order they
// were set.
func (s *SQLite) LoadErrors(ctx context.Context) (map[string][]LoadError, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT app, task, message, file, line, time FROM load_errors ORDER BY app, id`)
	if err != nil {
		return nil, fmt.Errorf("reading load errors: %w", err)
	}
	defer rows.Close()
	m := map[string][]LoadError{}
	for rows.Next() {
		var (
			e LoadError
			t string
		)
		if err := rows.Scan(&e.App, &e.Task, &e.Message, &e.File, &e.Line, &t); err != nil {
			return nil, fmt.Errorf("reading load errors: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("reading load errors of %s: %w", e.App, err)
		}
		m[e.App] = append(m[e.App], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading load errors: %w", err)
	}
	return m, nil
}
