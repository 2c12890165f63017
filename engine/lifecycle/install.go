package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/homedir"
)

// InstallOptions adjust Install.
type InstallOptions struct {
	// Upgrade allows replacing an installed app of the same name; its
	// files are first exported to <home>/data/backups. Default false: an
	// installed app is an error wrapping ErrExists.
	Upgrade bool
	// Strict refuses an app with warnings too. Default false.
	Strict bool
	// Limits bound the archive or folder. Zero fields take DefaultLimits'.
	Limits Limits
	// Validate are the options of the check before the app goes in.
	Validate ValidateOptions
	// Now dates the backup. Default time.Now.
	Now time.Time
	// NoBackup leaves out the backup of the version an upgrade replaces,
	// for a caller that keeps every version elsewhere (a cluster's
	// store). Default false.
	NoBackup bool

	// hook, in tests, fails the install at a chosen step.
	hook func(op, path string) error
}

// Installed is what Install did.
type Installed struct {
	// App is the app's name; Dir its folder under apps/.
	App string `json:"app"`
	Dir string `json:"dir"`
	// Version is app.yaml's version.
	Version string `json:"version,omitempty"`
	// Files are the installed files with their hashes.
	Files []FileHash `json:"files"`
	// Verified is true when the archive's manifest was checked.
	Verified bool `json:"verified"`
	// Replaced is true when an installed version was replaced, and Backup
	// the export of that version.
	Replaced bool   `json:"replaced"`
	Backup   string `json:"backup,omitempty"`
	// Report is the check the app passed, with its warnings.
	Report *Report `json:"report"`
}

// Install installs the app in src, a zip archive (as Export writes) or an
// app folder, into home's apps folder.
//
// Nothing in apps/ changes until the app has been fully written to a work
// folder in <home>/data/staging, checked against the archive's manifest
// (when it has one) and against Validate; then it is renamed into apps/ in
// one step. A hostile or broken archive (see OpenArchive) is refused with
// an error wrapping ErrArchive, an app with errors with a
// *ValidationError; either way nothing is left behind. With Upgrade an
// installed app of the same name is exported to <home>/data/backups and
// then swapped for the new one; without it the install fails with
// ErrExists.
func Install(ctx context.Context, home, src string, opts InstallOptions) (*Installed, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("installing %s: %w", src, err)
	}
	var res *Installed
	if fi.IsDir() {
		res, err = installDir(ctx, home, src, opts)
	} else {
		var f *os.File
		f, err = os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("installing %s: %w", src, err)
		}
		defer f.Close()
		res, err = InstallArchive(ctx, home, f, fi.Size(), opts)
	}
	if err != nil {
		return nil, fmt.Errorf("installing %s: %w", src, err)
	}
	return res, nil
}

// InstallArchive installs the app in the zip archive r of size bytes, as
// Install does.
func InstallArchive(ctx context.Context, home string, r io.ReaderAt, size int64, opts InstallOptions) (*Installed, error) {
	a, err := OpenArchive(r, size, opts.Limits)
	if err != nil {
		return nil, err
	}
	if err := precheck(home, a.App, opts); err != nil {
		return nil, err
	}
	res, err := installStaged(ctx, home, a.App, opts, func(staged string, st *stage) ([]FileHash, error) {
		return a.extract(staged, st.check)
	}, a.Manifest != nil)
	if err != nil {
		return nil, err
	}
	if len(a.LeftOut) > 0 {
		res.Report.Warnings = append(res.Report.Warnings, leftOut(a.LeftOut))
	}
	return res, nil
}

// leftOut is the warning that the hidden files paths were not installed.
func leftOut(paths []string) Finding {
	const shown = 5
	list := strings.Join(paths[:min(len(paths), shown)], ", ")
	if len(paths) > shown {
		list += fmt.Sprintf(" and %d more", len(paths)-shown)
	}
	return Finding{Message: fmt.Sprintf("hidden files are not part of an app and were not installed: %s", list)}
}

