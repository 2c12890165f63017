package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// cli runs the command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

func writeModule(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExec(t *testing.T) {
	t.Parallel()
	task := wasmtest.BuildFile(t, "testdata/cli")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("file content"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	// Compile once before the parallel cases: they then share the machine
	// code through the on-disk cache instead of compiling it each.
	if code, _, stderr := cli(t, "exec", task, "--", "exit", "0"); code != 0 {
		t.Fatalf("warm-up run: exit %d: %s", code, stderr)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // exact
		stderr string // substring
		check  func(t *testing.T)
	}{
		{name: "args and env, flags after the file", args: []string{"exec", task, "--env", "WHO=me", "--", "echo", "a", "b"}, stdout: "a b me\n"},
		{name: "flags before the file", args: []string{"exec", "--env=WHO=you", task, "--", "echo"}, stdout: " you\n"},
		{name: "exit code passes through", args: []string{"exec", task, "--", "exit", "7"}, code: 7},
		{name: "out of memory", args: []string{"exec", "--memory", "32MiB", task, "--", "membomb"}, code: exitOutOfMemory, stderr: "cronbox: out of memory: ran out of memory: the limit is 32 MiB"},
		{name: "timeout", args: []string{"exec", "--timeout", "200ms", writeModule(t, wasmtest.Spin())}, code: exitTimedOut, stderr: "cronbox: timed out: stopped at its time limit of 200ms"},
		{name: "trap", args: []string{"exec", writeModule(t, wasmtest.Unreachable())}, code: exitTrapped, stderr: "cronbox: trap: unreachable"},
		{name: "granted dir at a guest path", args: []string{"exec", "--dir", dir + ":/data:ro", task, "--", "cat", "/data/f.txt"}, stdout: "file content"},
		{name: "no dir, no file", args: []string{"exec", task, "--", "cat", "/data/f.txt"}, code: 1},
		{name: "input, logs and report", args: []string{"exec", task, "--input", `{"N":21}`, "--report", report, "--", "double"}, stderr: "[info] doubling n=21", check: func(t *testing.T) {
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Status string
				Result map[string]int
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Status != "succeeded" || r.Result["n"] != 42 {
				t.Fatalf("report %s (%v)", b, err)
			}
		}},
		{name: "garbage module", args: []string{"exec", writeModule(t, []byte("not wasm at all"))}, code: exitUsage, stderr: "not a WebAssembly binary"},
		{name: "empty module", args: []string{"exec", writeModule(t, nil)}, code: exitUsage, stderr: "the file is empty"},
		{name: "unknown import", args: []string{"exec", writeModule(t, wasmtest.Importing("cronbox", "teleport"))}, code: exitUsage, stderr: "unknown import cronbox.teleport — built for a newer Cronbox? This one implements host ABI version 1"},
		{name: "missing file", args: []string{"exec", filepath.Join(dir, "nope.wasm")}, code: exitUsage, stderr: "no such file"},
		{name: "bad memory flag", args: []string{"exec", "--memory", "lots", task}, code: exitUsage, stderr: "--memory"},
		{name: "bad input", args: []string{"exec", "--input", "{", task}, code: exitUsage, stderr: "--input: not valid JSON"},
		{name: "bad dir", args: []string{"exec", "--dir", filepath.Join(dir, "f.txt"), task}, code: exitUsage, stderr: "is not a directory"},
		{name: "no file", args: []string{"exec"}, code: exitUsage, stderr: "want exactly one module file"},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"help", "exec"}, stderr: "Usage: cronbox exec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := cli(t, tt.args...)
			if code != tt.code || stdout != tt.stdout && tt.stdout != "" || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	app := t.TempDir()
	src := filepath.Join(app, "tasks", "hi")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/hi\n\ngo 1.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi from a built task\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, "build", app)
	if code != 0 || !strings.Contains(stdout, "built "+src+".wasm") {
		t.Fatalf("build: exit %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, "exec", src+".wasm")
	if code != 0 || stdout != "hi from a built task\n" {
		t.Fatalf("exec of the built task: exit %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "build", filepath.Join(app, "nothing-here")); code == 0 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("build of a missing dir: exit %d %q", code, stderr)
	}
}
