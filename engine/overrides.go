package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// TaskUpdate is a change to a task's override; see UpdateTask.
type TaskUpdate struct {
	// Enabled, if set, switches the task on or off; enabling clears its
	// failures, as SetEnabled does.
	Enabled *bool
	// Schedule, if set, replaces the task's schedule: a schedule as
	// tasks.yaml spells it, as JSON ("" runs the task only when
	// triggered). ResetSchedule drops the override's schedule instead, so
	// that the definition's applies again.
	Schedule      json.RawMessage
	ResetSchedule bool
	// Environment, if not nil, replaces the override's variables (merged
	// over the definition's). ResetEnvironment drops them instead.
	Environment      map[string]string
	ResetEnvironment bool
	// Fields sets or resets other fields of the override, by their names
	// in app.OverrideFieldNames: a value as tasks.yaml spells the field
	// (JSON) replaces it, JSON null drops it so that the definition's
	// applies again. Fields not named are left as they are.
	Fields map[string]json.RawMessage
}

// UpdateTask changes the override of the task app/task, checks it against
// the app (an error wrapping ErrInvalidOverride names the problems), stores
// it and applies it.
func (e *Engine) UpdateTask(ctx context.Context, appName, task string, u TaskUpdate) error {
	e.overrideMu.Lock()
	defer e.overrideMu.Unlock()
	e.mu.Lock()
	_, ok := e.tasks[appName+"/"+task]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("updating %s/%s: task %w", appName, task, ErrNotFound)
	}
	o, err := e.storedOverride(ctx, appName, task)
	if err != nil {
		return fmt.Errorf("updating %s/%s: %w", appName, task, err)
	}
	if u.Enabled != nil {
		v := *u.Enabled
		o.Enabled = &v
	}
	switch {
	case u.ResetSchedule:
		o.Schedule = nil
	case u.Schedule != nil:
		o.Schedule = u.Schedule
	}
	switch {
	case u.ResetEnvironment:
		o.Environment = nil
	case u.Environment != nil:
		o.Environment = u.Environment
	}
	if len(u.Fields) > 0 {
		if o.Fields, err = updateFields(o.Fields, u.Fields); err != nil {
			return fmt.Errorf("updating %s/%s: %w: %w", appName, task, ErrInvalidOverride, err)
		}
	}
	if err := e.storeOverride(ctx, o); err != nil {
		return err
	}
	// Failures are cleared before the reload, which reads them: the
	// engine then loaded the app with the overrides as they are now, and
	// the overrides watch has nothing left to apply.
	if u.Enabled != nil && *u.Enabled {
		if err := e.cfg.Store.Outcomes.ResetFailures(ctx, appName, task); err != nil {
			return fmt.Errorf("updating %s/%s: clearing failures: %w", appName, task, err)
		}
	}
	if err := e.reloadApp(ctx, appName); err != nil {
		return fmt.Errorf("updating %s/%s: %w", appName, task, err)
	}
	attrs := []any{slog.String("app", appName), slog.String("task", task)}
	if u.Enabled != nil {
		attrs = append(attrs, slog.Bool("enabled", *u.Enabled))
	}
	e.log.InfoContext(ctx, "task updated", attrs...)
	e.publish(Event{Type: EventTaskChanged, App: appName, Task: task, Actor: ActorFrom(ctx)})
	return nil
}

// CreateTask adds a custom task, defined by spec, to the app appName. It
// returns an error wrapping ErrNotFound for an unknown app, ErrExists when
// the app has a task of that name (or its tasks.yaml defines one, deleted
// or not), and ErrInvalidOverride naming the problems of a definition the
// app rejects.
func (e *Engine) CreateTask(ctx context.Context, appName string, spec app.TaskSpec) error {
	if err := app.ValidName(spec.Name); err != nil {
		return fmt.Errorf("creating task in %s: %w: %w", appName, ErrInvalidOverride, err)
	}
	e.overrideMu.Lock()
	defer e.overrideMu.Unlock()
	e.mu.Lock()
	as := e.apps[appName]
	_, taken := e.tasks[appName+"/"+spec.Name]
	var inFile bool
	loaded := as != nil && as.app != nil && !as.gone
	if loaded {
		_, inFile = as.app.Task(spec.Name)
	}
	e.mu.Unlock()
	switch {
	case !loaded:
		return fmt.Errorf("creating task %s/%s: app %w", appName, spec.Name, ErrNotFound)
	case taken || inFile:
		return fmt.Errorf("creating task %s/%s: %w", appName, spec.Name, ErrExists)
	}
	def, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("creating task %s/%s: %w", appName, spec.Name, err)
	}
	if err := e.PutOverride(ctx, store.Override{App: appName, Task: spec.Name, Custom: true, Definition: def}); err != nil {
		return err
	}
	e.log.InfoContext(ctx, "custom task created", slog.String("app", appName), slog.String("task", spec.Name))
	e.publish(Event{Type: EventTaskChanged, App: appName, Task: spec.Name, Actor: ActorFrom(ctx)})
	return nil
}

