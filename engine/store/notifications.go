package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NotificationStatus is where a notification is in its delivery.
type NotificationStatus string

// The notification statuses.
const (
	NotificationPending NotificationStatus = "pending" // waiting for its next attempt
	NotificationSent    NotificationStatus = "sent"
	NotificationFailed  NotificationStatus = "failed" // gave up
)

// Notification is one message to one channel, with the record of its
// delivery.
type Notification struct {
	ID        int64
	App, Task string // Task is empty for an app's load error
	// Channel names the channel; Kind is webhook, slack or email.
	Channel, Kind string
	// Event is what happened: a run's status, recovered, disabled,
	// load_error, or summary.
	Event string
	RunID int64
	// Suppressed counts, for a summary, the events it stands for.
	Suppressed int
	// Payload is what the sender needs, opaque to the store.
	Payload json.RawMessage
	Status  NotificationStatus
	// Attempts counts delivery attempts; LastError is why the last one
	// failed, "" if it did not.
	Attempts  int
	LastError string
	// Created is when it was queued (the store sets it if zero); Next when
	// a pending one is tried next; Done when it was sent or given up.
	Created, Next, Done time.Time
}

// NotificationAttempt is the outcome of one delivery attempt.
type NotificationAttempt struct {
	Time time.Time
	// Err is why it failed, "" if it was sent.
	Err string
	// Next, when the attempt failed, is when to try again; zero gives up.
	Next time.Time
}

// NotificationFilter selects notifications to list.
type NotificationFilter struct {
	// Apps, if not nil, are the only apps listed, as RunFilter.Apps.
	Apps []string
	// BeforeID, if set, selects notifications with a smaller ID.
	BeforeID int64
	// Limit is as RunFilter.Limit.
	Limit int
}

// WindowKey is a task (or, with Task "", an app) on one channel.
type WindowKey struct{ App, Task, Channel string }

// Suppressed is a quiet window that kept quiet about events.
type Suppressed struct {
	WindowKey
	Count int
	// First is when the first of them happened.
	First time.Time
}

// Notifications queues notifications, keeps the record of their delivery,
// and keeps each task and channel to one message a window.
type Notifications interface {
	// EnqueueNotification queues n as pending, due at n.Next (now if zero),
	// and returns its ID.
	EnqueueNotification(ctx context.Context, n Notification) (int64, error)
	// DueNotifications returns up to limit pending notifications due at
	// now, the earliest due first.
	DueNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error)
	// RecordAttempt records an attempt to deliver the pending notification
	// id: sent, retried at a.Next, or given up. It returns ErrNotFound for
	// an unknown id and ErrFinished for one no longer pending.
	RecordAttempt(ctx context.Context, id int64, a NotificationAttempt) error
	// ListNotifications returns notifications, newest first.
	ListNotifications(ctx context.Context, f NotificationFilter) ([]Notification, error)
	// OpenWindow reports whether a message about k may go at now: if k's
	// window has ended (or k has none) it opens a new one, lasting window,
	// and returns true; otherwise it counts the event as suppressed and
	// returns false. A window that ended with suppressed events stays
	// closed until TakeSuppressed takes them, so its summary counts this
	// event too.
	OpenWindow(ctx context.Context, k WindowKey, now time.Time, window time.Duration) (bool, error)
	// TakeSuppressed returns the windows ended by now that suppressed
	// events, and opens a new window of the same length for each (for the
	// summary that reports them), its count reset.
	TakeSuppressed(ctx context.Context, now time.Time) ([]Suppressed, error)
	// PruneNotifications deletes the notifications sent or given up
	// before before, and the windows that ended before it without
	// suppressed events; it returns how many notifications it deleted.
	PruneNotifications(ctx context.Context, before time.Time) (int, error)
	// NextWake returns the earliest time a pending notification is due or
	// a window with suppressed events ends; zero if there is none.
	NextWake(ctx context.Context) (time.Time, error)
}

var _ Notifications = (*SQLite)(nil)

const notificationCols = `id, app, task, channel, kind, event, run_id, suppressed, payload, status, attempts, last_error, created_at, coalesce(next_at, ''), coalesce(done_at, '')`

// EnqueueNotification implements Notifications.
func (s *SQLite) EnqueueNotification(ctx context.Context, n Notification) (int64, error) {
	if n.Channel == "" || n.Kind == "" || n.Event == "" || !json.Valid(n.Payload) {
		return 0, fmt.Errorf("queueing notification: %w: channel, kind, event and a JSON payload are required", ErrInvalid)
	}
	created := s.now(n.Created)
	next := n.Next
	if next.IsZero() {
		next = created
	}
	var id int64
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO notifications (app, task, channel, kind, event, run_id, suppressed, payload, status, created_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
			n.App, n.Task, n.Channel, n.Kind, n.Event, n.RunID, n.Suppressed, string(n.Payload), formatTime(created), formatTime(next))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queueing notification: %w", err)
	}
	return id, nil
}

// DueNotifications implements Notifications.
func (s *SQLite) DueNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error) {
	return s.queryNotifications(ctx, `SELECT `+notificationCols+` FROM notifications
		WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`, formatTime(now), clampLimit(limit))
}

