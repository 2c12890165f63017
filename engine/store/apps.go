package store

import (
	"context"
	"database/sql"
	"fmt"
)

// DeleteAppData removes everything the store holds for an app: its
// key-value data, runs and logs, overrides, load errors, events and
// secrets. Tokens are left: they belong to people, not to apps; so is the
// audit log, the record of what was done to the app. It runs in one
// transaction: the app's data goes as a whole or not at all.
func (s *SQLite) DeleteAppData(ctx context.Context, app string) error {
	if app == "" {
		return fmt.Errorf("deleting app data: %w: no app", ErrInvalid)
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM kv WHERE app = ?`,
			`DELETE FROM TaskExecutions WHERE AppName = ?`, // and, by cascade, run_logs
			`DELETE FROM history_usage WHERE app = ?`,
			`DELETE FROM TaskConfigurations WHERE AppName = ?`,
			`DELETE FROM load_errors WHERE app = ?`,
			`DELETE FROM events WHERE app = ?`,
			`DELETE FROM secrets WHERE app = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, app); err != nil {
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