// DeleteTask removes the task app/task: a custom task's override is
// deleted, a task of tasks.yaml gets an override that deletes it. Its runs
// going on finish.
func (e *Engine) DeleteTask(ctx context.Context, appName, task string) error {
	e.overrideMu.Lock()
	defer e.overrideMu.Unlock()
	e.mu.Lock()
	ts, ok := e.tasks[appName+"/"+task]
	custom := ok && ts.task.Custom
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("deleting %s/%s: task %w", appName, task, ErrNotFound)
	}
	if custom {
		if err := e.cfg.Store.Overrides.DeleteOverride(ctx, appName, task); err != nil {
			return fmt.Errorf("deleting %s/%s: %w", appName, task, err)
		}
	} else {
		o, err := e.storedOverride(ctx, appName, task)
		if err != nil {
			return fmt.Errorf("deleting %s/%s: %w", appName, task, err)
		}
		o.Deleted = true
		if err := e.cfg.Store.Overrides.PutOverride(ctx, o); err != nil {
			return fmt.Errorf("deleting %s/%s: %w", appName, task, err)
		}
	}
	if err := e.reloadApp(ctx, appName); err != nil {
		return fmt.Errorf("deleting %s/%s: %w", appName, task, err)
	}
	e.log.InfoContext(ctx, "task deleted", slog.String("app", appName), slog.String("task", task))
	e.publish(Event{Type: EventTaskChanged, App: appName, Task: task, Message: "deleted", Actor: ActorFrom(ctx)})
	return nil
}

// SetEnabled switches a task on or off through its override in the store.
// Enabling a task clears its failure count and the reason it was disabled.
func (e *Engine) SetEnabled(ctx context.Context, appName, task string, enabled bool) error {
	return e.UpdateTask(ctx, appName, task, TaskUpdate{Enabled: &enabled})
}

// PutOverride checks an override against its app, stores it (its failure
// state is left as it is) and applies it at once. An override that Merge
// would reject returns an error wrapping ErrInvalidOverride that names the
// problems.
func (e *Engine) PutOverride(ctx context.Context, o store.Override) error {
	if err := e.storeOverride(ctx, o); err != nil {
		return err
	}
	return e.reloadApp(ctx, o.App)
}

// storeOverride checks an override against its app and stores it, as
// PutOverride does, without applying it.
func (e *Engine) storeOverride(ctx context.Context, o store.Override) error {
	ao, err := AppOverride(o)
	if err != nil {
		return fmt.Errorf("putting override of %s/%s: %w: %w", o.App, o.Task, ErrInvalidOverride, err)
	}
	var a *app.App // as loaded: a reload replaces it, and never changes it
	e.mu.Lock()
	if as := e.apps[o.App]; as != nil {
		a = as.app
	}
	e.mu.Unlock()
	if a == nil {
		return fmt.Errorf("putting override of %s/%s: app %w", o.App, o.Task, ErrNotFound)
	}
	if errs, _ := app.CheckOverrides(a, []app.Override{ao}); len(errs) > 0 {
		return fmt.Errorf("putting override of %s/%s: %w: %w", o.App, o.Task, ErrInvalidOverride, errors.Join(problemsAsErrors(errs)...))
	}
	if err := e.cfg.Store.Overrides.PutOverride(ctx, o); err != nil {
		return fmt.Errorf("putting override of %s/%s: %w", o.App, o.Task, err)
	}
	return nil
}

