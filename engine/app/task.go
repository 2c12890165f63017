package app

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/cronbox/cronbox/runtime"
)

// ScheduleSpec says when a task runs by itself. The zero value means never:
// the task runs only when triggered (by hand, by the API, or after another
// task). At most one of Cron and At is set.
//
// In YAML and JSON a schedule is a mapping {cron, timezone, at}, or a
// string as a shorthand for {cron: ...}; the empty string is the zero
// value.
type ScheduleSpec struct {
	// Cron is a cron expression ("H 1 * * *", "@every 5m"), checked by
	// engine/schedule's parser.
	Cron string `json:"cron,omitempty"`
	// Timezone is the IANA zone Cron is read in ("Europe/Berlin"); ""
	// means UTC.
	Timezone string `json:"timezone,omitempty"`
	// At is a single time to run at, with its zone offset.
	At time.Time `json:"at,omitzero"`
}

// IsZero reports whether s schedules nothing.
func (s ScheduleSpec) IsZero() bool { return s.Cron == "" && s.Timezone == "" && s.At.IsZero() }

// MarshalJSON writes s as a string when it has only a cron expression (the
// form of the original tasks.json; "" for the zero value), otherwise as an
// object.
func (s ScheduleSpec) MarshalJSON() ([]byte, error) {
	if s.Timezone == "" && s.At.IsZero() {
		return json.Marshal(s.Cron)
	}
	type object ScheduleSpec // without this method
	return json.Marshal(object(s))
}

// UnmarshalJSON reads a string or an object {cron, timezone, at}; other
// fields are an error.
func (s *ScheduleSpec) UnmarshalJSON(data []byte) error {
	return decodeJSON(data, s, "decoding schedule")
}

// TaskSpec is a task's definition as written: one entry of
// config/tasks.yaml, or the definition of a custom task. Durations and
// sizes are text ("30m", "64MiB"); the loader checks them and applies the
// defaults, giving a Task. The package documentation lists every field's
// rules and default.
type TaskSpec struct {
	Name          string            `json:"name,omitempty"`
	Description   string            `json:"description,omitempty"`
	Enabled       *bool             `json:"enabled,omitempty"`
	Schedule      *ScheduleSpec     `json:"schedule,omitempty"`
	Module        string            `json:"module,omitempty"`
	Args          []string          `json:"args,omitempty"`
	Termination   *TerminationSpec  `json:"termination,omitempty"`
	Limits        *LimitsSpec       `json:"limits,omitempty"`
	Retry         *RetrySpec        `json:"retry,omitempty"`
	Concurrency   string            `json:"concurrency,omitempty"`
	Misfire       string            `json:"misfire,omitempty"`
	MisfireWindow string            `json:"misfireWindow,omitempty"`
	After         []string          `json:"after,omitempty"`
	Environment   map[string]string `json:"environment,omitempty"`
	Config        json.RawMessage   `json:"config,omitempty"`
	Tags          []string          `json:"tags,omitempty"`
	Retention     *RetentionSpec    `json:"retention,omitempty"`
	// Notify, when given, replaces the app's notify: list for this task;
	// an empty list silences the app's channels.
	Notify *[]ChannelSpec `json:"notify,omitempty"`
	// Webhook, when given, lets POST /hooks/<app>/<task> start the task,
	// signed with the app's secret it names.
	Webhook *WebhookSpec `json:"webhook,omitempty"`
}

// WebhookSpec is a task's webhook block as written.
type WebhookSpec struct {
	// Secret names the app's secret (cronbox secret set) whose value
	// signs the webhook's requests.
	Secret string `json:"secret,omitempty"`
}

// TerminationSpec is a task's termination block as written.
type TerminationSpec struct {
	MaxRuntime    string `json:"maxRuntime,omitempty"`
	MaxFailures   int    `json:"maxFailures,omitempty"`
	KillOnTimeout *bool  `json:"killOnTimeout,omitempty"`
	HardLimit     string `json:"hardLimit,omitempty"`
}

