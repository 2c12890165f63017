package app

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cronbox/cronbox/internal/gobuild"
)

// module resolves a task's module path rel, relative to the app folder.
// It returns the module's absolute path with symlinks resolved and the Go
// source directory beside it, if any. The module must lie inside the app
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
	source = x.goSource(strings.TrimSuffix(path, ".wasm"))
	real, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && source != "":
		srcRel, _ := filepath.Rel(x.dir, source)
		c.problemf(field, ErrNotBuilt, "%s is not built yet: build it from its Go source in %s/ (cronbox build)", quote(rel), filepath.ToSlash(srcRel))
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
	if source != "" && (gobuild.Target{Dir: source, Out: real}).Stale() {
		c.warnf(field, "%s is older than its Go source; rebuild it (cronbox build)", quote(rel))
	}
	return real, source
}

// goSource returns the real path of dir if it lies inside the app folder
// and holds Go source (a .go file other than a test), else "".
func (x *taskContext) goSource(dir string) string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil || !inside(x.dir, real) {
		return ""
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return real
		}
	}
	return ""
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