// RecordAttempt implements Notifications.
func (s *SQLite) RecordAttempt(ctx context.Context, id int64, a NotificationAttempt) error {
	at := formatTime(s.now(a.Time))
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var status string
		switch err := tx.QueryRowContext(ctx, `SELECT status FROM notifications WHERE id = ?`, id).Scan(&status); {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case status != string(NotificationPending):
			return ErrFinished
		}
		var err error
		switch {
		case a.Err == "":
			_, err = tx.ExecContext(ctx, `UPDATE notifications SET status = 'sent', attempts = attempts + 1, last_error = '', next_at = NULL, done_at = ? WHERE id = ?`, at, id)
		case a.Next.IsZero():
			_, err = tx.ExecContext(ctx, `UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = ?, next_at = NULL, done_at = ? WHERE id = ?`, a.Err, at, id)
		default:
			_, err = tx.ExecContext(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?`, a.Err, formatTime(a.Next), id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("recording attempt of notification %d: %w", id, err)
	}
	return nil
}

// ListNotifications implements Notifications.
func (s *SQLite) ListNotifications(ctx context.Context, f NotificationFilter) ([]Notification, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var (
		where []string
		args  []any
	)
	if len(f.Apps) > 0 {
		var in string
		in, args = inClause(args, f.Apps)
		where = append(where, "app IN "+in)
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := `SELECT ` + notificationCols + ` FROM notifications`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	return s.queryNotifications(ctx, q, append(args, clampLimit(f.Limit))...)
}

func (s *SQLite) queryNotifications(ctx context.Context, q string, args ...any) ([]Notification, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var (
			n                   Notification
			payload, status     string
			created, next, done string
		)
		if err := rows.Scan(&n.ID, &n.App, &n.Task, &n.Channel, &n.Kind, &n.Event, &n.RunID, &n.Suppressed, &payload, &status,
			&n.Attempts, &n.LastError, &created, &next, &done); err != nil {
			return nil, fmt.Errorf("reading notifications: %w", err)
		}
		n.Payload, n.Status = json.RawMessage(payload), NotificationStatus(status)
		for _, t := range []struct {
			s string
			p *time.Time
		}{{created, &n.Created}, {next, &n.Next}, {done, &n.Done}} {
			if *t.p, err = parseTime(t.s); err != nil {
				return nil, fmt.Errorf("reading notification %d: %w", n.ID, err)
			}
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading notifications: %w", err)
	}
	return out, nil
}

// OpenWindow implements Notifications.
func (s *SQLite) OpenWindow(ctx context.Context, k WindowKey, now time.Time, window time.Duration) (bool, error) {
	if k.Channel == "" || window <= 0 {
		return false, fmt.Errorf("opening notification window: %w: a channel and a positive window are required", ErrInvalid)
	}
	var open bool
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		open = false
		var (
			until      string
			suppressed int
		)
		err := tx.QueryRowContext(ctx, `SELECT until_at, suppressed FROM notify_windows WHERE app = ? AND task = ? AND channel = ?`,
			k.App, k.Task, k.Channel).Scan(&until, &suppressed)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && until <= formatTime(now) && suppressed == 0:
			open = true
			_, err = tx.ExecContext(ctx, `INSERT INTO notify_windows (app, task, channel, until_at, window_ms, suppressed, first_at)
				VALUES (?, ?, ?, ?, ?, 0, NULL)
				ON CONFLICT (app, task, channel) DO UPDATE SET until_at = excluded.until_at, window_ms = excluded.window_ms, suppressed = 0, first_at = NULL`,
				k.App, k.Task, k.Channel, formatTime(now.Add(window)), window.Milliseconds())
			return err
		case err != nil:
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE notify_windows SET suppressed = suppressed + 1, first_at = coalesce(first_at, ?)
			WHERE app = ? AND task = ? AND channel = ?`, formatTime(now), k.App, k.Task, k.Channel)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("opening notification window of %s/%s on %s: %w", k.App, k.Task, k.Channel, err)
	}
	return open, nil
}

// TakeSuppressed implements Notifications.
func (s *SQLite) TakeSuppressed(ctx context.Context, now time.Time) ([]Suppressed, error) {
	var out []Suppressed
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT app, task, channel, suppressed, first_at, window_ms FROM notify_windows
			WHERE suppressed > 0 AND until_at <= ? ORDER BY until_at, app, task, channel`, formatTime(now))
		if err != nil {
			return err
		}
		var windows []int64
		for rows.Next() {
			var (
				x     Suppressed
				first string
				ms    int64
			)
			if err := rows.Scan(&x.App, &x.Task, &x.Channel, &x.Count, &first, &ms); err != nil {
				rows.Close()
				return err
			}
			if x.First, err = parseTime(first); err != nil {
				rows.Close()
				return err
			}
			out = append(out, x)
			windows = append(windows, ms)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for i, x := range out {
			_, err := tx.ExecContext(ctx, `UPDATE notify_windows SET suppressed = 0, first_at = NULL, until_at = ?
				WHERE app = ? AND task = ? AND channel = ?`, formatTime(now.Add(time.Duration(windows[i])*time.Millisecond)), x.App, x.Task, x.Channel)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taking suppressed notifications: %w", err)
	}
	return out, nil
}

// NextWake implements Notifications.
func (s *SQLite) NextWake(ctx context.Context) (time.Time, error) {
	var next string
	err := s.rdb.QueryRowContext(ctx, `SELECT coalesce(min(t), '') FROM (
		SELECT min(next_at) AS t FROM notifications WHERE status = 'pending'
		UNION ALL SELECT min(until_at) FROM notify_windows WHERE suppressed > 0)`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading next notification time: %w", err)
	}
	return parseTime(next)
}

// PruneNotifications implements Notifications.
func (s *SQLite) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		b := formatTime(before)
		res, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE status != 'pending' AND done_at < ?`, b)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM notify_windows WHERE suppressed = 0 AND until_at < ?`, b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning notifications: %w", err)
	}
	return int(n), nil
}