func problemsAsErrors(ps []app.Problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// updateFields returns the stored fields of an override (a JSON object)
// with set applied: each name of app.OverrideFieldNames is set to its value,
// or dropped for JSON null. "misfire" is a policy, or {"misfire",
// "misfireWindow"}, the two keys tasks.yaml has for it. Values are not checked here: the
// override is checked as a whole, by app.CheckOverrides.
func updateFields(stored json.RawMessage, set map[string]json.RawMessage) (json.RawMessage, error) {
	m := make(map[string]json.RawMessage)
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &m); err != nil {
			return nil, fmt.Errorf("reading stored fields: %w", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		v := set[name]
		if !slices.Contains(app.OverrideFieldNames, name) {
			return nil, fmt.Errorf("%q is not a field an override sets; want one of %s", name, strings.Join(app.OverrideFieldNames, ", "))
		}
		null := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		if name != "misfire" {
			if null {
				delete(m, name)
			} else {
				m[name] = v
			}
			continue
		}
		delete(m, "misfire")
		delete(m, "misfireWindow")
		if null {
			continue
		}
		var mf map[string]json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
			mf = map[string]json.RawMessage{"misfire": v}
		} else if err := json.Unmarshal(v, &mf); err != nil {
			return nil, fmt.Errorf("misfire: want a policy or {\"misfire\", \"misfireWindow\"}: %w", err)
		}
		for k, w := range mf {
			m[k] = w // unknown keys are left to the strict check
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// storedOverride returns the task's override, or a new one.
func (e *Engine) storedOverride(ctx context.Context, appName, task string) (store.Override, error) {
	all, err := e.cfg.Store.Overrides.Overrides(ctx)
	if err != nil {
		return store.Override{}, fmt.Errorf("reading overrides: %w", err)
	}
	for _, o := range all {
		if o.App == appName && o.Task == task {
			return o, nil
		}
	}
	return store.Override{App: appName, Task: task}, nil
}

// SetEnabledMany switches the tasks keys ("app/task") on or off, as
// SetEnabled does one, with one reload of each app rather than one per
// task. It returns the keys it changed, in order: those already as asked
// and those of no task are left out. On an error the tasks changed
// before it stay changed.
func (e *Engine) SetEnabledMany(ctx context.Context, keys []string, enabled bool) ([]string, error) {
	e.overrideMu.Lock()
	defer e.overrideMu.Unlock()
	all, err := e.cfg.Store.Overrides.Overrides(ctx)
	if err != nil {
		return nil, fmt.Errorf("switching tasks: reading overrides: %w", err)
	}
	stored := make(map[string]store.Override, len(all))
	for _, o := range all {
		stored[o.App+"/"+o.Task] = o
	}
	var changed, apps []string
	for _, key := range keys {
		e.mu.Lock()
		ts, ok := e.tasks[key]
		same := ok && ts.task.Enabled == enabled
		e.mu.Unlock()
		if !ok || same {
			continue
		}
		o, ok := stored[key]
		if !ok {
			o = store.Override{App: ts.app, Task: ts.name}
		}
		o.Enabled = &enabled
		// Switching a task on or off is no change the app can refuse:
		// nothing to check.
		if err := e.cfg.Store.Overrides.PutOverride(ctx, o); err != nil {
			return changed, fmt.Errorf("switching %s: %w", key, err)
		}
		if enabled {
			if err := e.cfg.Store.Outcomes.ResetFailures(ctx, ts.app, ts.name); err != nil {
				return changed, fmt.Errorf("switching %s: clearing failures: %w", key, err)
			}
		}
		changed = append(changed, key)
		if !slices.Contains(apps, ts.app) {
			apps = append(apps, ts.app)
		}
	}
	for _, a := range apps {
		if err := e.reloadApp(ctx, a); err != nil {
			return changed, fmt.Errorf("switching tasks of %s: %w", a, err)
		}
	}
	for _, key := range changed {
		a, t, _ := strings.Cut(key, "/")
		e.publish(Event{Type: EventTaskChanged, App: a, Task: t, Actor: ActorFrom(ctx)})
	}
	e.log.InfoContext(ctx, "tasks switched", slog.Int("tasks", len(changed)), slog.Bool("enabled", enabled))
	return changed, nil
}