// LimitsSpec is a task's limits block as written.
type LimitsSpec struct {
	Memory string `json:"memory,omitempty"`
	Output string `json:"output,omitempty"`
	Logs   string `json:"logs,omitempty"`
}

// RetrySpec is a task's retry block as written.
type RetrySpec struct {
	Max        int    `json:"max,omitempty"`
	Backoff    string `json:"backoff,omitempty"`
	MaxBackoff string `json:"maxBackoff,omitempty"`
}

// RetentionSpec is a task's retention block as written.
type RetentionSpec struct {
	Keep   *int   `json:"keep,omitempty"`
	MaxAge string `json:"maxAge,omitempty"`
}

// UnmarshalJSON reads a definition strictly, like config/tasks.yaml:
// unknown and repeated fields and values of the wrong kind are errors that
// name the field.
func (s *TaskSpec) UnmarshalJSON(data []byte) error {
	return decodeJSON(data, s, "decoding task definition")
}

// decodeJSON decodes data into v (a pointer) with the strict decoder.
func decodeJSON(data []byte, v any, what string) error {
	n, err := jsonToNode(data)
	if err != nil {
		return &InvalidError{What: what, Problems: []Problem{{Message: err.Error()}}}
	}
	d := newDecoder("")
	d.decode(n, reflect.ValueOf(v).Elem(), "", 0)
	if len(d.problems) > 0 {
		return &InvalidError{What: what, Problems: d.problems}
	}
	return nil
}

// Concurrency is what happens when a task is due while a run of it is
// still going.
type Concurrency string

// The concurrency policies.
const (
	// ConcurrencyForbid skips the new run (the default).
	ConcurrencyForbid Concurrency = "forbid"
	// ConcurrencyAllow starts the new run beside the old one.
	ConcurrencyAllow Concurrency = "allow"
	// ConcurrencyReplace cancels the old run and starts the new one.
	ConcurrencyReplace Concurrency = "replace"
)

// Misfire is what happens to fire times that passed while Cronbox was not
// running or the task was disabled.
type Misfire string

// The misfire policies.
const (
	// MisfireSkip drops missed fire times (the default).
	MisfireSkip Misfire = "skip"
	// MisfireRunOnce runs the task once for all fire times missed within
	// the misfire window.
	MisfireRunOnce Misfire = "run-once"
)

// Retry says how a failed run is retried.
type Retry struct {
	// Max is how many times a failed run is retried; 0 (the default) means
	// never.
	Max int
	// Backoff is the wait before the first retry; each further retry
	// waits twice as long as the one before, up to MaxBackoff. Default 30s.
	Backoff time.Duration
	// MaxBackoff caps the wait. Default 1h, or Backoff when that is longer.
	MaxBackoff time.Duration
}

