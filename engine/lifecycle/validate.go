package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// ErrInvalid is wrapped by the error of an operation refused because the
// app has errors; the error is a *ValidationError with the report.
var ErrInvalid = errors.New("app has errors")

// ValidationError is the error of Install when the app it would install
// does not pass Validate.
type ValidationError struct {
	Report *Report
	Strict bool // warnings counted as errors
}

func (e *ValidationError) Error() string {
	list := e.Report.Errors
	if len(list) == 0 && e.Strict {
		list = e.Report.Warnings
	}
	if len(list) == 0 {
		return fmt.Sprintf("app %s: %v", e.Report.App, ErrInvalid)
	}
	msg := fmt.Sprintf("app %s: %v: %s", e.Report.App, ErrInvalid, list[0])
	if len(list) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(list)-1)
	}
	return msg
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Finding is one problem Validate found, or one doubt.
type Finding struct {
	// File is relative to the app folder, with forward slashes; "" for
	// the folder as a whole.
	File string `json:"file,omitempty"`
	// Line and Column locate it in File, from 1; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Field is the path of the value ("tasks[0].schedule.cron"), if any.
	Field string `json:"field,omitempty"`
	// Task is the task it concerns, if any.
	Task    string `json:"task,omitempty"`
	Message string `json:"message"`
}

