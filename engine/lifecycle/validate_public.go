package lifecycle

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// public checks the app's public/ folder, which the server serves under
// /apps/<app>/: a symbolic link that leads out of it is an error (the
// server refuses to follow it, so the file is missing from the page), and
// a folder without index.html is a warning when it is public/ itself.
func (r *Report) public(dir string) {
	root := filepath.Join(dir, "public")
	fi, err := os.Lstat(root)
	switch {
	case err != nil:
		return // no page
	case !fi.IsDir():
		r.Errors = append(r.Errors, Finding{File: "public", Message: "is not a folder; the app's page is served from the folder public/"})
		return
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			r.Errors = append(r.Errors, Finding{File: rel, Message: err.Error()})
			return nil
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		realRoot, rootErr := filepath.EvalSymlinks(root)
		if err != nil || rootErr != nil || !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
			r.Errors = append(r.Errors, Finding{File: rel, Message: "is a symbolic link that leads out of public/ (or nowhere): the server does not follow it"})
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(root, "index.html")); err != nil {
		r.Warnings = append(r.Warnings, Finding{File: "public", Message: "has no index.html: /apps/<app>/ shows no page"})
	}
}
