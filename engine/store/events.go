package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event is something that happened, recorded so that a client of the event
// stream can resume after the last event it saw.
type Event struct {
	// ID orders events; the store assigns it.
	ID int64
	// Time is when it happened; the store sets it if zero.
	Time time.Time
	// Type names the event, e.g. "run.finished".
	Type string
	// App and Task are what the event is about, if anything. An event
	// without an app is a system event.
	App, Task string
	// Payload is the event's data, as JSON.
	Payload json.RawMessage
}

// EventFilter selects events for Events.
type EventFilter struct {
	// AfterID selects events with a greater ID.
	AfterID int64
	// Apps, if not nil, are the only apps whose events are returned; a
	// non-nil list leaves out system events too, and an empty one selects
	// nothing.
	Apps []string
	// Limit is the most events returned, clamped as RunFilter.Limit is.
	Limit int
}

// pruneEventsEvery is how many events are appended between prunes.
const pruneEventsEvery = 64

// AppendEvent implements EventLog. Old events are pruned as new ones arrive.
func (s *SQLite) AppendEvent(ctx context.Context, e Event) (int64, error) {
	ids, err := s.AppendEvents(ctx, []Event{e})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// AppendEvents implements EventLog: one transaction.
func (s *SQLite) AppendEvents(ctx context.Context, events []Event) ([]int64, error) {
	if err := CheckEvents(events); err != nil {
		return nil, err
	}
	ids := make([]int64, len(events))
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, e := range events {
			res, err := tx.StmtContext(ctx, s.ws.insertEvent).ExecContext(ctx,
				formatTime(s.now(e.Time)), e.Type, e.App, e.Task, nullJSON(e.Payload))
			if err != nil {
				return err
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return err
			}
			if ids[i]%pruneEventsEvery == 0 {
				if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id <= ?`, ids[i]-int64(s.opts.MaxEvents)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("appending %s: %w", eventsNamed(events), err)
	}
	return ids, nil
}

// eventsNamed names events in an error: "event TYPE" for one.
func eventsNamed(events []Event) string {
	if len(events) == 1 {
		return "event " + events[0].Type
	}
	return fmt.Sprintf("%d events", len(events))
}

// LastEventID implements EventLog.
func (s *SQLite) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("reading the last event ID: %w", err)
	}
	return id, nil
}

// Events implements EventLog.
func (s *SQLite) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var (
		q    strings.Builder
		args = []any{f.AfterID}
	)
	q.WriteString(`SELECT id, time, type, app, task, coalesce(payload, '') FROM events WHERE id > ?`)
	if len(f.Apps) > 0 {
		var in string
		in, args = inClause(args, f.Apps)
		q.WriteString(` AND app IN ` + in)
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, clampLimit(f.Limit))
	rows, err := s.rdb.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	defer rows.Close()
	var list []Event
	for rows.Next() {
		var (
			e          Event
			t, payload string
		)
		if err := rows.Scan(&e.ID, &t, &e.Type, &e.App, &e.Task, &payload); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("reading event %d: %w", e.ID, err)
		}
		if payload != "" {
			e.Payload = json.RawMessage(payload)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return list, nil
}
