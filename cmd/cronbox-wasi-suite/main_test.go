package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestRun runs a small suite laid out as wasi-testsuite lays out its own:
// a test that passes, one whose expected stdout is wrong, and one that
// reads a file of its root folder, through both runners.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cronbox command")
	}
	bin := filepath.Join(t.TempDir(), "cronbox")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cronbox/cronbox/cmd/cronbox").CombinedOutput(); err != nil {
		t.Fatalf("building cronbox: %v\n%s", err, out)
	}
	suite := t.TempDir()
	dir := filepath.Join(suite, "tests", "asm", "testsuite", "wasm32-wasip1")
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello.wasm", string(wasmtest.Hello()))
	write("hello.json", `{"stdout": "hello\n", "root": "fixtures"}`)
	write("fixtures/file", "x")
	write("wrong.wasm", string(wasmtest.Hello()))
	write("wrong.json", `{"stdout": "goodbye\n"}`)
	write("exit.wasm", string(wasmtest.Unreachable()))

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-cronbox", bin, suite}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1 (a test fails); stderr:\n%s", code, stderr.String())
	}
	for _, line := range []string{
		`asm/exit +FAIL +FAIL`,
		`asm/hello +pass +pass`,
		`asm/wrong +FAIL +FAIL`,
		`total +1/3 +1/3`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + ` *$`).MatchString(stdout.String()) {
			t.Errorf("output has no line %q:\n%s", line, stdout.String())
		}
	}
	// The fixture was copied, not written to in place.
	if _, err := os.Stat(filepath.Join(dir, "fixtures", "file")); err != nil {
		t.Error(err)
	}
}

func TestParseSpec(t *testing.T) {
	s, err := parseSpec([]byte(`{"args": ["a"], "env": {"K": "v"}, "root": "fs-tests.dir", "exit_code": 3, "stdout": "x", "unknown": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Args) != 1 || s.Env["K"] != "v" || s.ExitCode != 3 || *s.Stdout != "x" || s.mounts()[0] != (mount{"fs-tests.dir", "/"}) {
		t.Errorf("parsed %+v", s)
	}
	for _, bad := range []string{`{"root": "../x"}`, `{"dirs": ["/etc"]}`, `{"dirs": [""]}`, `{"env": {"A=B": "c"}}`, `{"exit_code": 256}`, `[1]`} {
		if _, err := parseSpec([]byte(bad)); err == nil {
			t.Errorf("parseSpec(%s) succeeded", bad)
		}
	}
}

// FuzzParseSpec checks that parseSpec never panics and accepts only
// folders inside the test's folder.
func FuzzParseSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSpec(b)
		if err != nil {
			return
		}
		for _, m := range s.mounts() {
			if !localPath(m.host) {
				t.Fatalf("accepted folder %q", m.host)
			}
		}
	})
}
