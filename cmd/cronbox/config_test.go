package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	src := testHome(t)
	in := filepath.Join(t.TempDir(), "tasks.json")
	mustWrite(t, in, []byte(`{
  "version": "1.0",
  "lastModified": "2026-01-02T03:04:05Z",
  "tasks": [
    {"name": "hello", "appName": "demo", "enabled": false, "schedule": "*/5 * * * *", "environment": {"MODE": "quiet"}},
    {"name": "spin", "appName": "demo", "deleted": true}
  ]
}`))
	if code, stdout, stderr := cli(t, "config", "import", "--home", src, in); code != 0 || !strings.Contains(stdout, "imported 2 overrides") {
		t.Fatalf("config import: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr := cli(t, "task", "list", "--home", src, "--json")
	if code != 0 || strings.Contains(stdout, `"spin"`) || !strings.Contains(stdout, `"schedule": "*/5 * * * *"`) || !strings.Contains(stdout, `"enabled": false`) {
		t.Fatalf("task list after import: exit %d:\n%s%s", code, stdout, stderr)
	}

	out := filepath.Join(t.TempDir(), "out.json")
	if code, _, stderr := cli(t, "config", "export", "--home", src, out); code != 0 {
		t.Fatalf("config export: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = cli(t, "config", "export", "--home", src)
	if code != 0 {
		t.Fatalf("config export to stdout: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `"tasks"`) {
		t.Errorf("config export to stdout: %s", stdout)
	}

	// Importing the export into another home gives the same overrides.
	dst := testHome(t)
	if code, _, stderr := cli(t, "config", "import", out, "--home", dst); code != 0 {
		t.Fatalf("config import of the export: exit %d: %s", code, stderr)
	}
	again := filepath.Join(t.TempDir(), "again.json")
	if code, _, stderr := cli(t, "config", "export", "--home", dst, again); code != 0 {
		t.Fatalf("second export: exit %d: %s", code, stderr)
	}
	b2, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tasksOf(t, b2), tasksOf(t, b); got != want {
		t.Errorf("round trip changed the tasks:\n got %s\nwant %s", got, want)
	}
	for _, want := range []string{`"appName": "demo"`, `"name": "hello"`, `"MODE": "quiet"`, `"deleted": true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %s:\n%s", want, b)
		}
	}
}

// tasksOf returns the tasks of a tasks file without their updatedAt, as
// JSON.
func tasksOf(t *testing.T, b []byte) string {
	t.Helper()
	var f struct{ Tasks []map[string]any }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	for _, e := range f.Tasks {
		delete(e, "updatedAt")
	}
	out, _ := json.Marshal(f.Tasks)
	return string(out)
}

func TestConfigImportRejects(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	tests := []struct {
		name, file string
		code       int
		stderr     string
	}{
		{name: "not a tasks file", file: `{"version": "2.0", "tasks": []}`, code: 1},
		{name: "unknown app", file: `{"version": "1.0", "lastModified": "2026-01-02T03:04:05Z", "tasks": [{"name": "hello", "appName": "nope", "enabled": false}]}`, code: 1, stderr: "nothing imported"},
		{name: "bad schedule", file: `{"version": "1.0", "lastModified": "2026-01-02T03:04:05Z", "tasks": [{"name": "hello", "appName": "demo", "schedule": "61 * * * *"}]}`, code: 1, stderr: "nothing imported"},
	}
	for _, tc := range tests {
		p := filepath.Join(t.TempDir(), "tasks.json")
		mustWrite(t, p, []byte(tc.file))
		code, _, stderr := cli(t, "config", "import", "--home", home, p)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, want %d with %q: %s", tc.name, code, tc.code, tc.stderr, stderr)
		}
	}
	if code, stdout, _ := cli(t, "config", "export", "--home", home); code != 0 || strings.Contains(stdout, `"name"`) {
		t.Errorf("a rejected import stored something: %s", stdout)
	}
	if code, _, _ := cli(t, "config", "import", "--home", home); code != 1 {
		t.Errorf("config import without FILE: exit %d", code)
	}
	if code, _, _ := cli(t, "config"); code != exitUsage {
		t.Errorf("config: exit %d", code)
	}
}
