package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Override is the runtime change of one task's configuration, made in the
// UI, the API or the CLI and kept over the app's default configuration
// (config/tasks.yaml). Fields left nil keep the default; how they combine
// with it is the engine's business.
type Override struct {
	App, Task string
	// Enabled, if set, enables or disables the task.
	Enabled *bool
	// Schedule, if set, replaces the task's schedule: a schedule as
	// tasks.yaml spells it, as JSON (a string or an object).
	Schedule json.RawMessage
	// Environment, if not nil, changes the task's environment.
	Environment map[string]string
	// Fields, if set, replaces other fields of the task: a JSON object of
	// them as tasks.yaml spells them (termination, limits, retry, ...).
	Fields json.RawMessage
	// Deleted removes the task from execution.
	Deleted bool
	// Custom marks a task that the app's defaults do not have; Definition
	// is then its whole definition, as JSON, and is required.
	Custom     bool
	Definition json.RawMessage
	// Failures is kept by RecordOutcome and ResetFailures; PutOverride
	// ignores it.
	Failures FailureState
	// CreatedAt and UpdatedAt are set by the store: when the override was
	// created and its configuration last changed.
	CreatedAt, UpdatedAt time.Time
}

// FailureState is a task's record of failed runs.
type FailureState struct {
	// ConsecutiveFailures counts the failed runs since the last success.
	ConsecutiveFailures int
	// DisabledReason is set when the failures disabled the task, and says
	// why; DisabledAt is when.
	DisabledReason string
	DisabledAt     time.Time
}

// Outcome is how a run of a task ended, for RecordOutcome.
type Outcome struct {
	Failed bool
	// MaxFailures is how many consecutive failures disable the task; 0
	// never does.
	MaxFailures int
	// Reason is the DisabledReason when this failure disables the task.
	// Default "disabled after N consecutive failures".
	Reason string
}

