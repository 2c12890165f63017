package lifecycle

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/app"
)

// FuzzReadArchive feeds OpenArchive and Extract arbitrary bytes: they must
// not panic, and whatever they accept must extract to regular files inside
// the target folder, within the limits. Seeds are in
// testdata/fuzz/FuzzReadArchive, plus an export and hostile archives built
// here.
func FuzzReadArchive(f *testing.F) {
	f.Add(makeZip(f, appEntries("demo", demoFiles("demo"))...))
	f.Add(makeZip(f, zent{name: "demo/app.yaml", body: []byte("name: demo\n")}, zent{name: "demo/../x", body: []byte("x")}))
	f.Add(makeZip(f, zent{name: "demo/app.yaml", body: []byte("name: demo\n")}, zent{name: "demo/l", body: []byte("/"), mode: fs.ModeSymlink | 0o777}))
	f.Add(makeZip(f, zent{name: "demo/app.yaml", body: []byte("name: demo\n"), declared: 1 << 20}))
	f.Add(makeZip(f, zent{name: "demo/app.yaml", body: []byte("name: demo\n")}, zent{name: "demo/a/B/x", body: []byte("x")}, zent{name: "demo/a/b/y", body: []byte("y")}))
	lim := Limits{MaxFileSize: 64 << 10, MaxTotalSize: 256 << 10, MaxFiles: 50, MaxRatio: 50}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := OpenArchive(bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			return
		}
		if app.ValidName(a.App) != nil {
			t.Fatalf("accepted the app name %q", a.App)
		}
		// Every accepted name is safe, and no two names collide at any
		// level once case is folded.
		folded := map[string]string{}
		for _, rel := range a.Files {
			if err := app.CheckFileName(rel); err != nil {
				t.Fatalf("accepted %+q: %v", rel, err)
			}
			for p := rel; p != "."; p = path.Dir(p) {
				if prev, ok := folded[app.FoldFileName(p)]; ok && prev != p {
					t.Fatalf("accepted %q and %q, which collide", prev, p)
				}
				folded[app.FoldFileName(p)] = p
			}
		}
		dir := filepath.Join(t.TempDir(), "x", a.App)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		hashes, err := a.Extract(dir)
		outside := tree(t, filepath.Dir(filepath.Dir(dir)))
		for p := range outside {
			if p != "." && p != "x" && !strings.HasPrefix(p, "x/"+a.App) {
				t.Fatalf("wrote %s outside the app's folder", p)
			}
		}
		var total int64
		files := 0
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 || !d.IsDir() && !d.Type().IsRegular() {
				t.Fatalf("extracted %s of type %v", p, d.Type())
			}
			if info, err := d.Info(); err == nil && !d.IsDir() {
				files++
				total += info.Size()
				if info.Size() > lim.MaxFileSize {
					t.Fatalf("extracted %s of %d bytes", p, info.Size())
				}
			}
			return nil
		})
		if total > lim.MaxTotalSize || files > lim.MaxFiles {
			t.Fatalf("extracted %d files, %d bytes", files, total)
		}
		if err == nil && len(hashes) != files {
			t.Fatalf("%d hashes for %d files", len(hashes), files)
		}
	})
}

// FuzzValidate checks arbitrary app.yaml and config/tasks.yaml: Validate
// must not panic, must place every finding in a file of the app, and must
// pass only apps that the engine loads without errors.
func FuzzValidate(f *testing.F) {
	d := demoFiles("demo")
	f.Add(d["app.yaml"], d["config/tasks.yaml"])
	f.Add([]byte("name: demo\npermissions: { http: [\"*.com\", 10.0.0.1] }\n"), []byte("tasks:\n  - name: hello\n    schedule: \"H H * * *\"\n"))
	f.Add([]byte("name: other\n"), []byte("tasks: [{name: hello, module: ../../x.wasm}]\n"))
	rt := sharedRuntime(f)
	f.Fuzz(func(t *testing.T, appYAML, tasksYAML []byte) {
		dir := filepath.Join(t.TempDir(), "demo")
		files := demoFiles("demo")
		files["app.yaml"], files["config/tasks.yaml"] = appYAML, tasksYAML
		writeFiles(t, dir, files)
		rep, err := Validate(context.Background(), dir, ValidateOptions{Runtime: rt})
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range [][]Finding{rep.Errors, rep.Warnings} {
			for _, fd := range list {
				if fd.Message == "" {
					t.Fatalf("finding without a message: %+v", fd)
				}
				if fd.File != "" {
					if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(fd.File))); err != nil && fd.File != app.ManifestPath && fd.File != app.TasksPath {
						t.Fatalf("finding in %q, which is not a file of the app: %+v", fd.File, fd)
					}
				}
			}
		}
		if rep.OK(false) {
			a, err := app.Load(dir, app.Options{})
			if err != nil || len(a.Errors) != 0 {
				t.Fatalf("validated, but Load: %v %v", err, a.Errors)
			}
		}
	})
}
