package app

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cronbox/cronbox/internal/build"
)

// module resolves a task's module path rel, relative to the app folder.
// It returns the module's absolute path with symlinks resolved and the
// source directory beside it, if any (in any language package build
// knows). The module must lie inside the app
// folder: rel must be relative, without "..", with a name CheckFileName
// accepts, and no symlink on the way may lead out.
func (x *taskContext) module(c *checker, field, rel string) (module, source string) {
	slashed := filepath.ToSlash(rel)
	nameErr := CheckFileName(slashed)
	switch {
	case strings.ContainsRune(rel, 0):
		c.errorf(field, "contains a NUL character")
		return "", ""
	case filepath.IsAbs(rel) || strings.HasPrefix(slashed, "/") || filepath.VolumeName(rel) != "":
		c.errorf(field, "%s is an absolute path; want a path relative to the app folder, such as tasks/cleanup.wasm", quote(rel))
		return "", ""
	case nameErr != nil:
		c.errorf(field, "%v", nameErr)
		return "", ""
	case hasDotDot(slashed):
		c.errorf(field, "%s contains \"..\"; the module must be inside the app folder", quote(rel))
		return "", ""
	case !strings.HasSuffix(slashed, ".wasm"):
		c.errorf(field, "%s is not a .wasm file", quote(rel))
		return "", ""
	}
	path := filepath.Join(x.dir, filepath.FromSlash(slashed))
	source, lang := x.taskSource(strings.TrimSuffix(path, ".wasm"))
	real, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && source != "":
		srcRel, _ := filepath.Rel(x.dir, source)
		c.problemf(field, ErrNotBuilt, "%s is not built yet: build it from its %s source in %s/ (cronbox build)", quote(rel), langName(lang), filepath.ToSlash(srcRel))
		return path, source
	case errors.Is(err, fs.ErrNotExist):
		c.errorf(field, "%s does not exist", quote(rel))
		return "", ""
	case err != nil:
		c.errorf(field, "%s: %v", quote(rel), err)
		return "", ""
	case !inside(x.dir, real):
		c.errorf(field, "%s leads out of the app folder through a symbolic link", quote(rel))
		return "", ""
	}
	fi, err := os.Stat(real)
	switch {
	case err != nil:
		c.errorf(field, "%s: %v", quote(rel), err)
		return "", ""
	case !fi.Mode().IsRegular():
		c.errorf(field, "%s is not a regular file", quote(rel))
		return "", ""
	}
	if source != "" && (build.Target{Dir: source, Lang: lang, Out: real}).Stale() {
		c.warnf(field, "%s is older than its %s source; rebuild it (cronbox build)", quote(rel), langName(lang))
	}
	return real, source
}

// taskSource returns the real path of dir and the language of the task
// sources in it, if it lies inside the app folder and holds any (a Go main
// package, main.c, Cargo.toml, package.json with assembly/index.ts), else
// "".
func (x *taskContext) taskSource(dir string) (string, build.Lang) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil || !inside(x.dir, real) {
		return "", ""
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", ""
	}
	lang := build.Detect(real)
	if lang == "" {
		return "", ""
	}
	return real, lang
}

// langName is how messages name the language of a task's source.
func langName(l build.Lang) string {
	switch l {
	case build.Go:
		return "Go"
	case build.C:
		return "C"
	case build.Rust:
		return "Rust"
	case build.AssemblyScript:
		return "AssemblyScript"
	}
	return string(l)
}

// hasDotDot reports whether the slash-separated path has a ".." element.
func hasDotDot(path string) bool {
	for elem := range strings.SplitSeq(path, "/") {
		if elem == ".." {
			return true
		}
	}
	return false
}

// inside reports whether path lies strictly inside dir; both are clean
// absolute paths.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
