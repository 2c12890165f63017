package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/gobuild"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestRoundTrip takes an app through its whole life in a home outside the
// repository, offline (GOPROXY=off): new → build → go test → validate →
// export → uninstall → install from the export → load, and runs the
// installed task once through an engine on a fake clock. The installed
// files must be the exported ones, hash for hash.
func TestRoundTrip(t *testing.T) {
	if _, err := gobuild.Toolchain(); err != nil {
		t.Skip(err)
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	ctx := context.Background()
	home := t.TempDir()

	dir, err := lifecycle.New(home, "greeter", lifecycle.NewOptions{Description: "Greets people", Author: "Test", Roles: []string{"operator"}})
	if err != nil {
		t.Fatal(err)
	}
	targets, err := build.Find(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if err := gobuild.Build(ctx, tg.Dir, tg.Out); err != nil {
			t.Fatal(err)
		}
	}
	goCmd, _ := gobuild.Toolchain()
	test := exec.CommandContext(ctx, goCmd, "test", "-count=1", "./...")
	test.Dir = dir
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("go test in the new app: %v\n%s", err, out)
	}

	rt, err := lifecycle.NewRuntime(ctx, wasmtest.CompilationCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	rep, err := lifecycle.Validate(ctx, dir, lifecycle.ValidateOptions{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK(true) {
		t.Fatalf("validate: %+v", rep)
	}

	zipPath, manifest, err := lifecycle.ExportFile(home, "greeter", t.TempDir(), time.Now(), lifecycle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	un, err := lifecycle.Uninstall(ctx, home, "greeter", lifecycle.UninstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the app is still installed: %v", err)
	}
	if _, err := os.Stat(un.Backup); err != nil {
		t.Fatalf("no backup: %v", err)
	}

	res, err := lifecycle.Install(ctx, home, zipPath, lifecycle.InstallOptions{Strict: true, Validate: lifecycle.ValidateOptions{Runtime: rt}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || len(res.Files) != len(manifest.Files) {
		t.Fatalf("install = %+v", res)
	}
	for i, f := range res.Files {
		if f != manifest.Files[i] {
			t.Errorf("installed %+v, exported %+v", f, manifest.Files[i])
		}
	}
	again, err := lifecycle.Export(home, "greeter", new(bytes.Buffer), lifecycle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range again.Files {
		if f != manifest.Files[i] {
			t.Errorf("on disk %+v, exported %+v", f, manifest.Files[i])
		}
	}
	a, err := app.Load(dir, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Errors) != 0 || len(a.Warnings) != 0 || len(a.Tasks) != 2 { // the task and init
		t.Fatalf("load: errors %v warnings %v tasks %d", a.Errors, a.Warnings, len(a.Tasks))
	}
	// The installed app's source still builds and tests.
	test = exec.CommandContext(ctx, goCmd, "test", "-count=1", "./...")
	test.Dir = dir
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("go test in the installed app: %v\n%s", err, out)
	}

	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := engine.NewFakeClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
	e, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	id, err := e.Trigger(ctx, "greeter", lifecycle.TemplateTask, []byte(`{"name":"Ada"}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(ctx)
	run, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var result struct {
		Message string `json:"message"`
		Runs    int    `json:"runs"`
	}
	// The second count: the template's init task counted itself first.
	if err := json.Unmarshal(run.Result, &result); err != nil || run.Status != store.StatusSucceeded || result.Message != "Hello, Ada!" || result.Runs != 2 {
		t.Fatalf("run: %s %q %s (%v)\n%s", run.Status, run.Error, run.Result, err, run.Output)
	}
}
