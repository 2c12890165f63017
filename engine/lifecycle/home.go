package lifecycle

import (
	"context"
	"fmt"
	"io"
)

// Home is the apps of one Cronbox home, with what `cronbox app` does to
// them as methods of one value: what a server offers over its API.
type Home struct {
	// Dir is the home: apps are in Dir/apps. Required.
	Dir string
	// Store is the home's store, for uninstalls that purge an app's data.
	// Default nil: such an uninstall fails.
	Store AppDataDeleter
	// CacheDir is the compiled-code cache validation compiles modules
	// with. Default "": none, every validation compiles afresh.
	CacheDir string
}

// SetEnabled switches the app name on or off, as SetEnabled does.
func (h Home) SetEnabled(_ context.Context, name string, enabled bool) error {
	return SetEnabled(h.Dir, name, enabled)
}

// Install installs the app in the zip archive r of size bytes, replacing
// an installed one only with upgrade, as InstallArchive does.
func (h Home) Install(ctx context.Context, r io.ReaderAt, size int64, upgrade bool) (*Installed, error) {
	return InstallArchive(ctx, h.Dir, r, size, InstallOptions{Upgrade: upgrade, Validate: ValidateOptions{CacheDir: h.CacheDir}})
}

// Export writes the app name to w as a zip archive, as Export does.
func (h Home) Export(_ context.Context, name string, w io.Writer) (*ArchiveManifest, error) {
	return Export(h.Dir, name, w, Limits{})
}

// Uninstall removes the app name after a backup, and with purge its data,
// as Uninstall does.
func (h Home) Uninstall(ctx context.Context, name string, purge bool) (*Uninstalled, error) {
	return Uninstall(ctx, h.Dir, name, UninstallOptions{Purge: purge, Store: h.Store})
}

// Validate checks the installed app name, as Validate does.
func (h Home) Validate(ctx context.Context, name string) (*Report, error) {
	dir, err := Dir(h.Dir, name)
	if err != nil {
		return nil, fmt.Errorf("validating app %s: %w", name, ErrNotFound)
	}
	return Validate(ctx, dir, ValidateOptions{CacheDir: h.CacheDir})
}
