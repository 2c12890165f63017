package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

const notificationCols = `id, app, task, channel, kind, event, run_id, suppressed, payload, status, attempts, last_error,
	created_at, next_at, done_at`

// EnqueueNotification implements store.Notifications.
func (s *Store) EnqueueNotification(ctx context.Context, n store.Notification) (int64, error) {
	if n.Channel == "" || n.Kind == "" || n.Event == "" || !json.Valid(n.Payload) {
		return 0, fmt.Errorf("queueing notification: %w: channel, kind, event and a JSON payload are required", store.ErrInvalid)
	}
	created := s.now(n.Created)
	next := cmp.Or(n.Next, created)
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO notifications (app, task, channel, kind, event, run_id, suppressed, payload, status, created_at, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10) RETURNING id`,
		text(n.App), text(n.Task), text(n.Channel), text(n.Kind), text(n.Event), n.RunID, n.Suppressed, text(string(n.Payload)), created, next).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("queueing notification: %w", err)
	}
	return id, nil
}

// DueNotifications implements store.Notifications. It claims what it
// returns for this store for Options.NotifyClaim: several nodes read the
// queue, and each notification goes to one of them. A store gets its own
// claims again (its notifier reads the queue again while it delivers);
// the others skip them, and rows another node is claiming at the moment
// (SKIP LOCKED), until the claim ends: then a node that died while
// sending has its notifications sent by another.
func (s *Store) DueNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	list, err := s.queryNotifications(ctx, `WITH due AS (SELECT id FROM notifications
			WHERE status = 'pending' AND next_at <= $1
			AND (claimed_by IS NULL OR claimed_by = $3 OR claim_until < now())
			ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE notifications n SET claimed_by = $3, claim_until = now() + make_interval(secs => $4)
		FROM due WHERE n.id = due.id
		RETURNING `+prefixed("n.", notificationCols), now, store.ClampLimit(limit), s.name, s.opts.NotifyClaim.Seconds())
	slices.SortFunc(list, func(a, b store.Notification) int {
		return cmp.Or(a.Next.Compare(b.Next), cmp.Compare(a.ID, b.ID))
	})
	return list, err
}

// prefixed returns the comma-separated columns cols, each prefixed.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// RecordAttempt implements store.Notifications: one round trip, which
// also ends the claim.
func (s *Store) RecordAttempt(ctx context.Context, id int64, a store.NotificationAttempt) error {
	var status, next any = string(store.NotificationPending), ts(a.Next)
	done := any(nil)
	switch {
	case a.Err == "":
		status, next, done = string(store.NotificationSent), nil, s.now(a.Time)
	case a.Next.IsZero():
		status, done = string(store.NotificationFailed), s.now(a.Time)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT status FROM notifications WHERE id = $1 FOR UPDATE`, id)
	b.Queue(`UPDATE notifications SET status = $2, attempts = attempts + 1, last_error = $3, next_at = $4, done_at = $5,
		claimed_by = NULL, claim_until = NULL WHERE id = $1 AND status = 'pending'`, id, status, text(a.Err), next, done)
	var cur string
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&cur); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		_, err := br.Exec()
		return err
	})
	if err == nil && cur != string(store.NotificationPending) {
		err = store.ErrFinished
	}
	if err != nil {
		return fmt.Errorf("recording attempt of notification %d: %w", id, err)
	}
	return nil
}

// ListNotifications implements store.Notifications.
func (s *Store) ListNotifications(ctx context.Context, f store.NotificationFilter) ([]store.Notification, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var q query
	q.WriteString(`SELECT ` + notificationCols + ` FROM notifications WHERE true`)
	if len(f.Apps) > 0 {
		q.WriteString(` AND app = ANY(` + q.arg(f.Apps) + `)`)
	}
	if f.BeforeID > 0 {
		q.WriteString(` AND id < ` + q.arg(f.BeforeID))
	}
	q.WriteString(` ORDER BY id DESC LIMIT ` + q.arg(store.ClampLimit(f.Limit)))
	return s.queryNotifications(ctx, q.String(), q.args...)
}

