package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestRunCapabilities runs a Go guest built with the SDK and checks that the
// run's input, configuration, environment, KV store, logs, progress and
// result pass between the task and the engine.
func TestRunCapabilities(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: echo
    environment: { GREETING: hi }
    config: { keep: 3 }
`, modules: map[string][]byte{"echo": wasm}})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, "demo", "echo", json.RawMessage(`{"x":1}`), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(EventRunProgress); e.Progress != 50 || e.Message != "halfway" {
		t.Errorf("progress event %+v, want 50%% halfway", e)
	}
	b.idle()
	r, err := b.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %s\n%s", r.Status, r.Error, r.Output)
	}
	var result struct{ Input, Config json.RawMessage }
	if err := json.Unmarshal(r.Result, &result); err != nil {
		t.Fatalf("result %q: %v", r.Result, err)
	}
	tests := []struct {
		name      string
		got, want string
	}{
		{"input", string(result.Input), `{"x":1}`},
		{"config", string(result.Config), `{"keep":3}`},
		{"output", strings.TrimSpace(r.Output), "greeting: hi"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	v, ok, err := b.store.KV("demo").Get(ctx, "last")
	if err != nil || !ok || string(v) != `{"x":1}` {
		t.Errorf("KV last = %q, %v, %v; want the input", v, ok, err)
	}
	lines, err := b.store.RunLogs(ctx, id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0].Message, "got input") || lines[0].Level != "info" {
		t.Errorf("logs %+v, want one info line saying got input", lines)
	}
}

// TestLogsOfRunningRunAreStored checks that a running run's log lines reach
// the store within Config.LogFlush, without waiting for a full batch or the
// run's end: a page opened on a long run shows what it logged so far.
func TestLogsOfRunningRunAreStored(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, Config{LogFlush: time.Second}, testApp{name: "demo", tasks: "tasks:\n  - name: echo\n", modules: map[string][]byte{"echo": wasm}})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, "demo", "echo", json.RawMessage(`{"sleepMs":60000}`), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(EventRunLog); e.Seq != 1 || e.Level != "info" || !strings.Contains(e.Message, "got input") {
		t.Errorf("log event %+v; want line 1, info, got input", e)
	}
	if lines, err := b.store.RunLogs(ctx, id, 0, 10); err != nil || len(lines) != 0 {
		t.Fatalf("logs before LogFlush passed: %+v, %v; want none yet (the batch waits)", lines, err)
	}
	b.clock.Advance(time.Second)
	testenv.WaitFor(t, "the running run's line to be stored once LogFlush passed", func() bool {
		lines, err := b.store.RunLogs(ctx, id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(lines) == 1 && strings.Contains(lines[0].Message, "got input")
	})
	if err := b.engine.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if lines, err := b.store.RunLogs(ctx, id, 0, 10); err != nil || len(lines) != 1 || lines[0].Seq != 1 {
		t.Fatalf("logs after the run: %+v, %v; want the one line, once, numbered 1 as its event was", lines, err)
	}
}

// TestAppStorageQuotas fills an app's key-value store and its directory
// from a task: the writes past quotas.kv and quotas.files fail, nothing
// past them is stored, and the run's log says which quota stopped it.
func TestAppStorageQuotas(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: echo\n", modules: map[string][]byte{"echo": wasm},
		manifest: "name: demo\npermissions: { files: true }\nquotas: { kv: 200KiB, files: 1MiB }\n"})
	b.start()
	ctx := context.Background()
	// What is already in the directory counts, measured before any run.
	if err := os.MkdirAll(filepath.Join(b.home, "data", "files", "demo"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(b.home, "data", "files", "demo", "old"), strings.Repeat("x", 1000))
	if st, err := b.engine.Storage(ctx, "demo"); err != nil || st != (Storage{KV: 0, KVQuota: 200 << 10, Files: 4096 + 1000, FilesQuota: 1 << 20, HistoryQuota: 1 << 30}) {
		t.Fatalf("storage before any run: %+v, %v", st, err)
	}
	r := b.trigger("demo", "echo", []byte(`{"kvFill": 65536}`))
	logs, err := b.store.RunLogs(ctx, r.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || !strings.Contains(fmt.Sprint(logs), "after 3 values") || !strings.Contains(fmt.Sprint(logs), "quota") {
		t.Errorf("filling the KV store: %s, %q\n%v", r.Status, r.Error, logs)
	}
	keys, err := b.store.KV("demo").List(ctx, "fill", "", 100)
	if err != nil || len(keys) != 3 {
		t.Errorf("the KV store holds %v (%v); want the 3 values that fit", keys, err)
	}

	r = b.trigger("demo", "echo", []byte(`{"fileFill": 262144}`))
	logs, err = b.store.RunLogs(ctx, r.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || !strings.Contains(fmt.Sprint(logs), "after 3 writes") || !strings.Contains(fmt.Sprint(logs), "quotas.files") {
		t.Errorf("filling the directory: %s, %q\n%v", r.Status, r.Error, logs)
	}
	fi, err := os.Stat(filepath.Join(b.home, "data", "files", "demo", "fill"))
	if err != nil || fi.Size() != 3*262144 {
		t.Errorf("data/files/demo/fill: %v, %v; want the 3 writes that fit", fi, err)
	}
	if st, err := b.engine.Storage(ctx, "demo"); err != nil || st.KV != 3*65541 || st.Files != 2*4096+1000+3*262144 || st.History == 0 {
		t.Errorf("storage after the runs: %+v, %v", st, err)
	}
	if _, err := b.engine.Storage(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("storage of an unknown app: %v", err)
	}
}
