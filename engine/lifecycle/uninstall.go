package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cronbox/cronbox/internal/homedir"
)

// AppDataDeleter removes what a store holds for an app: its KV, history
// and overrides. *store.SQLite is one.
type AppDataDeleter interface {
	DeleteAppData(ctx context.Context, app string) error
}

// UninstallOptions adjust Uninstall.
type UninstallOptions struct {
	// Purge also removes the app's data: what Store holds for it and its
	// files, <home>/data/files/<name>. Default false: they stay, for a
	// later install of the same app.
	Purge bool
	// Store is the home's store; required with Purge.
	Store AppDataDeleter
	// Now dates the backup. Default time.Now.
	Now time.Time

	// hook, in tests, fails the removal at a chosen step.
	hook func(op, path string) error
}

// Uninstalled is what Uninstall did.
type Uninstalled struct {
	App string `json:"app"`
	// Backup is the zip of the app's files made before it went.
	Backup string `json:"backup"`
	// Purged is true when the app's data was removed too.
	Purged bool `json:"purged"`
}

// Uninstall removes the app name from home. It first backs the app up to
// <home>/data/backups/NAME-vVERSION-YYYYMMDDTHHMMSSZ.zip: the whole folder,
// hidden files and symlinks (as links) too, which Install takes back unless
// it holds a symlink. Then it renames the folder out of apps/ in one step and
// deletes it. An app that is not installed is an error wrapping
// ErrNotFound. With Purge, the app's store data and files go too (they
// are not in the backup).
func Uninstall(ctx context.Context, home, name string, opts UninstallOptions) (*Uninstalled, error) {
	dir, err := existing(home, name)
	if err != nil {
		return nil, fmt.Errorf("uninstalling app %s: %w", name, err)
	}
	if opts.Purge && opts.Store == nil {
		return nil, fmt.Errorf("uninstalling app %s: purging needs the store", name)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	res := &Uninstalled{App: name}
	if res.Backup, err = backup(home, name, now); err != nil {
		return nil, fmt.Errorf("uninstalling app %s: backing it up: %w", name, err)
	}
	st, err := newStage(home, "uninstall")
	if err != nil {
		return nil, fmt.Errorf("uninstalling app %s: %w", name, err)
	}
	st.hook = opts.hook
	defer st.cleanup()
	if err := st.check("remove", dir); err != nil {
		return nil, fmt.Errorf("uninstalling app %s: %w", name, err)
	}
	if err := os.Rename(dir, filepath.Join(st.dir, name)); err != nil {
		return nil, fmt.Errorf("uninstalling app %s: %w", name, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("uninstalling app %s: %w", name, err)
	}
	if opts.Purge {
		if err := opts.Store.DeleteAppData(ctx, name); err != nil {
			return res, fmt.Errorf("uninstalling app %s: the app is removed, but purging its data failed: %w", name, err)
		}
		if err := os.RemoveAll(homedir.Home(home).Files(name)); err != nil {
			return res, fmt.Errorf("uninstalling app %s: the app is removed, but purging its files failed: %w", name, err)
		}
		res.Purged = true
	}
	return res, nil
}