func (s *Store) queryNotifications(ctx context.Context, q string, args ...any) ([]store.Notification, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	var out []store.Notification
	if err == nil {
		var (
			n                   store.Notification
			payload, status     string
			created, next, done *time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&n.ID, &n.App, &n.Task, &n.Channel, &n.Kind, &n.Event, &n.RunID, &n.Suppressed,
			&payload, &status, &n.Attempts, &n.LastError, &created, &next, &done}, func() error {
			x := n
			x.Payload, x.Status = json.RawMessage(payload), store.NotificationStatus(status)
			x.Created, x.Next, x.Done = utc(created), utc(next), utc(done)
			out = append(out, x)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading notifications: %w", err)
	}
	return out, nil
}

// OpenWindow implements store.Notifications: one statement, so that two
// nodes opening one window at once open it once.
func (s *Store) OpenWindow(ctx context.Context, k store.WindowKey, now time.Time, window time.Duration) (bool, error) {
	if k.Channel == "" || window <= 0 {
		return false, fmt.Errorf("opening notification window: %w: a channel and a positive window are required", store.ErrInvalid)
	}
	var open bool
	err := s.pool.QueryRow(ctx, `INSERT INTO notify_windows AS w (app, task, channel, until_at, window_ms, suppressed, first_at)
		VALUES ($1, $2, $3, $5, $6, 0, NULL)
		ON CONFLICT (app, task, channel) DO UPDATE SET
			until_at = CASE WHEN w.until_at <= $4 AND w.suppressed = 0 THEN excluded.until_at ELSE w.until_at END,
			window_ms = CASE WHEN w.until_at <= $4 AND w.suppressed = 0 THEN excluded.window_ms ELSE w.window_ms END,
			first_at = CASE WHEN w.until_at <= $4 AND w.suppressed = 0 THEN NULL ELSE coalesce(w.first_at, $4) END,
			suppressed = CASE WHEN w.until_at <= $4 AND w.suppressed = 0 THEN 0 ELSE w.suppressed + 1 END
		RETURNING suppressed = 0`,
		text(k.App), text(k.Task), text(k.Channel), now, now.Add(window), window.Milliseconds()).Scan(&open)
	if err != nil {
		return false, fmt.Errorf("opening notification window of %s/%s on %s: %w", k.App, k.Task, k.Channel, err)
	}
	return open, nil
}

// TakeSuppressed implements store.Notifications: one statement, which
// takes each window once however many nodes take at once.
func (s *Store) TakeSuppressed(ctx context.Context, now time.Time) ([]store.Suppressed, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (SELECT app, task, channel, suppressed, first_at, until_at FROM notify_windows
			WHERE suppressed > 0 AND until_at <= $1 FOR UPDATE SKIP LOCKED),
		taken AS (UPDATE notify_windows w SET suppressed = 0, first_at = NULL, until_at = $1 + make_interval(secs => w.window_ms / 1000.0)
			FROM due WHERE w.app = due.app AND w.task = due.task AND w.channel = due.channel)
		SELECT app, task, channel, suppressed, first_at FROM due
		ORDER BY until_at, app COLLATE "C", task COLLATE "C", channel COLLATE "C"`, now)
	var out []store.Suppressed
	if err == nil {
		var (
			x     store.Suppressed
			first *time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&x.App, &x.Task, &x.Channel, &x.Count, &first}, func() error {
			y := x
			y.First = utc(first)
			out = append(out, y)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("taking suppressed notifications: %w", err)
	}
	return out, nil
}

// NextWake implements store.Notifications. A notification that another
// node has claimed is due, for this one, when the claim ends.
func (s *Store) NextWake(ctx context.Context) (time.Time, error) {
	var next *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(t) FROM (
		SELECT min(CASE WHEN claimed_by <> $1 AND claim_until > now() THEN greatest(next_at, claim_until) ELSE next_at END) AS t
			FROM notifications WHERE status = 'pending'
		UNION ALL SELECT min(until_at) FROM notify_windows WHERE suppressed > 0) w`, s.name).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading next notification time: %w", err)
	}
	return utc(next), nil
}

// PruneNotifications implements store.Notifications: one round trip.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM notifications WHERE status <> 'pending' AND done_at < $1`, before)
	b.Queue(`DELETE FROM notify_windows WHERE suppressed = 0 AND until_at < $1`, before)
	var n int64
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = br.Exec()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning notifications: %w", err)
	}
	return int(n), nil
}