// configuration is the JSON of the Configuration column, shaped as the
// entries of the original engine's runtime configuration.
type configuration struct {
	Name        string            `json:"name"`
	AppName     string            `json:"appName"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Schedule    json.RawMessage   `json:"schedule,omitempty"`
	Environment map[string]string `json:"environment,omitzero"`
	Fields      json.RawMessage   `json:"fields,omitempty"`
	Definition  json.RawMessage   `json:"definition,omitempty"`
}

func (o *Override) configuration() configuration {
	return configuration{
		Name:        o.Task,
		AppName:     o.App,
		Enabled:     o.Enabled,
		Schedule:    o.Schedule,
		Environment: o.Environment,
		Fields:      o.Fields,
		Definition:  o.Definition,
	}
}

func (o *Override) setConfiguration(c configuration) {
	o.Enabled, o.Schedule, o.Environment, o.Fields, o.Definition = c.Enabled, c.Schedule, c.Environment, c.Fields, c.Definition
}

// overrideColumns are the columns scanOverride reads.
const overrideColumns = `AppName, TaskName, Configuration, coalesce(IsCustom, 0), coalesce(IsDeleted, 0),
	coalesce(CreatedAt, ''), coalesce(UpdatedAt, ''), ConsecutiveFailures, DisabledReason, coalesce(DisabledAt, '')`

func scanOverride(sc scanner) (Override, error) {
	var (
		o                            Override
		config                       string
		created, updated, disabledAt string
	)
	err := sc.Scan(&o.App, &o.Task, &config, &o.Custom, &o.Deleted,
		&created, &updated, &o.Failures.ConsecutiveFailures, &o.Failures.DisabledReason, &disabledAt)
	if err != nil {
		return Override{}, err
	}
	if err := o.DecodeConfiguration([]byte(config)); err != nil {
		return Override{}, err
	}
	if o.CreatedAt, err = parseTime(created); err == nil {
		if o.UpdatedAt, err = parseTime(updated); err == nil {
			o.Failures.DisabledAt, err = parseTime(disabledAt)
		}
	}
	if err != nil {
		return Override{}, fmt.Errorf("override of %s/%s: %w", o.App, o.Task, err)
	}
	return o, nil
}

// Overrides implements Overrides.
func (s *SQLite) Overrides(ctx context.Context) ([]Override, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+overrideColumns+` FROM TaskConfigurations ORDER BY AppName, TaskName`)
	list, err := collect(rows, err, scanOverride)
	if err != nil {
		return nil, fmt.Errorf("listing overrides: %w", err)
	}
	return list, nil
}

// checkOverride validates o; doing is the error prefix.
func checkOverride(doing string, o *Override) error {
	var problem string
	switch {
	case o.App == "" || o.Task == "":
		problem = "no app or task"
	case len(o.Schedule) > 0 && !json.Valid(o.Schedule):
		problem = "schedule is not JSON"
	case len(o.Fields) > 0 && !json.Valid(o.Fields):
		problem = "fields is not JSON"
	case o.Custom && len(o.Definition) == 0:
		problem = "a custom task without a definition"
	case !o.Custom && len(o.Definition) > 0:
		problem = "a definition for a task that is not custom"
	case len(o.Definition) > 0 && !json.Valid(o.Definition):
		problem = "definition is not JSON"
	default:
		return nil
	}
	return fmt.Errorf("%s: %w: %s", doing, ErrInvalid, problem)
}

// putOverride writes o's configuration, creating the row if needed.
func (s *SQLite) putOverride(ctx context.Context, tx *sql.Tx, o *Override) error {
	config, err := o.EncodeConfiguration()
	if err != nil {
		return err
	}
	now := formatTime(s.opts.Now())
	_, err = tx.ExecContext(ctx, `INSERT INTO TaskConfigurations
		(AppName, TaskName, Configuration, IsCustom, IsDeleted, CreatedAt, UpdatedAt) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (AppName, TaskName) DO UPDATE SET Configuration = excluded.Configuration,
			IsCustom = excluded.IsCustom, IsDeleted = excluded.IsDeleted, UpdatedAt = excluded.UpdatedAt`,
		o.App, o.Task, string(config), o.Custom, o.Deleted, now, now)
	return err
}

// PutOverride implements Overrides.
func (s *SQLite) PutOverride(ctx context.Context, o Override) error {
	doing := fmt.Sprintf("putting override of %s/%s", o.App, o.Task)
	if err := CheckOverride(&o); err != nil {
		return err
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.putOverride(ctx, tx, &o)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}

// DeleteOverride implements Overrides.
func (s *SQLite) DeleteOverride(ctx context.Context, app, task string) error {
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return execFound(ctx, tx, `DELETE FROM TaskConfigurations WHERE AppName = ? AND TaskName = ?`, app, task)
	})
	if err != nil {
		return fmt.Errorf("deleting override of %s/%s: %w", app, task, err)
	}
	return nil
}

const getFailuresSQL = `SELECT ConsecutiveFailures, DisabledReason, coalesce(DisabledAt, '')
	FROM TaskConfigurations WHERE AppName = ? AND TaskName = ?`

const clearFailuresSQL = `UPDATE TaskConfigurations SET ConsecutiveFailures = 0 WHERE AppName = ? AND TaskName = ?`

// RecordOutcome implements Outcomes. A success costs a read when the task has
// no failures to clear.
func (s *SQLite) RecordOutcome(ctx context.Context, app, task string, o Outcome) (FailureState, error) {
	doing := fmt.Sprintf("recording outcome of %s/%s", app, task)
	if err := CheckOutcome(app, task, o); err != nil {
		return FailureState{}, err
	}
	var state FailureState
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		state = FailureState{}
		return s.recordOutcome(ctx, tx, app, task, o, &state)
	})
	if err != nil {
		return FailureState{}, fmt.Errorf("%s: %w", doing, err)
	}
	return state, nil
}

// recordOutcome is RecordOutcome inside the write transaction tx; it sets
// *state to the task's failure state.
func (s *SQLite) recordOutcome(ctx context.Context, tx *sql.Tx, app, task string, o Outcome, state *FailureState) error {
	if !o.Failed {
		var disabledAt string
		err := tx.StmtContext(ctx, s.ws.getFailures).QueryRowContext(ctx, app, task).
			Scan(&state.ConsecutiveFailures, &state.DisabledReason, &disabledAt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if state.DisabledAt, err = parseTime(disabledAt); err != nil {
			return err
		}
		if state.ConsecutiveFailures == 0 {
			return nil
		}
		state.ConsecutiveFailures = 0
		_, err = tx.StmtContext(ctx, s.ws.clearFailures).ExecContext(ctx, app, task)
		return err
	}
	ov, err := scanOverride(tx.QueryRowContext(ctx, `SELECT `+overrideColumns+` FROM TaskConfigurations
		WHERE AppName = ? AND TaskName = ?`, app, task))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		ov = Override{App: app, Task: task}
		if err := s.putOverride(ctx, tx, &ov); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	*state = ov.Failures
	if state.Fail(o, s.opts.Now()) {
		disabled := false
		ov.Enabled = &disabled
		if err := s.putOverride(ctx, tx, &ov); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE TaskConfigurations SET ConsecutiveFailures = ?, DisabledReason = ?,
		DisabledAt = ? WHERE AppName = ? AND TaskName = ?`,
		state.ConsecutiveFailures, state.DisabledReason, nullTime(state.DisabledAt), app, task)
	return err
}

// ResetFailures implements Outcomes.
func (s *SQLite) ResetFailures(ctx context.Context, app, task string) error {
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE TaskConfigurations SET ConsecutiveFailures = 0, DisabledReason = '',
			DisabledAt = NULL WHERE AppName = ? AND TaskName = ?`, app, task)
		return err
	})
	if err != nil {
		return fmt.Errorf("resetting failures of %s/%s: %w", app, task, err)
	}
	return nil
}
