package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/gobuild"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// appTestHome is a home with one app, demo, whose task hello has a module
// assembled by hand.
func appTestHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "apps", "demo")
	for p, b := range map[string][]byte{
		"app.yaml":          []byte("name: demo\nversion: 1.0.0 # the first\n"),
		"config/tasks.yaml": []byte("tasks:\n  - name: hello\n    schedule: \"@every 1m\"\n"),
		"tasks/hello.wasm":  wasmtest.Hello(),
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// answering makes the uninstall confirmation read answer, from a terminal
// when tty.
func answering(t *testing.T, answer string, tty bool) {
	t.Helper()
	old := confirmInput
	confirmInput = func() (io.Reader, bool) { return strings.NewReader(answer), tty }
	t.Cleanup(func() { confirmInput = old })
}

// TestApp runs the app commands on one home in order. It replaces
// confirmInput, so it does not run in parallel.
func TestApp(t *testing.T) {
	home := appTestHome(t)
	out := t.TempDir()
	installed := func() bool {
		_, err := os.Stat(filepath.Join(home, "apps", "demo"))
		return err == nil
	}
	type appInfo struct {
		Name    string
		Version string
		Enabled bool
		Loaded  bool
		Roles   []string
		Tasks   []struct {
			Name  string
			Built bool
		}
	}
	info := func(t *testing.T, name string) appInfo {
		t.Helper()
		code, stdout, stderr := cli(t, "app", "info", name, "--home", home, "--json")
		if code != 0 {
			t.Fatalf("app info: exit %d: %s", code, stderr)
		}
		var a appInfo
		if err := json.Unmarshal([]byte(stdout), &a); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		return a
	}

	steps := []struct {
		name   string
		args   []string
		answer *string // uninstall: the confirmation typed on a terminal
		noTTY  bool
		code   int
		out    string // in stdout, or in stdout or stderr when code != 0
		after  func(t *testing.T)
	}{
		{name: "no subcommand", args: []string{"app"}, code: exitUsage, out: "want new, list"},
		{name: "unknown subcommand", args: []string{"app", "frobnicate"}, code: exitUsage, out: "unknown subcommand"},
		{name: "list takes no name", args: []string{"app", "list", "x"}, code: exitUsage, out: "want no arguments"},
		{name: "new", args: []string{"app", "new", "greeter", "--description", "Greets: people", "--author", "Ada", "--roles", "operator,viewer", "--build=false"}, out: "created",
			after: func(t *testing.T) {
				a := info(t, "greeter")
				if a.Version != "0.1.0" || len(a.Roles) != 2 || len(a.Tasks) != 2 || a.Tasks[0].Built {
					t.Errorf("greeter = %+v", a)
				}
			}},
		{name: "new again", args: []string{"app", "new", "greeter", "--build=false"}, code: 1, out: "already installed"},
		{name: "new with a path", args: []string{"app", "new", "../evil", "--build=false"}, code: 1, out: "invalid name"},
		{name: "list", args: []string{"app", "list"}, out: "greeter"},
		{name: "list json", args: []string{"app", "list", "--json"}, out: `"name": "demo"`},
		{name: "info", args: []string{"app", "info", "demo"}, out: "hello  @every 1m"},
		{name: "info shows the quotas", args: []string{"app", "info", "demo"}, out: "quotas:      concurrency 4, memory 1 GiB, kv 256 MiB, files 1 GiB"},
		{name: "info of a missing app", args: []string{"app", "info", "nope"}, code: 1, out: "app not found"},
		{name: "disable", args: []string{"app", "disable", "demo"}, out: "app demo disabled",
			after: func(t *testing.T) {
				if info(t, "demo").Enabled {
					t.Error("still enabled")
				}
				b, _ := os.ReadFile(filepath.Join(home, "apps", "demo", "app.yaml"))
				if string(b) != "name: demo\nenabled: false\nversion: 1.0.0 # the first\n" {
					t.Errorf("app.yaml:\n%s", b)
				}
			}},
		{name: "enable", args: []string{"app", "enable", "demo"}, out: "app demo enabled",
			after: func(t *testing.T) {
				if !info(t, "demo").Enabled {
					t.Error("still disabled")
				}
			}},
		{name: "validate", args: []string{"app", "validate", "demo"}, out: "0 errors, 0 warnings: ok"},
		{name: "validate unbuilt", args: []string{"app", "validate", "greeter"}, code: 1, out: "tasks[0].module"},
		{name: "validate json", args: []string{"app", "validate", "greeter", "--json"}, code: 1, out: `"ok": false`},
		{name: "export", args: []string{"app", "export", "demo", "--output", out}, out: "exported demo (3 files)"},
		{name: "uninstall without a terminal", args: []string{"app", "uninstall", "demo"}, noTTY: true, code: exitUsage, out: "not a terminal",
			after: func(t *testing.T) {
				if !installed() {
					t.Error("uninstalled")
				}
			}},
		{name: "uninstall answered no", args: []string{"app", "uninstall", "demo"}, answer: ptr("n\n"), code: 1, out: "not uninstalled",
			after: func(t *testing.T) {
				if !installed() {
					t.Error("uninstalled")
				}
			}},
		{name: "uninstall answered yes", args: []string{"app", "uninstall", "demo"}, answer: ptr("yes\n"), out: "backup in",
			after: func(t *testing.T) {
				if installed() {
					t.Error("still installed")
				}
			}},
		{name: "uninstall a missing app", args: []string{"app", "uninstall", "demo", "--yes"}, code: 1, out: "app not found"},
		{name: "install the export", args: []string{"app", "install", filepath.Join(out, "*.zip")}, out: "installed demo 1.0.0 (3 files, hashes verified)",
			after: func(t *testing.T) {
				if a := info(t, "demo"); !a.Loaded || !a.Tasks[0].Built {
					t.Errorf("demo = %+v", a)
				}
			}},
		{name: "install again", args: []string{"app", "install", filepath.Join(out, "*.zip")}, code: 1, out: "app already installed: demo; add --upgrade to replace it\n"},
		{name: "upgrade", args: []string{"app", "install", filepath.Join(out, "*.zip"), "--upgrade"}, out: "upgraded demo"},
		{name: "install junk", args: []string{"app", "install", filepath.Join(home, "apps", "demo", "app.yaml")}, code: 1, out: "archive refused"},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			args := append(s.args, "--home", home)
			for i, a := range args {
				if m, _ := filepath.Glob(a); strings.Contains(a, "*") && len(m) == 1 {
					args[i] = m[0]
				}
			}
			if s.answer != nil {
				answering(t, *s.answer, true)
			} else if s.noTTY {
				answering(t, "", false)
			}
			code, stdout, stderr := cli(t, args...)
			text := stdout
			if code != 0 {
				text += stderr
			}
			if code != s.code || !strings.Contains(text, s.out) {
				t.Fatalf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", s.args, code, s.code, s.out, stdout, stderr)
			}
			if s.after != nil {
				s.after(t)
			}
		}) {
			break
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(home, "data", "backups")); len(ents) != 2 {
		t.Errorf("backups holds %d files, want 2 (uninstall, upgrade)", len(ents))
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*.zip")); len(m) != 1 || !regexp.MustCompile(`/demo-v1\.0\.0-\d{8}\.zip$`).MatchString(m[0]) {
		t.Errorf("exports %v", m)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAppUninstallPurge checks that --purge deletes the app's store data
// and files, and that without it they stay.
func TestAppUninstallPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, purge := range []bool{false, true} {
		home := appTestHome(t)
		st, err := openStore(ctx, home, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.KV("demo").Set(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := st.KV("other").Set(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		st.Close()
		files := filepath.Join(home, "data", "files", "demo")
		os.MkdirAll(files, 0o755)
		args := []string{"app", "uninstall", "demo", "--yes", "--home", home}
		if purge {
			args = append(args, "--purge")
		}
		if code, _, stderr := cli(t, args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		st, err = store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, demoKept, _ := st.KV("demo").Get(ctx, "k")
		_, otherKept, _ := st.KV("other").Get(ctx, "k")
		st.Close()
		_, ferr := os.Stat(files)
		if demoKept == purge || !otherKept || (ferr == nil) == purge {
			t.Errorf("purge %v: demo's KV kept %v, other's %v, files: %v", purge, demoKept, otherKept, ferr)
		}
	}
}

// TestAppNewBuilds creates an app with its module built, rebuilds it with
// `cronbox build`, offline, and validates it.
func TestAppNewBuilds(t *testing.T) {
	if _, err := gobuild.Toolchain(); err != nil {
		t.Skip(err)
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	home := t.TempDir()
	for _, args := range [][]string{
		{"app", "new", "built", "--home", home},
		{"build", filepath.Join(home, "apps", "built")},
		{"app", "validate", "built", "--strict", "--home", home},
	} {
		if code, stdout, stderr := cli(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "apps", "built", "tasks", "hello.wasm")); err != nil {
		t.Fatal(err)
	}
	loadsWithInit(t, home, "built")
}

// loadsWithInit starts an engine on home and checks that it loads the app
// name, built already, and that its init task ran once: the template's
// init runs the greeting, which counts itself in the app's key-value store.
func loadsWithInit(t *testing.T, home, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, rt := testenv.Open(t, home)
	eng, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt,
		Clock: engine.NewFakeClock(time.Date(2026, 1, 5, 10, 0, 30, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(ctx)
	if info, ok := eng.App(name); !ok || !info.Loaded || info.LoadError != "" {
		t.Fatalf("app %s: %+v", name, info)
	}
	if task, ok := eng.Task(name, engine.InitTask); !ok || task.LoadError != "" {
		t.Fatalf("init task: %+v, %v", task, ok)
	}
	runs, ok, err := st.KV(name).Get(ctx, "runs")
	if err != nil || !ok || string(runs) != "1" {
		t.Fatalf("the count after loading: %q, %v, %v; want 1, from the init task", runs, ok, err)
	}
}