// Delay returns the wait before retry number attempt (1 for the first):
// Backoff doubled attempt-1 times, at most MaxBackoff.
func (r Retry) Delay(attempt int) time.Duration {
	d := r.Backoff
	for i := 1; i < attempt && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// Retention says how much of a task's run history is kept.
type Retention struct {
	// Keep is how many of the latest runs are kept. Default 1000.
	Keep int
	// MaxAge drops runs older than this; 0 (the default) keeps runs of any
	// age (up to Keep).
	MaxAge time.Duration
}

// InitTask is the name of an app's init task: when the app has one, the
// engine runs it once each time a version of the app is loaded, before
// the version's schedules and routes go live.
const InitTask = "init"

// Task is one task of an app, checked and with its defaults applied, and,
// after Merge, with the app's overrides applied.
//
// A task with Errors must not run: a problem in its definition (or its
// overrides) disables it alone, not the other tasks of the app.
type Task struct {
	// App is the name of the task's app.
	App string
	// Name is the task's name, unique in the app.
	Name        string
	Description string
	// Enabled is false when the task is switched off: it is not scheduled,
	// but may still be run by hand. Default true.
	Enabled bool
	// Schedule says when the task runs by itself; the zero value means
	// only when triggered.
	Schedule ScheduleSpec
	// Module is the absolute path of the task's .wasm module, symlinks
	// resolved. For a module that is not built yet (ErrNotBuilt) it is
	// where the build should write it; when it cannot be resolved at all,
	// "".
	Module string
	// Source is the absolute path of the Go main package beside the module
	// (tasks/cleanup/ for tasks/cleanup.wasm), or "" when there is none.
	Source string
	// Args are passed to the module after its name (argv[1:]).
	Args []string
	// MaxRuntime is how long a run may take before it counts as timed out.
	// Default 1m (runtime.DefaultTimeout).
	MaxRuntime time.Duration
	// MaxFailures disables the task after this many failed runs in a row;
	// 0 (the default) never does.
	MaxFailures int
	// KillOnTimeout stops a run at MaxRuntime. When false, a run past
	// MaxRuntime is reported as overdue but goes on until HardLimit.
	// Default true.
	KillOnTimeout bool
	// HardLimit is when a run is stopped whatever happens: MaxRuntime when
	// KillOnTimeout, else the hardLimit given (default 24h,
	// runtime.MaxTimeout). It equals Limits.Timeout.
	HardLimit time.Duration
	// Limits are the run's sandbox limits, every field set: Memory
	// (default 64 MiB, or the app's memory quota when smaller), Timeout
	// (= HardLimit) and Output (default 1 MiB).
	Limits runtime.Limits
	// LogLimit is how many bytes of log messages a run stores (limits.logs);
	// the lines past it are counted, not stored. Default 1 MiB
	// (DefaultLogLimit), at most MaxLogLimit.
	LogLimit int64
	// Retry says how failed runs are retried.
	Retry Retry
	// Concurrency is the overlap policy. Default forbid.
	Concurrency Concurrency
	// Misfire is the policy for missed fire times. Default skip.
	Misfire Misfire
	// MisfireWindow is how far back a missed fire time still counts for
	// MisfireRunOnce. Default 1h.
	MisfireWindow time.Duration
	// After names tasks of the same app whose successful runs trigger this
	// task.
	After []string
	// Environment is the run's environment variables.
	Environment map[string]string
	// Config is the task's free-form configuration as a JSON object,
	// which the task reads with config_get. Default {}.
	Config json.RawMessage
	// Tags label the task for filtering.
	Tags []string
	// Webhook names the app's secret that signs the requests of the
	// task's webhook, POST /hooks/<app>/<task>; "" (the default): the
	// task has no webhook.
	Webhook string
	// Retention says how much run history is kept.
	Retention Retention
	// Notify lists the task's own notification channels when NotifySet;
	// otherwise its app's (Manifest.Notify) apply.
	Notify    []Channel
	NotifySet bool
	// Custom is true for a task defined by an override rather than in
	// config/tasks.yaml.
	Custom bool
	// Overridden lists the fields an override sets ("enabled", "schedule",
	// "environment"), whether or not their values differ from the
	// definition's.
	Overridden []string
	// Errors are the task's problems; a task with any must not run.
	Errors []Problem
	// Warnings are doubtful but harmless things in the task's definition.
	Warnings []Problem

	// own holds the problems of the task's own definition, before the
	// checks that involve other tasks (after) and before overrides, so
	// Merge can start from them again.
	own problems
	// afterAt is where each After entry was written.
	afterAt []place
	// file is the task's file ("" for a custom task).
	file string
}

// place is where a value was written.
type place struct {
	field string
	pos   position
}

type problems struct{ errs, warns []Problem }

// Key returns "app/task", the task's name across apps.
func (t Task) Key() string { return t.App + "/" + t.Name }

// Valid reports whether the task is free of errors and so may run.
func (t Task) Valid() bool { return len(t.Errors) == 0 }

// afterProblem returns a problem placed at the task's i-th After entry.
func (t Task) afterProblem(i int, format string, args ...any) Problem {
	at := t.afterAt[i]
	return Problem{File: t.file, Line: at.pos.line, Column: at.pos.column, Field: at.field, Message: fmt.Sprintf(format, args...)}
}
