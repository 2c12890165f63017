package engine

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

func TestOverridesApply(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: tick
    schedule: "0 * * * *"
`, modules: map[string][]byte{"tick": wasmtest.Hello(), "extra": wasmtest.Hello()}})
	b.start()
	ctx := context.Background()
	puts := []store.Override{
		{App: "demo", Task: "tick", Schedule: json.RawMessage(`"* * * * *"`), Environment: map[string]string{"A": "1"}},
		{App: "demo", Task: "extra", Custom: true, Definition: json.RawMessage(`{"name":"extra","schedule":"*/2 * * * *","module":"tasks/extra.wasm"}`)},
	}
	for _, o := range puts {
		if err := b.store.PutOverride(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.engine.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	b.advance(4*time.Minute, time.Minute)
	tests := []struct {
		task       string
		wantRuns   int
		wantCustom bool
	}{
		{"tick", 4, false},
		{"extra", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			if n := count(b.runs("demo", tt.task), store.StatusSucceeded, store.TriggerSchedule); n != tt.wantRuns {
				t.Errorf("%d runs, want %d", n, tt.wantRuns)
			}
			ti := b.task("demo", tt.task)
			if ti.Task.Custom != tt.wantCustom || ti.LoadError != "" {
				t.Errorf("custom %v, load error %q; want custom %v and no error", ti.Task.Custom, ti.LoadError, tt.wantCustom)
			}
		})
	}
	if env := b.task("demo", "tick").Task.Environment; env["A"] != "1" {
		t.Errorf("environment %v, want the override's A=1", env)
	}
}

func TestPermissionsAndMemoryQuota(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{GracePeriod: time.Millisecond}, testApp{name: "demo", tasks: `
tasks:
  - name: spin
    concurrency: allow
    limits: { memory: 1MiB }
    termination: { maxRuntime: 1h }
  - name: hello
`, modules: map[string][]byte{"spin": wasmtest.Spin(), "hello": wasmtest.Hello()}})
	mustWrite(t, b.home+"/apps/demo/app.yaml", `name: demo
permissions: { files: true, kv: true, http: [example.com] }
quotas: { concurrency: 10, memory: 2MiB }
`)
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	id, err := b.engine.Trigger(ctx, "demo", "hello", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	b.idle()
	if r, err := b.store.GetRun(ctx, id); err != nil || r.Status != store.StatusSucceeded {
		t.Fatalf("run with files, kv and http permissions: %+v, %v", r, err)
	}
	for range 3 {
		if _, err := b.engine.Trigger(ctx, "demo", "spin", nil, "test"); err != nil {
			t.Fatal(err)
		}
	}
	ev.wait(EventRunStarted)
	ev.wait(EventRunStarted)
	if ti := b.task("demo", "spin"); ti.Running != 2 || ti.Queued != 1 {
		t.Errorf("%d running, %d queued; want 2 and 1: 2 MiB hold two runs of 1 MiB", ti.Running, ti.Queued)
	}
}

func TestPutOverride(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: tick\n", modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	ctx := context.Background()
	tests := []struct {
		name    string
		o       store.Override
		wantErr error
	}{
		{"bad schedule", store.Override{App: "demo", Task: "tick", Schedule: json.RawMessage(`"61 * * * *"`)}, ErrInvalidOverride},
		{"unknown app", store.Override{App: "nope", Task: "tick"}, ErrNotFound},
		{"good schedule", store.Override{App: "demo", Task: "tick", Schedule: json.RawMessage(`"* * * * *"`)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.engine.PutOverride(ctx, tt.o); !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutOverride: %v, want %v", err, tt.wantErr)
			}
		})
	}
	b.advance(2*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 2 {
		t.Fatalf("%d runs after the schedule override, want 2", n)
	}
}
