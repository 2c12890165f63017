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
	f := x.moduleFile(path)
	switch {
	case errors.Is(f.err, fs.ErrNotExist) && f.source != "":
		srcRel, _ := filepath.Rel(x.dir, f.source)
		c.problemf(field, ErrNotBuilt, "%s is not built yet: build it from its %s source in %s/ (cronbox build)", quote(rel), langName(f.lang), filepath.ToSlash(srcRel))
		return path, f.source
	case errors.Is(f.err, fs.ErrNotExist):
		c.errorf(field, "%s does not exist", quote(rel))
		return "", ""
	case f.err != nil:
		c.errorf(field, "%s: %v", quote(rel), f.err)
		return "", ""
	case !inside(x.dir, f.real):
		c.errorf(field, "%s leads out of the app folder through a symbolic link", quote(rel))
		return "", ""
	case f.statErr != nil:
		c.errorf(field, "%s: %v", quote(rel), f.statErr)
		return "", ""
	case !f.regular:
		c.errorf(field, "%s is not a regular file", quote(rel))
		return "", ""
	}
	if f.stale {
		c.warnf(field, "%s is older than its %s source; rebuild it (cronbox build)", quote(rel), langName(f.lang))
	}
	return f.real, f.source
}

// moduleFile is what the file system says of a module path: what module
// reports, looked up once a load for the tasks that share the module.
type moduleFile struct {
	source  string     // the source directory beside it, if any
	lang    build.Lang // the language of source
	real    string     // the path with symlinks resolved
	err     error      // resolving the symlinks failed
	statErr error      // reading real failed
	regular bool       // real is a regular file
	stale   bool       // real is older than its source
}

// moduleFile looks path up, or returns what an earlier lookup of this
// load found: every task of an app shares one module in the common case,
// and the answer cannot change within a load that reads the folder once.
func (x *taskContext) moduleFile(path string) moduleFile {
	if f, ok := x.modules[path]; ok {
		return f
	}
	var f moduleFile
	f.source, f.lang = x.taskSource(strings.TrimSuffix(path, ".wasm"))
	f.real, f.err = filepath.EvalSymlinks(path)
	if f.err == nil && inside(x.dir, f.real) {
		var fi os.FileInfo
		if fi, f.statErr = os.Stat(f.real); f.statErr == nil {
			f.regular = fi.Mode().IsRegular()
		}
		if f.statErr == nil && f.regular && f.source != "" {
			f.stale = build.Target{Dir: f.source, Lang: f.lang, Out: f.real}.Stale()
		}
	}
	x.modules[path] = f
	return f
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
