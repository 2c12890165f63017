package lifecycle

import (
	"archive/zip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type fakeStore struct {
	deleted []string
	err     error
}

func (s *fakeStore) DeleteAppData(ctx context.Context, app string) error {
	s.deleted = append(s.deleted, app)
	return s.err
}

func TestUninstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, purge := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep data", true: "purge"}[purge], func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			dir := installDemo(t, home, "demo")
			installDemo(t, home, "keep")
			hashes := hashTree(t, dir)
			files := filepath.Join(home, "data", "files", "demo")
			writeFiles(t, files, map[string][]byte{"state.txt": []byte("x")})
			st := &fakeStore{}
			res, err := Uninstall(ctx, home, "demo", UninstallOptions{Purge: purge, Store: st, Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(res.Backup) != "demo-v1.0.0-20260102T030405Z.zip" || res.Purged != purge {
				t.Errorf("uninstall = %+v", res)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the app's folder is still there: %v", err)
			}
			if _, err := os.Stat(filepath.Join(home, "apps", "keep")); err != nil {
				t.Errorf("another app went: %v", err)
			}
			_, ferr := os.Stat(files)
			if purge != os.IsNotExist(ferr) {
				t.Errorf("purge %v: data/files/demo: %v", purge, ferr)
			}
			if purge != (len(st.deleted) == 1 && st.deleted[0] == "demo") {
				t.Errorf("purge %v: store deleted %v", purge, st.deleted)
			}
			emptyStaging(t, home)
			// The backup installs back, file for file.
			back, err := Install(ctx, home, res.Backup, InstallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !equalHashes(back.Files, hashes) {
				t.Errorf("restored %v, want %v", back.Files, hashes)
			}
		})
	}
	t.Run("not installed", func(t *testing.T) {
		t.Parallel()
		if _, err := Uninstall(ctx, t.TempDir(), "nope", UninstallOptions{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		installDemo(t, home, "demo")
		before := tree(t, filepath.Join(home, "apps"))
		injected := errors.New("injected")
		_, err := Uninstall(ctx, home, "demo", UninstallOptions{hook: func(op, path string) error { return injected }})
		if !errors.Is(err, injected) {
			t.Fatalf("err = %v", err)
		}
		if after := tree(t, filepath.Join(home, "apps")); len(after) != len(before) {
			t.Errorf("apps changed: %v", after)
		}
		emptyStaging(t, home)
	})
	t.Run("purge without store", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		installDemo(t, home, "demo")
		if _, err := Uninstall(ctx, home, "demo", UninstallOptions{Purge: true}); err == nil {
			t.Error("no error")
		}
		if _, err := os.Stat(filepath.Join(home, "apps", "demo")); err != nil {
			t.Errorf("the app went: %v", err)
		}
	})
}

// TestUninstallBacksUpEverything checks that the backup holds what an
// export leaves out, since the folder is deleted after it: names that
// start with '.', and symlinks, kept as links.
func TestUninstallBacksUpEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	dir := installDemo(t, home, "demo")
	writeFiles(t, dir, map[string][]byte{".git/HEAD": []byte("ref: refs/heads/main\n"), ".env": []byte("A=1\n")})
	if err := os.Symlink("../../../build/linked.wasm", filepath.Join(dir, "tasks", "linked.wasm")); err != nil {
		t.Fatal(err)
	}
	res, err := Uninstall(ctx, home, "demo", UninstallOptions{})
	if err != nil {
		t.Fatalf("uninstalling an app with a symlink and hidden files: %v", err)
	}
	zr, err := zip.OpenReader(res.Backup)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Name] = f.Mode().Type().String() + " " + string(b)
	}
	for name, want := range map[string]string{
		"demo/.git/HEAD":         "---------- ref: refs/heads/main\n",
		"demo/.env":              "---------- A=1\n",
		"demo/tasks/linked.wasm": "L--------- ../../../build/linked.wasm",
	} {
		if got[name] != want {
			t.Errorf("backup entry %s = %q, want %q", name, got[name], want)
		}
	}
	// An install refuses the link, and leaves nothing behind.
	if _, err := Install(ctx, home, res.Backup, InstallOptions{}); !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("installing a backup with a symlink: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused install left the app's folder: %v", err)
	}

	// Without the link, the backup installs back, without the hidden
	// files, which are not part of an app: the install says so.
	dir = installDemo(t, home, "other")
	writeFiles(t, dir, map[string][]byte{".env": []byte("B=2\n")})
	res, err = Uninstall(ctx, home, "other", UninstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Install(ctx, home, res.Backup, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); !os.IsNotExist(err) {
		t.Errorf("the backup's .env was installed: %v", err)
	}
	if !slices.ContainsFunc(in.Report.Warnings, func(f Finding) bool { return strings.Contains(f.Message, "not installed: .env") }) {
		t.Errorf("the install's warnings %+v do not name the .env left out", in.Report.Warnings)
	}
}
