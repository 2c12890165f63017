package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cronbox/cronbox/engine/app"
)

// ReloadApp reads the app name again with the store's overrides, e.g.
// after its app.yaml was rewritten.
func (e *Engine) ReloadApp(ctx context.Context, name string) error {
	if err := app.ValidName(name); err != nil {
		return fmt.Errorf("reloading app %s: %w", name, ErrNotFound)
	}
	return e.reloadApp(ctx, name)
}

// Reload reads every app under <home>/apps again and applies the store's
// overrides. An app that fails to load keeps its last good version, and its
// errors are recorded with SetLoadErrors; an app whose folder is gone stops
// firing (its running runs finish).
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	l, err := e.newLoad(ctx)
	if err != nil {
		return fmt.Errorf("reloading apps: %w", err)
	}
	names, err := appNames(e.appsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reloading apps: %w", err)
	}
	seen := map[string]bool{}
	for _, name := range names {
		seen[name] = true
	}
	e.loadApps(ctx, names, l)
	e.mu.Lock()
	var gone []string
	for name := range e.apps {
		if !seen[name] && !e.apps[name].gone {
			gone = append(gone, name)
		}
	}
	e.mu.Unlock()
	for _, name := range gone {
		e.removeApp(ctx, name)
	}
	e.unloadUnused(ctx)
	return nil
}

// reloadApp loads one app again with the store's current overrides.
func (e *Engine) reloadApp(ctx context.Context, name string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	// An app whose folder is gone is removed, as Reload removes it: it
	// stops firing and its running runs finish.
	if _, err := os.Stat(filepath.Join(e.appsDir(), name)); errors.Is(err, fs.ErrNotExist) {
		e.removeApp(ctx, name)
		e.unloadUnused(ctx)
		return nil
	}
	l, err := e.newLoad(ctx)
	if err != nil {
		return fmt.Errorf("reloading app %s: %w", name, err)
	}
	e.loadApp(ctx, name, l)
	e.unloadUnused(ctx)
	return nil
}

// reloadApps loads the apps named in changed again, and stops those in gone
// whose folders are gone.
func (e *Engine) reloadApps(ctx context.Context, changed, gone []string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	l, err := e.newLoad(ctx)
	if err != nil {
		return fmt.Errorf("reloading apps: %w", err)
	}
	e.loadApps(ctx, changed, l)
	for _, name := range gone {
		e.mu.Lock()
		as, ok := e.apps[name]
		live := ok && !as.gone
		e.mu.Unlock()
		if live {
			e.removeApp(ctx, name)
		}
	}
	e.unloadUnused(ctx)
	return nil
}