// String is "file:line:column: field: message", leaving out what is not
// known.
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		b.WriteString(f.File)
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
			if f.Column > 0 {
				fmt.Fprintf(&b, ":%d", f.Column)
			}
		}
		b.WriteString(": ")
	}
	if f.Task != "" && f.Field == "" {
		fmt.Fprintf(&b, "task %s: ", f.Task)
	}
	if f.Field != "" {
		b.WriteString(f.Field + ": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

func finding(p app.Problem) Finding {
	return Finding{File: p.File, Line: p.Line, Column: p.Column, Field: p.Field, Message: p.Message}
}

// Report is what Validate found.
type Report struct {
	// App is the app's name: its folder's.
	App string `json:"app"`
	// Version is app.yaml's version, when it could be read.
	Version string `json:"version,omitempty"`
	// Dir is the app folder.
	Dir string `json:"dir"`
	// Tasks is how many tasks the app defines.
	Tasks int `json:"tasks"`
	// Errors make the app, or some of its tasks, unusable.
	Errors []Finding `json:"errors"`
	// Warnings are doubtful but harmless.
	Warnings []Finding `json:"warnings"`
}

// OK reports whether the app passed: no errors, and with strict no
// warnings either.
func (r *Report) OK(strict bool) bool {
	return len(r.Errors) == 0 && (!strict || len(r.Warnings) == 0)
}

// ValidateOptions adjust Validate.
type ValidateOptions struct {
	// Runtime compiles the tasks' modules, as the engine would. Default:
	// a runtime made for the call (with the cronbox host module and
	// CacheDir), closed when it returns.
	Runtime *runtime.Runtime
	// CacheDir is where that runtime caches compiled code. Default "":
	// in memory only.
	CacheDir string
	// Load are the options the app is loaded with. Default: the zero Options, as
	// the engine loads apps.
	Load *app.Options
	// Limits bound each file's size, as an export or install would.
	// Zero fields take DefaultLimits'.
	Limits Limits
}

// Validate checks the app in folder dir as the engine would load it, and
// more:
//
//   - structure: a folder holding app.yaml; no special files; file and
//     folder names that app.CheckFileName accepts, no two differing only
//     in case; no symlinks and no file larger than an export may hold
//     (warnings);
//   - app.yaml and config/tasks.yaml: every schema error with its file,
//     line and column (app.Load), schedules parsed by the scheduler,
//     routes' methods, paths and roles (one of the app's roles: or a
//     token's); an init task with a schedule is a warning;
//   - public/: a symbolic link out of it is an error, no index.html a
//     warning;
//   - modules: each task's and route's module is present and compiles in
//     the sandbox runtime, importing only host functions this Cronbox
//     provides, and declares no more memory than the task's or route's
//     limit; a .wasm that no task or route uses is a warning;
//   - permissions: HTTP entries that open a whole top-level domain or
//     reach loopback, private or link-local addresses are warnings.
//
// The error is for a folder that cannot be checked at all (missing: it
// wraps ErrNotFound); an app with problems gets a Report listing them.
func Validate(ctx context.Context, dir string, opts ValidateOptions) (*Report, error) {
	// The loader resolves module paths to absolute ones without symlinks;
	// the folder's own files must compare with them.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			dir = real
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("validating %s: %w", dir, ErrNotFound)
		}
		return nil, fmt.Errorf("validating %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("validating %s: %w: not a folder", dir, ErrNotFound)
	}
	lim := opts.Limits.withDefaults()
	r := &Report{App: filepath.Base(filepath.Clean(dir)), Dir: dir, Errors: []Finding{}, Warnings: []Finding{}}
	wasm, err := r.structure(dir, lim)
	if err != nil {
		return nil, fmt.Errorf("validating %s: %w", dir, err)
	}
	var lo app.Options
	if opts.Load != nil {
		lo = *opts.Load
	}
	a, err := app.Load(dir, lo)
	var inv *app.InvalidError
	switch {
	case errors.As(err, &inv):
		for _, p := range inv.Problems {
			r.Errors = append(r.Errors, finding(p))
		}
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("validating %s: %w", dir, err)
	}
	r.Version = a.Manifest.Version
	r.Tasks = len(a.Tasks)
	for _, p := range a.Errors {
		r.Errors = append(r.Errors, finding(p))
	}
	for _, p := range a.Warnings {
		r.Warnings = append(r.Warnings, finding(p))
	}
	r.permissions(a.Manifest.Permissions)
	r.initTask(a)
	r.public(a.Dir)
	if err := r.modules(ctx, a, wasm, opts); err != nil {
		return nil, fmt.Errorf("validating %s: %w", dir, err)
	}
	return r, nil
}

// structure walks the folder; it returns the .wasm files in it, by
// absolute path.
func (r *Report) structure(dir string, lim Limits) (map[string]bool, error) {
	wasm := map[string]bool{}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	files, total := 0, int64(0)
	folded := map[string]string{} // app.FoldFileName(rel) → rel
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if p != root && !app.Hidden(rel) {
			// Names as install takes them: every entry is walked, so a
			// folder colliding with another is caught at the folder.
			if err := app.CheckFileName(rel); err != nil {
				// The name goes quoted in the message, never bare.
				r.Errors = append(r.Errors, Finding{Message: err.Error()})
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			fold := app.FoldFileName(rel)
			if prev, ok := folded[fold]; ok {
				r.Errors = append(r.Errors, Finding{File: rel, Message: fmt.Sprintf("differs from %q only in case; they are one file on macOS and Windows, and install refuses them", prev)})
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			folded[fold] = rel
		}
		switch t := d.Type(); {
		case p == root:
			return nil
		case t&fs.ModeSymlink != 0:
			r.Warnings = append(r.Warnings, Finding{File: rel, Message: "is a symlink; export and install refuse symlinks"})
			return nil
		case d.IsDir():
			return nil
		case !t.IsRegular():
			r.Errors = append(r.Errors, Finding{File: rel, Message: "is not a regular file or folder"})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !app.Hidden(rel) {
			files++
			total += info.Size()
		}
		if info.Size() > lim.MaxFileSize {
			r.Warnings = append(r.Warnings, Finding{File: rel, Message: fmt.Sprintf("is %s, more than an export may hold (%s a file)", bytesize.Format(info.Size()), bytesize.Format(lim.MaxFileSize))})
		}
		if strings.HasSuffix(p, ".wasm") && !app.Hidden(rel) {
			wasm[p] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if files > lim.MaxFiles {
		r.Warnings = append(r.Warnings, Finding{Message: fmt.Sprintf("holds %d files, more than an export may hold (%d)", files, lim.MaxFiles)})
	}
	if total > lim.MaxTotalSize {
		r.Warnings = append(r.Warnings, Finding{Message: fmt.Sprintf("holds %s, more than an export may hold (%s)", bytesize.Format(total), bytesize.Format(lim.MaxTotalSize))})
	}
	return wasm, nil
}

// permissions flags allow-list entries wider or closer to home than one
// likely means.
func (r *Report) permissions(p app.Permissions) {
	for i, h := range p.HTTP {
		field := fmt.Sprintf("permissions.http[%d]", i)
		host := h
		if hh, _, err := net.SplitHostPort(h); err == nil {
			host = hh
		}
		host = strings.Trim(host, "[]")
		if rest, ok := strings.CutPrefix(host, "*."); ok && !strings.Contains(rest, ".") {
			r.Warnings = append(r.Warnings, Finding{File: app.ManifestPath, Field: field, Message: fmt.Sprintf("%q allows every host under .%s", h, rest)})
			continue
		}
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			r.Warnings = append(r.Warnings, Finding{File: app.ManifestPath, Field: field, Message: fmt.Sprintf("%q reaches the Cronbox host itself", h)})
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
				r.Warnings = append(r.Warnings, Finding{File: app.ManifestPath, Field: field, Message: fmt.Sprintf("%q is a loopback, private or link-local address: tasks may reach internal services", h)})
			}
		}
	}
}

// initTask flags an init task that would also run other than at each
// load of the app.
func (r *Report) initTask(a *app.App) {
	for _, t := range a.Tasks {
		if t.Name != app.InitTask {
			continue
		}
		if !t.Schedule.IsZero() {
			r.Warnings = append(r.Warnings, Finding{File: app.TasksPath, Task: t.Name, Field: "schedule",
				Message: "the init task runs once each time the app is loaded; its schedule runs it again"})
		}
	}
}

// modules compiles each valid task's module and each route's.
func (r *Report) modules(ctx context.Context, a *app.App, wasm map[string]bool, opts ValidateOptions) error {
	rt := opts.Runtime
	used := map[string]bool{}
	for _, t := range a.Tasks {
		if t.Module != "" {
			used[t.Module] = true
		}
	}
	for _, rt := range a.Manifest.Routes {
		if rt.Module != "" {
			used[rt.Module] = true
		}
	}
	for p := range wasm {
		if !used[p] {
			rel, _ := filepath.Rel(a.Dir, p)
			r.Warnings = append(r.Warnings, Finding{File: filepath.ToSlash(rel), Message: "no task or route uses this module"})
		}
	}
	sort.SliceStable(r.Warnings, func(i, j int) bool { return r.Warnings[i].File < r.Warnings[j].File })
	// What to compile: the module of each task and route without errors,
	// with the memory it is given.
	type use struct {
		module, task, route string
		memory              int64
	}
	var uses []use
	for _, t := range a.Tasks {
		if t.Valid() && t.Module != "" {
			uses = append(uses, use{module: t.Module, task: t.Name, memory: t.Limits.Memory})
		}
	}
	for i, rt := range a.Manifest.Routes {
		if len(rt.Errors) == 0 && rt.Module != "" {
			uses = append(uses, use{module: rt.Module, route: fmt.Sprintf("routes[%d]", i), memory: rt.Limits.Memory})
		}
	}
	for _, u := range uses {
		if rt == nil {
			var err error
			rt, err = NewRuntime(ctx, opts.CacheDir)
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
		}
		rel, _ := filepath.Rel(a.Dir, u.module)
		rel = filepath.ToSlash(rel)
		what, field := "task", ""
		if u.route != "" {
			what, field = "route", u.route+".module"
		}
		if app.Hidden(rel) {
			r.Errors = append(r.Errors, Finding{File: rel, Task: u.task, Field: field, Message: "is hidden (a name in its path starts with '.'): an export, an install and the other nodes of a cluster leave it out"})
			continue
		}
		m, _, err := rt.LoadFile(ctx, u.module)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.Errors = append(r.Errors, Finding{File: rel, Task: u.task, Field: field, Message: err.Error()})
			continue
		}
		if m.MinMemory > u.memory {
			r.Errors = append(r.Errors, Finding{File: rel, Task: u.task, Field: field, Message: fmt.Sprintf("the module needs %s of memory at start, more than the %s's limit of %s", bytesize.Format(m.MinMemory), what, bytesize.Format(u.memory))})
		}
		if opts.Runtime == nil {
			rt.Unload(ctx, m)
		}
	}
	return nil
}

// NewRuntime returns a sandbox runtime with the cronbox host module, as
// the engine's, for checking modules; cacheDir as runtime.Config's.
func NewRuntime(ctx context.Context, cacheDir string) (*runtime.Runtime, error) {
	return runtime.New(ctx, runtime.Config{CacheDir: cacheDir, HostModules: []runtime.HostModule{{
		Name:        hostapi.ModuleName,
		Instantiate: hostapi.Instantiate,
		Hint:        fmt.Sprintf("built for a newer Cronbox? This one implements host ABI version %d", hostapi.Version),
	}}})
}
