// Package build compiles task sources to WASI modules, in every language
// Cronbox has an SDK for: Go (through package gobuild), C (clang with
// wasi-libc), Rust (cargo, target wasm32-wasi) and AssemblyScript (asc).
// It is the one entry point of `cronbox build`, of `cronbox serve`'s
// rebuild of stale modules and of `cronbox app new`.
//
// A task says its language by the files in its source folder:
//
//   - Cargo.toml: Rust, a cargo package with one binary;
//   - package.json and an assembly/ folder with index.ts: AssemblyScript;
//   - main.c: C, every .c file of the folder compiled together;
//   - a Go file of package main: Go.
//
// The first that matches, in that order, wins.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cronbox/cronbox/internal/gobuild"
)

// Lang is the language of a task's sources.
type Lang string

// The languages Cronbox builds.
const (
	Go             Lang = "go"
	C              Lang = "c"
	Rust           Lang = "rust"
	AssemblyScript Lang = "assemblyscript"
)

// Langs lists the languages, in the order of `cronbox app new --lang`.
var Langs = []Lang{Go, C, Rust, AssemblyScript}

// ParseLang returns the language named s ("go", "c", "rust",
// "assemblyscript" or its short form "as").
func ParseLang(s string) (Lang, error) {
	switch l := Lang(strings.ToLower(s)); l {
	case Go, C, Rust, AssemblyScript:
		return l, nil
	case "as":
		return AssemblyScript, nil
	}
	return "", fmt.Errorf("unknown language %q: want go, c, rust or assemblyscript", s)
}

// ErrNoTasks is wrapped by Find's error when a folder holds no task source.
var ErrNoTasks = errors.New("no task source")

// Detect returns the language of the task sources in dir, or "" when dir
// holds none.
func Detect(dir string) Lang {
	isFile := func(name string) bool {
		fi, err := os.Stat(filepath.Join(dir, name))
		return err == nil && fi.Mode().IsRegular()
	}
	switch {
	case isFile("Cargo.toml"):
		return Rust
	case isFile("package.json") && isFile(filepath.Join("assembly", "index.ts")):
		return AssemblyScript
	case isFile("main.c"):
		return C
	}
	if ok, err := gobuild.IsMain(dir); err == nil && ok {
		return Go
	}
	return ""
}

// Target is one task to build: its source folder, its language and the
// module it becomes.
type Target struct {
	Dir  string // the task's source folder
	Lang Lang
	Out  string // Dir + ".wasm", beside the folder
}

// Find returns what `cronbox build DIR` builds: DIR itself when it holds a
// task's sources, otherwise every task source folder below it (skipping
// testdata, vendor, node_modules, target and hidden folders), each to a
// module named after its folder, beside it: tasks/cleanup/ →
// tasks/cleanup.wasm. A folder without any is an error wrapping ErrNoTasks.
func Find(dir string) ([]Target, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("finding tasks: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("finding tasks: %s is not a directory", dir)
	}
	dir = filepath.Clean(dir)
	if l := Detect(dir); l != "" {
		return []Target{{Dir: dir, Lang: l, Out: dir + ".wasm"}}, nil
	}
	var targets []Target
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() || p == dir {
			return nil
		}
		switch n := e.Name(); {
		case n == "testdata" || n == "vendor" || n == "node_modules" || n == "target" ||
			strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_"):
			return filepath.SkipDir
		}
		if l := Detect(p); l != "" {
			targets = append(targets, Target{Dir: p, Lang: l, Out: p + ".wasm"})
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding tasks in %s: %w", dir, err)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("finding tasks: %w in %s or below it (no Go main package, main.c, Cargo.toml or package.json with assembly/index.ts)", ErrNoTasks, dir)
	}
	return targets, nil
}

