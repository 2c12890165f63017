package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/bytesize"
)

// The checks and encodings below are every implementation's: a store
// validates its arguments and encodes what it keeps as JSON through them,
// so that SQLite and PostgreSQL refuse and record the same things.

// Final reports whether FinishRun accepts s: a final status of a run that
// started.
func (s Status) Final() bool { return s.ended() }

// Scheduled reports whether runs of t are fired for a scheduled time,
// which is then recorded at most once per task.
func (t Trigger) Scheduled() bool { return t.scheduled() }

// CheckStart validates a run for StartRun and sets its Status, EndTime
// and Reason as StartRun records them. The error wraps ErrInvalid.
func CheckStart(r *Run) error {
	if err := checkNewRun(fmt.Sprintf("starting run of %s/%s", r.App, r.Task), r); err != nil {
		return err
	}
	r.Status, r.EndTime, r.Reason = StatusRunning, time.Time{}, ""
	return nil
}

// CheckSkipped validates a run for RecordSkipped and sets its Status,
// EndTime and Duration as RecordSkipped records them: it ends as it
// starts. The error wraps ErrInvalid.
func CheckSkipped(r *Run) error {
	doing := fmt.Sprintf("recording skipped run of %s/%s", r.App, r.Task)
	if err := checkNewRun(doing, r); err != nil {
		return err
	}
	if r.Reason == "" {
		return fmt.Errorf("%s: %w: no reason", doing, ErrInvalid)
	}
	r.Status, r.EndTime, r.Duration = StatusSkipped, r.StartTime, 0
	return nil
}

// CheckRunEnd validates how run id ended, for FinishRun. The error wraps
// ErrInvalid.
func CheckRunEnd(id int64, end *RunEnd) error {
	switch {
	case !end.Status.ended():
		return fmt.Errorf("finishing run %d: %w: status %q is not a final status", id, ErrInvalid, end.Status)
	case end.EndTime.IsZero():
		return fmt.Errorf("finishing run %d: %w: no end time", id, ErrInvalid)
	case len(end.Result) > 0 && !json.Valid(end.Result):
		return fmt.Errorf("finishing run %d: %w: result is not JSON", id, ErrInvalid)
	case end.LogsDropped < 0:
		return fmt.Errorf("finishing run %d: %w: negative logs dropped", id, ErrInvalid)
	}
	return nil
}

// ClampLimit returns a page size within 1 to MaxLimit, DefaultLimit for 0
// or less, as RunFilter.Limit documents.
func ClampLimit(limit int) int { return clampLimit(limit) }

// CheckPrune validates the arguments of PruneRuns; due is false when
// there is no limit, and nothing to do.
func CheckPrune(app, task string, keepLast int, maxAge time.Duration) (due bool, err error) {
	doing := fmt.Sprintf("pruning runs of %s/%s", app, task)
	switch {
	case app == "" || task == "":
		return false, fmt.Errorf("%s: %w: no app or task", doing, ErrInvalid)
	case keepLast < 0 || maxAge < 0:
		return false, fmt.Errorf("%s: %w: negative limit", doing, ErrInvalid)
	}
	return keepLast > 0 || maxAge > 0, nil
}

// CheckPruneHistory validates the arguments of PruneHistory.
func CheckPruneHistory(app string, quota int64) error {
	doing := fmt.Sprintf("pruning the run history of %s", app)
	switch {
	case app == "":
		return fmt.Errorf("%s: %w: no app", doing, ErrInvalid)
	case quota < 0:
		return fmt.Errorf("%s: %w: negative quota", doing, ErrInvalid)
	}
	return nil
}

// CheckOverride validates an override for PutOverride. The error wraps
// ErrInvalid.
func CheckOverride(o *Override) error {
	return checkOverride(fmt.Sprintf("putting override of %s/%s", o.App, o.Task), o)
}

// EncodeConfiguration returns the JSON an override's configuration is
// stored as: its name, app, enabled, schedule, environment, fields and
// definition.
func (o *Override) EncodeConfiguration() ([]byte, error) {
	b, err := json.Marshal(o.configuration())
	if err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	return b, nil
}

// DecodeConfiguration sets o's configuration from its stored JSON.
func (o *Override) DecodeConfiguration(b []byte) error {
	var c configuration
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("override of %s/%s: reading configuration: %w", o.App, o.Task, err)
	}
	o.setConfiguration(c)
	return nil
}

// CheckOutcome validates the arguments of RecordOutcome.
func CheckOutcome(app, task string, o Outcome) error {
	doing := fmt.Sprintf("recording outcome of %s/%s", app, task)
	switch {
	case app == "" || task == "":
		return fmt.Errorf("%s: %w: no app or task", doing, ErrInvalid)
	case o.MaxFailures < 0:
		return fmt.Errorf("%s: %w: negative MaxFailures %d", doing, ErrInvalid, o.MaxFailures)
	}
	return nil
}

