package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestAppNewEachLanguage creates an app in each language other than Go,
// builds its task, validates the app, loads it with its init task, runs
// the task's own native tests and
// runs its module once with an input. It skips a language whose toolchain
// is missing, unless CRONBOX_REQUIRE_TOOLCHAINS=1.
func TestAppNewEachLanguage(t *testing.T) {
	cases := []struct {
		lang build.Lang
		test []string // the task's own tests, run in its folder
		need string   // the program the tests need
	}{
		{build.C, []string{"sh", "-c", "cc -Wall -o hello_test main_test.c && ./hello_test && rm hello_test"}, "cc"},
		{build.Rust, []string{"cargo", "test", "--offline", "-q"}, "cargo"},
		{build.AssemblyScript, []string{"node", "--test", "test/"}, "node"},
	}
	for _, c := range cases {
		t.Run(string(c.lang), func(t *testing.T) {
			home := t.TempDir()
			wasmtest.RequireToolchain(t, c.lang, home)
			name := "in-" + string(c.lang)
			code, stdout, stderr := cli(t, "app", "new", name, "--lang", string(c.lang), "--home", home)
			if code != 0 || !strings.Contains(stdout, "built ") {
				t.Fatalf("app new: exit %d\n%s%s", code, stdout, stderr)
			}
			if code, stdout, stderr := cli(t, "app", "validate", name, "--strict", "--home", home); code != 0 {
				t.Fatalf("app validate: exit %d\n%s%s", code, stdout, stderr)
			}
			taskDir := filepath.Join(home, "apps", name, "tasks", "hello")
			if code, stdout, stderr := cli(t, "build", filepath.Join(home, "apps", name)); code != 0 || !strings.Contains(stdout, "built "+taskDir+".wasm") {
				t.Fatalf("build: exit %d\n%s%s", code, stdout, stderr)
			}

			loadsWithInit(t, home, name)

			if _, err := exec.LookPath(c.need); err != nil && os.Getenv("CRONBOX_REQUIRE_TOOLCHAINS") != "1" {
				t.Logf("not running the task's own tests: %v", err)
			} else {
				cmd := exec.Command(c.test[0], c.test[1:]...)
				cmd.Dir = taskDir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v in %s: %v\n%s", c.test, taskDir, err, out)
				}
			}
			// The Rust task keeps cargo's files in the home's data folder,
			// not in the app.
			if _, err := os.Stat(filepath.Join(taskDir, "target")); err == nil {
				t.Errorf("the task's tests left a target folder in the app")
			}

			report := filepath.Join(t.TempDir(), "report.json")
			code, stdout, stderr = cli(t, "exec", taskDir+".wasm", "--input", `{"name": "Ada"}`, "--config", `{"greeting": "Hi"}`, "--report", report, "--cache", "")
			if code != 0 {
				t.Fatalf("exec: exit %d\n%s%s", code, stdout, stderr)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Result json.RawMessage `json:"result"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("report %s: %v", b, err)
			}
			var got bytes.Buffer
			if err := json.Compact(&got, r.Result); err != nil || got.String() != `{"message":"Hi, Ada!","runs":1}` {
				t.Errorf("result = %s, want the greeting and one run\nreport: %s\nstderr: %s", got.String(), b, stderr)
			}
		})
	}
}

func TestAppNewUnknownLanguage(t *testing.T) {
	home := t.TempDir()
	code, _, stderr := cli(t, "app", "new", "x", "--lang", "cobol", "--home", home)
	if code != 1 || !strings.Contains(stderr, `unknown language "cobol"`) {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "apps", "x")); !os.IsNotExist(err) {
		t.Errorf("an app was created: %v", err)
	}
}
