package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestInitTask: a version whose init task succeeds goes live; one whose
// init fails is not activated, the last good one stays with the error
// shown, and the next good version goes live again.
func TestInitTask(t *testing.T) {
	ctx := context.Background()
	v1 := testApp{name: "demo", manifest: "name: demo\nversion: '1'\n",
		tasks:   "tasks:\n  - name: init\n  - name: job\n",
		modules: map[string][]byte{"init": wasmtest.Hello(), "job": wasmtest.Hello()}}
	b := newBundle(t, Config{}, v1)
	b.start()
	e := b.engine
	if info, _ := e.App("demo"); !info.Loaded || info.LoadError != "" || info.Manifest.Version != "1" {
		t.Fatalf("v1: %+v", info)
	}

	v2 := testApp{name: "demo", manifest: "name: demo\nversion: '2'\n",
		tasks:   "tasks:\n  - name: init\n  - name: job2\n",
		modules: map[string][]byte{"init": wasmtest.Unreachable(), "job2": wasmtest.Hello()}}
	writeApp(t, b.home, v2)
	if err := e.ReloadApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	info, _ := e.App("demo")
	if !info.Loaded || info.Manifest.Version != "1" || !strings.Contains(info.LoadError, "init task trapped") {
		t.Errorf("after a failed init: version %q, loaded %v, error %q; want version 1 kept and the error", info.Manifest.Version, info.Loaded, info.LoadError)
	}
	if _, ok := e.Task("demo", "job"); !ok {
		t.Error("the last good version's task is gone")
	}
	if _, ok := e.Task("demo", "job2"); ok {
		t.Error("the failed version's task is live")
	}
	errs, err := b.store.LoadErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs["demo"]) != 1 || errs["demo"][0].Task != InitTask {
		t.Errorf("load errors %+v, want one of the init task", errs)
	}

	v2.modules["init"] = wasmtest.Hello()
	writeApp(t, b.home, v2)
	if err := e.ReloadApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.App("demo"); info.Manifest.Version != "2" || info.LoadError != "" {
		t.Errorf("a good v2: %+v", info)
	}
	if _, ok := e.Task("demo", "job2"); !ok {
		t.Error("v2's task is not live")
	}
}

// TestInitTaskOfNewApp: an app whose first version's init fails does not
// go live at all.
func TestInitTaskOfNewApp(t *testing.T) {
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: init\n  - name: job\n    schedule: '* * * * *'\n",
		modules: map[string][]byte{"init": wasmtest.Unreachable(), "job": wasmtest.Hello()}})
	b.start()
	if info, _ := b.engine.App("demo"); info.Loaded || info.LoadError == "" {
		t.Errorf("%+v, want not loaded, with the init's error", info)
	}
	if _, ok := b.engine.Task("demo", "job"); ok {
		t.Error("the task of an app whose init failed is live")
	}
}