// Fail counts one more failure in state, and disables the task (setting
// DisabledReason and DisabledAt to now) when it reaches o.MaxFailures and
// is not disabled yet. It reports whether it disabled it.
func (state *FailureState) Fail(o Outcome, now time.Time) (disabled bool) {
	state.ConsecutiveFailures++
	if o.MaxFailures > 0 && state.ConsecutiveFailures >= o.MaxFailures && state.DisabledReason == "" {
		state.DisabledReason = o.Reason
		if state.DisabledReason == "" {
			state.DisabledReason = fmt.Sprintf("disabled after %d consecutive failures", state.ConsecutiveFailures)
		}
		state.DisabledAt = now
		return true
	}
	return false
}

// CheckToken validates a token for CreateToken and returns its apps as
// stored: a JSON list, "[]" for every app.
func CheckToken(t *Token) (apps []byte, err error) {
	doing := fmt.Sprintf("creating token %q", t.Name)
	switch {
	case t.Name == "":
		return nil, fmt.Errorf("creating token: %w: no name", ErrInvalid)
	case t.Role == "":
		return nil, fmt.Errorf("%s: %w: no role", doing, ErrInvalid)
	case t.Hash == TokenHash{}:
		return nil, fmt.Errorf("%s: %w: no hash", doing, ErrInvalid)
	}
	apps = []byte("[]")
	if len(t.Apps) > 0 {
		if apps, err = json.Marshal(t.Apps); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
	}
	return apps, nil
}

// DecodeTokenApps sets t.Apps from their stored JSON list.
func DecodeTokenApps(t *Token, apps []byte) error {
	if err := json.Unmarshal(apps, &t.Apps); err != nil {
		return fmt.Errorf("token %d: reading apps: %w", t.ID, err)
	}
	if len(t.Apps) == 0 {
		t.Apps = nil
	}
	return nil
}

// CheckSession validates a session for PutSession.
func CheckSession(sess *Session) error {
	const doing = "recording session"
	switch {
	case sess.IDHash == SessionHash{}:
		return fmt.Errorf("%s: %w: no ID hash", doing, ErrInvalid)
	case sess.TokenHash == TokenHash{}:
		return fmt.Errorf("%s: %w: no token hash", doing, ErrInvalid)
	case sess.CSRF == "":
		return fmt.Errorf("%s: %w: no CSRF token", doing, ErrInvalid)
	case sess.ExpiresAt.IsZero():
		return fmt.Errorf("%s: %w: no expiry", doing, ErrInvalid)
	}
	return nil
}

// CheckEvent validates an event for AppendEvent.
func CheckEvent(e *Event) error {
	switch {
	case e.Type == "":
		return fmt.Errorf("appending event: %w: no type", ErrInvalid)
	case len(e.Payload) > 0 && !json.Valid(e.Payload):
		return fmt.Errorf("appending event %s: %w: payload is not JSON", e.Type, ErrInvalid)
	}
	return nil
}

// CheckEvents validates the arguments of AppendEvents: at least one
// event, each valid for AppendEvent.
func CheckEvents(events []Event) error {
	if len(events) == 0 {
		return fmt.Errorf("appending events: %w: none", ErrInvalid)
	}
	for i := range events {
		if err := CheckEvent(&events[i]); err != nil {
			return err
		}
	}
	return nil
}

// CheckKVKey reports a key that the host functions would never pass to
// Set: empty, with a NUL byte, or not valid UTF-8.
func CheckKVKey(key string) error { return checkKey(key) }

// KVPrefixEnd returns the least string greater than every string that
// starts with prefix; ok is false when there is none (an empty prefix, or
// one of 0xff bytes only). A key-value List reads the keys from its start
// up to (without) it.
func KVPrefixEnd(prefix string) (end string, ok bool) { return prefixEnd(prefix) }

// KVListFrom returns the least key a List of prefix after after may
// return.
func KVListFrom(prefix, after string) string {
	if after >= prefix {
		return after + "\x00"
	}
	return prefix
}

// QuotaError returns the error of a key-value write that would leave the
// app's store holding wouldHold bytes, past its quota; it wraps
// hostapi.ErrQuota.
func QuotaError(wouldHold, quota int64) error {
	return fmt.Errorf("%w: the app's key-value store would hold %s, more than its quota of %s (quotas.kv in app.yaml)",
		hostapi.ErrQuota, bytesize.Format(wouldHold), bytesize.Format(quota))
}

// InterruptedMessage is the error MarkInterrupted gives the runs it ends
// that have none.
const InterruptedMessage = "interrupted: Cronbox stopped while the run was in progress"

// CheckPruneDue validates the limits of PruneDue, as CheckPrune does
// each, and returns the indexes of those with a bound.
func CheckPruneDue(limits []PruneLimit) ([]int, error) {
	var bounded []int
	for i, l := range limits {
		due, err := CheckPrune(l.App, l.Task, l.Keep, l.MaxAge)
		if err != nil {
			return nil, err
		}
		if due {
			bounded = append(bounded, i)
		}
	}
	return bounded, nil
}
