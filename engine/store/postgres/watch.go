package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// The nodes of a cluster learn of each other's writes by PostgreSQL's
// LISTEN/NOTIFY: a write that another node must see notifies a channel in
// its own statement, so the notification leaves at its commit, and a node
// that listens reads the table after what it has seen. A notification is
// only a wake-up: one sent while a node was not listening (its connection
// lost and made again) is lost, so a node reads once after each LISTEN
// and, as a safety net, every Options.WatchPoll without a notification.

// Channels of the notifications.
const (
	// eventsChannel carries the ID of each event appended.
	eventsChannel = "cronbox_events"
	// cancelsChannel carries the run ID of each cancel requested.
	cancelsChannel = "cronbox_cancels"
	// slotsChannel carries the app of each slot given back (store.Slots).
	slotsChannel = "cronbox_slots"
	// waitingChannel carries the app of each run recorded waiting for
	// room on its node (handoff.go).
	waitingChannel = "cronbox_waiting"
)

// listen calls wake with the payload of each notification on channel,
// with "" once after each LISTEN and after each Options.WatchPoll without
// a notification, until ctx is done. A lost connection, or an error of
// wake, is retried on a new one after a second. It listens on a
// connection of its own, outside the pool, which it holds throughout.
func (s *Store) listen(ctx context.Context, channel string, wake func(ctx context.Context, payload string) error) error {
	for {
		err := s.listenOnce(ctx, channel, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the next connection is the answer; the caller sees no error of a store it cannot reach
		retry := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			retry.Stop()
			return ctx.Err()
		case <-retry.C:
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, channel string, wake func(ctx context.Context, payload string) error) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	// A wait that times out moves the connection's deadline instead of
	// sending the server a cancel request: the connection stays usable.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", channel, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listening on %s: %w", channel, err)
	}
	if err := wake(ctx, ""); err != nil {
		return err
	}
	for {
		wait, cancel := context.WithTimeout(ctx, s.opts.WatchPoll)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			err = wake(ctx, n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			err = wake(ctx, "")
		default:
			return fmt.Errorf("listening on %s: %w", channel, err)
		}
		if err != nil {
			return err
		}
	}
}

// WatchEvents calls wake when other processes (the other nodes of the
// cluster) may have appended events, until ctx is done, and returns
// ctx's error: with the ID of an event appended, or 0 when it cannot
// tell (after each connection to the database, and every
// Options.WatchPoll). It listens on a connection of its own.
func (s *Store) WatchEvents(ctx context.Context, wake func(id int64)) error {
	return s.listen(ctx, eventsChannel, func(_ context.Context, payload string) error {
		id, _ := strconv.ParseInt(payload, 10, 64) // "" is 0: read
		wake(id)
		return nil
	})
}

// WatchSlots implements store.Slots: it listens on a connection of its
// own, and calls wake with "" after each connection and every
// Options.WatchPoll without a notification.
func (s *Store) WatchSlots(ctx context.Context, wake func(app string)) error {
	return s.listen(ctx, slotsChannel, func(_ context.Context, app string) error {
		wake(app)
		return nil
	})
}

// RequestCancel asks whichever node runs run id to cancel it: the request
// is kept, and notified, until that node has (WatchCancels) or the run
// has ended. One round trip.
func (s *Store) RequestCancel(ctx context.Context, id int64) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO run_cancels (run_id, requested_at) VALUES ($1, $2) ON CONFLICT (run_id) DO NOTHING`, id, s.opts.Now())
	b.Queue(`SELECT pg_notify('`+cancelsChannel+`', $1::text)`, strconv.FormatInt(id, 10))
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	})
	if err != nil {
		return fmt.Errorf("requesting the cancel of run %d: %w", id, err)
	}
	return nil
}

// WatchCancels calls cancel with the ID of each run whose cancel was
// requested (RequestCancel, by any node) and that is still running, until
// ctx is done, and returns ctx's error. cancel reports whether it
// cancelled the run (this node runs it): the request is then done and
// deleted; otherwise it is left for the node that runs it. Requests of
// runs that have ended are deleted. It listens on a connection of its
// own.
func (s *Store) WatchCancels(ctx context.Context, cancel func(ctx context.Context, id int64) bool) error {
	return s.listen(ctx, cancelsChannel, func(ctx context.Context, _ string) error {
		if _, err := s.pool.Exec(ctx, `DELETE FROM run_cancels c WHERE NOT EXISTS
			(SELECT 1 FROM TaskExecutions r WHERE r.ID = c.run_id AND r.Status = 'running')`); err != nil {
			return fmt.Errorf("reading cancel requests: %w", err)
		}
		rows, err := s.pool.Query(ctx, `SELECT run_id FROM run_cancels ORDER BY run_id`)
		if err != nil {
			return fmt.Errorf("reading cancel requests: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("reading cancel requests: %w", err)
		}
		for _, id := range ids {
			if !cancel(ctx, id) {
				continue
			}
			if _, err := s.pool.Exec(ctx, `DELETE FROM run_cancels WHERE run_id = $1`, id); err != nil {
				return fmt.Errorf("deleting the cancel request of run %d: %w", id, err)
			}
		}
		return nil
	})
}
