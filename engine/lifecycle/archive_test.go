package lifecycle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestHostileArchives installs archives built to attack the host, each
// into a home that already holds an app, and checks that every one is
// refused with a clear error and leaves the home as it was.
func TestHostileArchives(t *testing.T) {
	t.Parallel()
	valid := appEntries("demo", demoFiles("demo"))
	with := func(extra ...zent) []zent { return append(append([]zent{}, valid...), extra...) }
	random := make([]byte, 600<<10)
	rand.Read(random)
	zeros := make([]byte, 20<<20)
	text := []byte(hex.EncodeToString(random)) // 1.2 MiB, compresses about 2:1

	// An honest export of demo, then the same with one file changed.
	var export bytes.Buffer
	{
		src := t.TempDir()
		writeFiles(t, filepath.Join(src, "demo"), demoFiles("demo"))
		if _, err := exportDir(filepath.Join(src, "demo"), "demo", &export, Limits{}, false); err != nil {
			t.Fatal(err)
		}
	}
	tampered := tamper(t, export.Bytes(), "demo/README.md", []byte("# evil\n"))

	tests := []struct {
		name   string
		zip    []byte
		limits Limits
		want   string // in the error
	}{
		{name: "zip slip", zip: makeZip(t, with(zent{name: "demo/../../evil.txt", body: []byte("x")})...), want: "leads out of the folder"},
		{name: "zip slip at the top", zip: makeZip(t, with(zent{name: "../evil.txt", body: []byte("x")})...), want: "leads out of the folder"},
		{name: "absolute path", zip: makeZip(t, with(zent{name: "/tmp/evil.txt", body: []byte("x")})...), want: "absolute path"},
		{name: "absolute app folder", zip: makeZip(t, zent{name: "/demo/app.yaml", body: []byte("name: demo\n")}), want: "absolute path"},
		{name: "backslashes", zip: makeZip(t, with(zent{name: `demo\..\..\evil.txt`, body: []byte("x")})...), want: "backslash"},
		{name: "drive letter", zip: makeZip(t, with(zent{name: "C:/evil.txt", body: []byte("x")})...), want: "colon"},
		{name: "dot element", zip: makeZip(t, with(zent{name: "demo/./x", body: []byte("x")})...), want: "'.' path element"},
		{name: "empty element", zip: makeZip(t, with(zent{name: "demo//x", body: []byte("x")})...), want: "empty or '.' path element"},
		{name: "control character", zip: makeZip(t, with(zent{name: "demo/x\x1b[2J", body: []byte("x")})...), want: "control character"},
		{name: "C1 control character", zip: makeZip(t, with(zent{name: "demo/x\u0085y", body: []byte("x")})...), want: "control character"},
		{name: "right-to-left override", zip: makeZip(t, with(zent{name: "demo/invoice\u202etxt.exe", body: []byte("x")})...), want: `"demo/invoice\u202etxt.exe" holds an invisible formatting character (U+202E`},
		{name: "isolate", zip: makeZip(t, with(zent{name: "demo/a\u2066b", body: []byte("x")})...), want: "invisible formatting character (U+2066"},
		{name: "left-to-right mark", zip: makeZip(t, with(zent{name: "demo/a\u200eb", body: []byte("x")})...), want: "invisible formatting character (U+200E"},
		{name: "zero-width space", zip: makeZip(t, with(zent{name: "demo/a\u200bb", body: []byte("x")})...), want: "invisible formatting character (U+200B"},
		{name: "non-ASCII letter", zip: makeZip(t, with(zent{name: "demo/na\u00efve.txt", body: []byte("x")})...), want: "non-ASCII character 'ï' (U+00EF); file and folder names in an app may hold only printable ASCII"},
		{name: "NFC and NFD of one name", zip: makeZip(t, with(zent{name: "demo/caf\u00e9", body: []byte("x")}, zent{name: "demo/cafe\u0301", body: []byte("y")})...), want: "non-ASCII character"},
		{name: "NFD name", zip: makeZip(t, with(zent{name: "demo/cafe\u0301/x", body: []byte("x")})...), want: "combining mark (U+0301"},
		{name: "non-ASCII folder", zip: makeZip(t, with(zent{name: "demo/d\u00e9j\u00e0/", mode: fs.ModeDir | 0o755})...), want: "non-ASCII character"},
		{name: "folders differing in case", zip: makeZip(t, with(zent{name: "demo/TASKS/x", body: []byte("x")})...), want: `"demo/TASKS/x" is inside the folder "TASKS", which appears as "tasks" too: names that differ only in case`},
		{name: "folders differing in case, deeper", zip: makeZip(t, with(zent{name: "demo/a/B/x", body: []byte("x")}, zent{name: "demo/a/b/y", body: []byte("y")})...), want: `which appears as "a/B" too: names that differ only in case`},
		{name: "folder entry differing in case", zip: makeZip(t, with(zent{name: "demo/Tasks/", mode: fs.ModeDir | 0o755})...), want: "differ only in case"},
		{name: "file and folder differing in case", zip: makeZip(t, with(zent{name: "demo/readme.md/", mode: fs.ModeDir | 0o755})...), want: "appears twice"},
		{name: "symlink", zip: makeZip(t, with(zent{name: "demo/tasks/link.wasm", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777})...), want: "symlink"},
		{name: "symlinked folder", zip: makeZip(t, with(zent{name: "demo/data", body: []byte("/"), mode: fs.ModeSymlink | 0o777}, zent{name: "demo/data/passwd", body: []byte("x")})...), want: "symlink"},
		{name: "device", zip: makeZip(t, with(zent{name: "demo/null", mode: fs.ModeDevice | fs.ModeCharDevice | 0o666})...), want: "not a regular file"},
		{name: "another app's folder", zip: makeZip(t, with(zent{name: "other/app.yaml", body: []byte("name: other\n")})...), want: "outside the app's folder"},
		{name: "file at the top", zip: makeZip(t, with(zent{name: "evil.txt", body: []byte("x")})...), want: "outside the app's folder"},
		{name: "app.yaml naming another app", zip: makeZip(t, zent{name: "demo/app.yaml", body: []byte("name: other\n")}), want: `names app "other"`},
		{name: "folder not an app name", zip: makeZip(t, zent{name: ".hidden/app.yaml", body: []byte("name: x\n")}), want: "not an app name"},
		{name: "no app.yaml", zip: makeZip(t, zent{name: "demo/README.md", body: []byte("x")}), want: "no app.yaml"},
		{name: "duplicate entry", zip: makeZip(t, with(zent{name: "demo/app.yaml", body: []byte("name: demo\n")})...), want: "appears twice"},
		{name: "duplicate by case", zip: makeZip(t, with(zent{name: "demo/App.yaml", body: []byte("name: demo\n")})...), want: "appears twice"},
		{name: "file over a folder", zip: makeZip(t, with(zent{name: "demo/tasks/hello.wasm/x", body: []byte("x")})...), want: "which is a file"},
		{name: "encrypted", zip: makeZip(t, with(zent{name: "demo/secret", body: []byte("x"), flags: 1})...), want: "encrypted"},
		{name: "unknown method", zip: makeZip(t, with(zent{name: "demo/x.bz2", body: []byte("x"), method: 12})...), want: "compression method"},
		{name: "huge declared size", zip: makeZip(t, with(zent{name: "demo/big", body: []byte("x"), declared: 1 << 40})...), want: "more than 64 MiB"},
		{name: "oversized file", zip: makeZip(t, with(zent{name: "demo/big", body: random[:10<<10]})...), limits: Limits{MaxFileSize: 8 << 10}, want: "more than 8 KiB"},
		{name: "header understates the size", zip: makeZip(t, with(zent{name: "demo/big", body: random[:100<<10], declared: 100})...), want: "reading"},
		{name: "zip bomb ratio", zip: makeZip(t, with(zent{name: "demo/zeros", body: zeros})...), want: "zip bomb"},
		{name: "total size", zip: makeZip(t, with(zent{name: "demo/a", body: text[:700<<10]}, zent{name: "demo/b", body: text[:700<<10]})...), limits: Limits{MaxTotalSize: 1 << 20}, want: "files hold more than 1 MiB"},
		{name: "archive too large", zip: makeZip(t, with(zent{name: "demo/a", body: random, method: 0})...), limits: Limits{MaxTotalSize: 512 << 10}, want: "the archive is"},
		{name: "too many files", zip: makeZip(t, valid...), limits: Limits{MaxFiles: 2}, want: "more than 2 files"},
		{name: "not a zip", zip: random[:1000], want: "not a zip archive"},
		{name: "tampered file", zip: tampered, want: "does not match MANIFEST.json"},
		{name: "file not in manifest", zip: appendEntry(t, export.Bytes(), zent{name: "demo/extra", body: []byte("x")}), want: "not in MANIFEST.json"},
		{name: "file missing from manifest list", zip: dropEntry(t, export.Bytes(), "demo/README.md"), want: "listed in MANIFEST.json but missing"},
		{name: "manifest of another app", zip: makeZip(t, with(zent{name: "MANIFEST.json", body: []byte(`{"format":1,"app":"other","files":[]}`)})...), want: "of app \"other\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			installDemo(t, home, "keep")
			before := tree(t, filepath.Join(home, "apps"))
			res, err := InstallArchive(context.Background(), home, bytes.NewReader(tt.zip), int64(len(tt.zip)), InstallOptions{Limits: tt.limits})
			if err == nil {
				t.Fatalf("installed %+v", res)
			}
			t.Log(err)
			if !errors.Is(err, ErrArchive) {
				t.Errorf("err = %v, want one wrapping ErrArchive", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if after := tree(t, filepath.Join(home, "apps")); !maps.Equal(before, after) {
				t.Errorf("apps folder changed:\nbefore %v\nafter  %v", before, after)
			}
			emptyStaging(t, home)
			for _, p := range []string{filepath.Join(home, "evil.txt"), filepath.Join(filepath.Dir(home), "evil.txt"), "/tmp/evil.txt"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// rezip rebuilds the zip b with f applied to its entries.
func rezip(t *testing.T, b []byte, f func([]zent) []zent) []byte {
	t.Helper()
	a, err := OpenArchive(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var ents []zent
	for _, p := range a.Files {
		rc, _ := a.entries[p].Open()
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		ents = append(ents, zent{name: a.App + "/" + p, body: buf.Bytes()})
	}
	ents = f(ents)
	if a.Manifest != nil {
		var buf bytes.Buffer
		buf.WriteString(`{"format":1,"app":"` + a.App + `","files":[`)
		for i, h := range a.Manifest.Files {
			if i > 0 {
				buf.WriteString(",")
			}
			buf.WriteString(`{"path":"` + h.Path + `","size":` + strconv.FormatInt(h.Size, 10) + `,"sha256":"` + h.SHA256 + `"}`)
		}
		buf.WriteString("]}")
		ents = append(ents, zent{name: ManifestName, body: buf.Bytes()})
	}
	return makeZip(t, ents...)
}

func tamper(t *testing.T, b []byte, name string, body []byte) []byte {
	return rezip(t, b, func(es []zent) []zent {
		for i := range es {
			if es[i].name == name {
				es[i].body = body
			}
		}
		return es
	})
}

func appendEntry(t *testing.T, b []byte, e zent) []byte {
	return rezip(t, b, func(es []zent) []zent { return append(es, e) })
}

func dropEntry(t *testing.T, b []byte, name string) []byte {
	return rezip(t, b, func(es []zent) []zent {
		var out []zent
		for _, e := range es {
			if e.name != name {
				out = append(out, e)
			}
		}
		return out
	})
}

// TestOpenArchiveAccepts checks archives that are odd but harmless.
func TestOpenArchiveAccepts(t *testing.T) {
	t.Parallel()
	files := demoFiles("demo")
	tests := []struct {
		name    string
		entries []zent
		want    []string
	}{
		{name: "plain", entries: appEntries("demo", files), want: []string{"README.md", "app.yaml", "config/tasks.yaml", "tasks/hello.wasm"}},
		{name: "folder entries", entries: append([]zent{{name: "demo/", mode: fs.ModeDir | 0o755}, {name: "demo/config/", mode: fs.ModeDir | 0o755}}, appEntries("demo", files)...), want: []string{"README.md", "app.yaml", "config/tasks.yaml", "tasks/hello.wasm"}},
		{name: "stored", entries: []zent{{name: "demo/app.yaml", body: []byte("name: demo\n"), stored: true}}, want: []string{"app.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := makeZip(t, tt.entries...)
			a, err := OpenArchive(bytes.NewReader(b), int64(len(b)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if a.App != "demo" || !reflect.DeepEqual(a.Files, tt.want) {
				t.Errorf("app %q files %v, want demo %v", a.App, a.Files, tt.want)
			}
			dir := filepath.Join(t.TempDir(), "demo")
			hashes, err := a.Extract(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(hashes) != len(tt.want) {
				t.Errorf("extracted %d files, want %d", len(hashes), len(tt.want))
			}
			for _, h := range hashes {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(h.Path)))
				if err != nil || int64(len(b)) != h.Size {
					t.Errorf("%s: %v, %d bytes, want %d", h.Path, err, len(b), h.Size)
				}
			}
		})
	}
}
