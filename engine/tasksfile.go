package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// ExportTasksFile returns the stored overrides as a tasks file (those
// that change nothing left out), stamped with the engine's clock.
func (e *Engine) ExportTasksFile(ctx context.Context) ([]byte, error) {
	stored, err := e.cfg.Store.Overrides.Overrides(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting tasks file: %w", err)
	}
	ovs := make([]app.Override, 0, len(stored))
	for _, o := range stored {
		ao, err := AppOverride(o)
		if err != nil {
			return nil, fmt.Errorf("exporting tasks file: %w", err)
		}
		ovs = append(ovs, ao)
	}
	return app.ExportTasksFile(ovs, e.cfg.Clock.Now().UTC())
}

// ImportTasksFile stores the overrides of a tasks file and applies them:
// all of them, or, when one is wrong for its app as loaded, none (an
// error wrapping ErrInvalidOverride, or the file's *app.InvalidError).
// Stored overrides of tasks the file does not name are kept. It returns
// how many it stored and the warnings of the check.
func (e *Engine) ImportTasksFile(ctx context.Context, data []byte) (int, []error, error) {
	ovs, err := app.ImportTasksFile(data)
	if err != nil {
		return 0, nil, err
	}
	byApp := map[string][]app.Override{}
	for _, o := range ovs {
		byApp[o.App] = append(byApp[o.App], o)
	}
	names := make([]string, 0, len(byApp))
	for name := range byApp {
		names = append(names, name)
	}
	slices.Sort(names)
	var problems, warnings []error
	for _, name := range names {
		e.mu.Lock()
		var a *app.App
		if as := e.apps[name]; as != nil {
			a = as.app
		}
		e.mu.Unlock()
		if a == nil {
			problems = append(problems, fmt.Errorf("app %s is not installed", name))
			continue
		}
		errs, warns := app.CheckOverrides(a, byApp[name])
		for _, p := range errs {
			problems = append(problems, fmt.Errorf("app %s: %w", name, p))
		}
		for _, p := range warns {
			warnings = append(warnings, fmt.Errorf("app %s: %w", name, p))
		}
	}
	if len(problems) > 0 {
		return 0, warnings, fmt.Errorf("importing tasks file: %w: nothing imported:\n%w", ErrInvalidOverride, errors.Join(problems...))
	}
	for _, o := range ovs {
		so, err := StoreOverride(o)
		if err != nil {
			return 0, warnings, err
		}
		if err := e.cfg.Store.Overrides.PutOverride(ctx, so); err != nil {
			return 0, warnings, fmt.Errorf("importing tasks file: %w", err)
		}
	}
	for _, name := range names {
		if err := e.reloadApp(ctx, name); err != nil {
			return len(ovs), warnings, err
		}
	}
	return len(ovs), warnings, nil
}

// StoreOverride is o as the store keeps it: AppOverride's inverse.
func StoreOverride(o app.Override) (store.Override, error) {
	so := store.Override{App: o.App, Task: o.Task, Enabled: o.Enabled, Environment: o.Environment, Deleted: o.Deleted}
	if o.Schedule != nil {
		b, err := json.Marshal(o.Schedule)
		if err != nil {
			return so, err
		}
		so.Schedule = b
	}
	if !o.Fields.IsZero() {
		b, err := json.Marshal(o.Fields)
		if err != nil {
			return so, err
		}
		so.Fields = b
	}
	if o.Custom != nil {
		b, err := json.Marshal(o.Custom)
		if err != nil {
			return so, err
		}
		so.Custom, so.Definition = true, b
	}
	return so, nil
}
