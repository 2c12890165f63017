package lifecycle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExportName(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	tests := []struct{ version, want string }{
		{"1.2.0", "demo-v1.2.0-20261127.zip"},
		{"", "demo-v0-20261127.zip"},
		{"1.0 beta/2", "demo-v1.0_beta_2-20261127.zip"},
		{"../../x", "demo-v.._.._x-20261127.zip"},
	}
	for _, tt := range tests {
		if got := ExportName("demo", tt.version, day); got != tt.want {
			t.Errorf("ExportName(%q) = %q, want %q", tt.version, got, tt.want)
		}
		if strings.Contains(ExportName("demo", tt.version, day), "/") {
			t.Errorf("ExportName(%q) holds a slash", tt.version)
		}
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := installDemo(t, home, "demo")
	writeFiles(t, dir, map[string][]byte{".cache/x": []byte("hidden"), ".DS_Store": []byte("x"),
		"public/.well-known/security.txt": []byte("Contact: x"), "public/.env": []byte("hidden"), "public/.well-known/.x": []byte("hidden")})

	p1, m1, err := ExportFile(home, "demo", "", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "data", "exports", "demo-v1.0.0-20260102.zip"); p1 != want {
		t.Errorf("path = %s, want %s", p1, want)
	}
	// Touch every file: times must not matter.
	later := time.Now().Add(time.Hour)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, later, later) })
	out := t.TempDir()
	p2, m2, err := ExportFile(home, "demo", out, time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Error("two exports of the same files differ")
	}
	if !equalHashes(m1.Files, m2.Files) || m1.App != "demo" || m1.Version != "1.0.0" {
		t.Errorf("manifests %+v, %+v", m1, m2)
	}

	zr, err := zip.NewReader(bytes.NewReader(b1), int64(len(b1)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var manifest ArchiveManifest
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == ManifestName {
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		sum := sha256.Sum256(b)
		found := false
		for _, h := range m1.Files {
			found = found || "demo/"+h.Path == f.Name && h.SHA256 == hex.EncodeToString(sum[:]) && h.Size == int64(len(b))
		}
		if !found {
			t.Errorf("%s is not in the manifest with its hash", f.Name)
		}
		if !f.Modified.Equal(zipTime) || f.Mode().Perm() != 0o644 {
			t.Errorf("%s: time %v mode %v", f.Name, f.Modified, f.Mode())
		}
	}
	want := "demo/README.md demo/app.yaml demo/config/tasks.yaml demo/public/.well-known/security.txt demo/tasks/hello.wasm MANIFEST.json"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries %s, want %s", got, want)
	}
	if !equalHashes(manifest.Files, m1.Files) {
		t.Errorf("MANIFEST.json %+v, want %+v", manifest, m1)
	}

	t.Run("symlink refused", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		dir := installDemo(t, home, "demo")
		os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
		if _, _, err := ExportFile(home, "demo", "", time.Now(), Limits{}); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("err = %v, want a symlink error", err)
		}
		if ents, _ := os.ReadDir(filepath.Join(home, "data", "exports")); len(ents) != 0 {
			t.Errorf("exports holds %d files after a failed export", len(ents))
		}
	})
	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		installDemo(t, home, "demo")
		if _, err := Export(home, "demo", io.Discard, Limits{MaxFileSize: 100}); err == nil || !strings.Contains(err.Error(), "more than an archive may hold") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		t.Parallel()
		if _, err := Export(t.TempDir(), "nope", io.Discard, Limits{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}