// Sources returns the files a build of t reads from its folder, sorted.
func (t Target) Sources() ([]string, error) {
	var files []string
	add := func(p string) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	walk := func(root string, keep func(name string) bool) error {
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			n := e.Name()
			if e.IsDir() {
				if p != root && (n == "target" || n == "node_modules" || strings.HasPrefix(n, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if keep(n) {
				files = append(files, p)
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var err error
	switch t.Lang {
	case Go:
		err = walk(t.Dir, func(n string) bool {
			return strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") || n == "go.mod" || n == "go.sum"
		})
	case C:
		entries, rerr := os.ReadDir(t.Dir)
		err = rerr
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".c") && !strings.HasSuffix(n, "_test.c") || strings.HasSuffix(n, ".h") {
				add(filepath.Join(t.Dir, n))
			}
		}
	case Rust:
		add(filepath.Join(t.Dir, "Cargo.toml"))
		add(filepath.Join(t.Dir, "Cargo.lock"))
		err = walk(filepath.Join(t.Dir, "src"), func(n string) bool { return strings.HasSuffix(n, ".rs") })
		if err == nil {
			// A vendored SDK crate beside the sources.
			err = walk(filepath.Join(t.Dir, "cronbox"), func(n string) bool { return strings.HasSuffix(n, ".rs") || n == "Cargo.toml" })
		}
	case AssemblyScript:
		add(filepath.Join(t.Dir, "package.json"))
		add(filepath.Join(t.Dir, "asconfig.json"))
		err = walk(filepath.Join(t.Dir, "assembly"), func(n string) bool { return strings.HasSuffix(n, ".ts") })
		if err == nil {
			err = walk(filepath.Join(t.Dir, "lib"), func(n string) bool { return strings.HasSuffix(n, ".ts") })
		}
	default:
		return nil, fmt.Errorf("unknown language %q", t.Lang)
	}
	sort.Strings(files)
	return files, err
}

// Stale reports whether t.Out is missing or older than any of its sources.
func (t Target) Stale() bool {
	out, err := os.Stat(t.Out)
	if err != nil {
		return true
	}
	files, err := t.Sources()
	if err != nil {
		return true
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.ModTime().After(out.ModTime()) {
			return true
		}
	}
	return false
}

// Options are the options of Build.
type Options struct {
	// GoSDK returns the folder of the Go SDK for Go sources in no module;
	// see gobuild.Options.SDK. Nil: such sources are an error.
	GoSDK func() (string, error)
	// CacheDir holds what builds keep between runs: cargo's target
	// folders and the SDKs this binary carries, extracted. Default
	// cronbox/build in the user's cache folder.
	CacheDir string
}

func (o Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "cronbox", "build")
}

// Build compiles t to t.Out. The module is written to a temporary file
// first and renamed, so a half-written module is never left at t.Out.
// When the language's toolchain is missing, the error is a
// *ToolchainError that says how to install it.
func Build(ctx context.Context, t Target, opts Options) error {
	if t.Lang == Go {
		return gobuild.BuildWith(ctx, t.Dir, t.Out, gobuild.Options{SDK: opts.GoSDK})
	}
	tc, err := findToolchain(t.Lang, t.Dir)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(t.Out)
	if err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	absDir, err := filepath.Abs(t.Dir)
	if err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(absOut), ".build-*.wasm")
	if err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	switch t.Lang {
	case C:
		err = buildC(ctx, tc, absDir, tmpName, opts)
	case Rust:
		err = buildRust(ctx, tc, absDir, tmpName, opts)
	case AssemblyScript:
		err = buildAS(ctx, tc, absDir, tmpName, opts)
	default:
		err = fmt.Errorf("unknown language %q", t.Lang)
	}
	if err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	if err := os.Rename(tmpName, absOut); err != nil {
		return fmt.Errorf("building %s: %w", t.Dir, err)
	}
	return nil
}

// commandError returns the error of a failed compiler run: its output, or
// err when it printed nothing.
func commandError(out *bytes.Buffer, err error) error {
	msg := strings.TrimSpace(out.String())
	if msg == "" {
		return err
	}
	return errors.New(msg)
}

// hashDir names a folder of the cache after the absolute path abs.
func hashDir(abs string) string {
	h := sha256.Sum256([]byte(abs))
	return filepath.Base(abs) + "-" + hex.EncodeToString(h[:])[:12]
}