// installDir installs a copy of the app folder src.
func installDir(ctx context.Context, home, src string, opts InstallOptions) (*Installed, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(abs)
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("the folder's name is the app's: %w", err)
	}
	if err := precheck(home, name, opts); err != nil {
		return nil, err
	}
	if target, err := filepath.Abs(homedir.Home(home).App(name)); err == nil {
		if same, _ := sameFile(abs, target); same {
			return nil, fmt.Errorf("%s is the installed app itself", src)
		}
	}
	lim := opts.Limits.withDefaults()
	return installStaged(ctx, home, name, opts, func(staged string, st *stage) ([]FileHash, error) {
		return copyApp(abs, staged, lim, st.check)
	}, false)
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// precheck fails early, before any work, when the app is installed and
// this is no upgrade.
func precheck(home, name string, opts InstallOptions) error {
	dir, err := Dir(home, name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil && !opts.Upgrade {
		return fmt.Errorf("%w: %s", ErrExists, name) // each front end names its own way to upgrade
	}
	return nil
}

// installStaged fills a work folder with write, checks it and renames it
// into apps/.
func installStaged(ctx context.Context, home, name string, opts InstallOptions, write func(staged string, st *stage) ([]FileHash, error), verified bool) (*Installed, error) {
	st, err := newStage(home, "install")
	if err != nil {
		return nil, err
	}
	st.hook = opts.hook
	defer st.cleanup()
	staged := filepath.Join(st.dir, name)
	files, err := write(staged, st)
	if err != nil {
		return nil, err
	}
	if err := checkManifestName(staged, name); err != nil {
		return nil, err
	}
	if err := touchAll(staged, time.Now()); err != nil {
		return nil, err
	}
	rep, err := Validate(ctx, staged, opts.Validate)
	if err != nil {
		return nil, err
	}
	rep.Dir = homedir.Home(home).App(name)
	if !rep.OK(opts.Strict) {
		return nil, &ValidationError{Report: rep, Strict: opts.Strict}
	}
	// Go sources build against the SDK the go.mod names, which this
	// binary brings when it is the one the app was made with.
	if _, err := os.Stat(filepath.Join(staged, "go.mod")); err == nil {
		if _, err := EnsureSDK(home); err != nil {
			return nil, err
		}
	}
	target := homedir.Home(home).App(name)
	res := &Installed{App: name, Dir: target, Version: rep.Version, Files: files, Verified: verified, Report: rep}
	if opts.Upgrade && !opts.NoBackup {
		if _, err := os.Lstat(target); err == nil {
			now := opts.Now
			if now.IsZero() {
				now = time.Now()
			}
			res.Backup, err = backup(home, name, now)
			if err != nil {
				return nil, fmt.Errorf("backing up the installed version: %w", err)
			}
		}
	}
	res.Replaced, err = st.commit(staged, target, opts.Upgrade)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// touchAll gives every file under dir the same modification time: an
// archive's entries carry a fixed time and are written one after another,
// and a module must not look older than its Go source.
func touchAll(dir string, t time.Time) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return os.Chtimes(p, t, t)
	})
}

// checkManifestName refuses an app.yaml that names another app than its
// folder: an archive must not install one app under another's name.
func checkManifestName(dir, name string) error {
	b, err := os.ReadFile(filepath.Join(dir, app.ManifestPath))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: no %s in the app's folder", ErrArchive, app.ManifestPath)
		}
		return err
	}
	var m struct {
		Name string `yaml:"name"`
	}
	if yaml.Unmarshal(b, &m) == nil && m.Name != "" && m.Name != name {
		return fmt.Errorf("%w: %s names app %q, but it comes in the folder %q", ErrArchive, app.ManifestPath, m.Name, name)
	}
	return nil
}

// copyApp copies the app folder src to the new folder dst as Export would
// take it (no hidden files, no symlinks, within lim) and returns the
// copied files' hashes.
func copyApp(src, dst string, lim Limits, hook func(op, path string) error) ([]FileHash, error) {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var files []FileHash
	var total int64
	err = walkApp(src, false, func(rel string, info fs.FileInfo) error {
		if info.Size() > lim.MaxFileSize {
			return fmt.Errorf("%s is %s, more than %s", rel, bytesize.Format(info.Size()), bytesize.Format(lim.MaxFileSize))
		}
		if len(files) >= lim.MaxFiles {
			return fmt.Errorf("more than %d files", lim.MaxFiles)
		}
		if hook != nil {
			if err := hook("write", filepath.Join(dst, filepath.FromSlash(rel))); err != nil {
				return err
			}
		}
		if d := filepath.Dir(filepath.FromSlash(rel)); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		in, err := os.Open(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := root.OpenFile(filepath.FromSlash(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, lim.MaxFileSize+1))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if n > lim.MaxFileSize {
			return fmt.Errorf("%s grew past %s while it was copied", rel, bytesize.Format(lim.MaxFileSize))
		}
		if total += n; total > lim.MaxTotalSize {
			return fmt.Errorf("the app's files hold more than %s", bytesize.Format(lim.MaxTotalSize))
		}
		files = append(files, FileHash{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// backup exports the installed app name to <home>/data/backups as
// NAME-vVERSION-YYYYMMDDTHHMMSSZ.zip (with -2, -3… when that exists) and
// returns its path.
func backup(home, name string, now time.Time) (string, error) {
	dir, err := existing(home, name)
	if err != nil {
		return "", err
	}
	out := homedir.Home(home).Backups()
	// A backup takes whatever the app holds, within generous limits.
	lim := Limits{MaxFileSize: 1 << 30, MaxTotalSize: 1 << 34, MaxFiles: 1_000_000}
	p, _, err := exportTo(dir, name, out, func(version string) string {
		base := fmt.Sprintf("%s-v%s-%s", name, safeVersion(version), now.UTC().Format("20060102T150405Z"))
		p := base + ".zip"
		for i := 2; ; i++ {
			if _, err := os.Lstat(filepath.Join(out, p)); err != nil {
				return p
			}
			p = fmt.Sprintf("%s-%d.zip", base, i)
		}
	}, lim, true)
	return p, err
}
