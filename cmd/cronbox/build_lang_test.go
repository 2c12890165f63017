package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

const cTask = "#define CRONBOX_IMPLEMENTATION\n#include \"cronbox.h\"\nint main(void) { return cronbox_result(\"1\"); }\n"

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeBuildsStaleCTask: serve's start builds a C task whose module is
// missing, and again when its source is newer than the module.
func TestServeBuildsStaleCTask(t *testing.T) {
	home := t.TempDir()
	src := filepath.Join(home, "apps", "demo", "tasks", "c")
	writeFile(t, filepath.Join(src, "main.c"), cTask)
	wasmtest.RequireToolchain(t, build.C, src)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	buildApps(context.Background(), log, home)
	fi, err := os.Stat(src + ".wasm")
	if err != nil {
		t.Fatalf("no module after serve's build: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "lang=c") {
		t.Errorf("log: %s", logs.String())
	}
	// Up to date: not built again.
	old := fi.ModTime().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "main.c"), old, old)
	logs.Reset()
	buildApps(context.Background(), log, home)
	if strings.Contains(logs.String(), "built") {
		t.Errorf("an up-to-date module was rebuilt: %s", logs.String())
	}
	// Stale: built again.
	later := fi.ModTime().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "main.c"), later, later)
	logs.Reset()
	buildApps(context.Background(), log, home)
	if !strings.Contains(logs.String(), "msg=built") {
		t.Errorf("a stale module was not rebuilt: %s", logs.String())
	}
}

// TestMissingToolchain: without clang, serve warns with the command to
// install it and `cronbox build` fails saying the same.
func TestMissingToolchain(t *testing.T) {
	home := t.TempDir()
	src := filepath.Join(home, "apps", "demo", "tasks", "c")
	writeFile(t, filepath.Join(src, "main.c"), cTask)
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CRONBOX_CLANG", "")
	var logs bytes.Buffer
	buildApps(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), home)
	if !strings.Contains(logs.String(), "its toolchain is missing") || !strings.Contains(logs.String(), "apt-get install -y clang lld wasi-libc") {
		t.Errorf("serve's log: %s", logs.String())
	}
	code, _, stderr := cli(t, "build", filepath.Join(home, "apps", "demo"))
	if code != 1 || !strings.Contains(stderr, "no c toolchain: clang is missing; install it with `apt-get install -y clang lld wasi-libc") {
		t.Errorf("build: exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(src + ".wasm"); !os.IsNotExist(err) {
		t.Errorf("a module appeared: %v", err)
	}
}
