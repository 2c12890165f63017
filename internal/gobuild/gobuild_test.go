package gobuild

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildWithoutToolchain(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOROOT", "")
	err := Build(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "x.wasm"))
	if !errors.Is(err, ErrNoToolchain) {
		t.Fatalf("err %v; want ErrNoToolchain", err)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	t.Parallel()
	if _, err := Toolchain(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module broken\n\ngo 1.24\n")
	write(t, filepath.Join(dir, "main.go"), "package main\nfunc main() { undefinedThing() }\n")
	out := filepath.Join(dir, "out.wasm")
	err := Build(context.Background(), dir, out)
	if err == nil || !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Fatalf("err %v; want the compiler's message", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed build left a module behind")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".build-*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

// TestBuildOutsideModule builds a task that is in no Go module, as a task
// copied out of its repository is, against an SDK folder, offline.
func TestBuildOutsideModule(t *testing.T) {
	if _, err := Toolchain(); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	// The SDK folder, as `cronbox` extracts it: this module's sdk package
	// under a go.mod that requires nothing.
	sdkDir := t.TempDir()
	write(t, filepath.Join(sdkDir, "go.mod"), "module github.com/cronbox/cronbox\n\ngo 1.26.0\n")
	srcs, err := filepath.Glob("../../sdk/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range srcs {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(sdkDir, "sdk", filepath.Base(src)), string(b))
	}

	app := t.TempDir()
	task := filepath.Join(app, "tasks", "greet")
	write(t, filepath.Join(task, "main.go"), "package main\n\nimport \"github.com/cronbox/cronbox/sdk\"\n\nfunc main() { sdk.Info(\"hi\") }\n")
	out := task + ".wasm"

	err = Build(context.Background(), task, out)
	if err == nil || !strings.Contains(err.Error(), "no Go module") {
		t.Fatalf("Build without an SDK: err = %v, want one saying the source is in no Go module", err)
	}
	// A relative SDK folder, as a home of "." gives, works too.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, sdkDir)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	sdk := func() (string, error) { calls++; return rel, nil }
	if err := BuildWith(context.Background(), task, out, Options{SDK: sdk}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("module: %v, %q", err, b[:min(len(b), 8)])
	}
	if calls != 1 {
		t.Errorf("SDK asked for %d times, want 1", calls)
	}
	// Nothing is left beside the sources.
	entries, err := os.ReadDir(task)
	if err != nil || len(entries) != 1 {
		t.Errorf("task folder holds %v (%v), want main.go alone", entries, err)
	}
}
