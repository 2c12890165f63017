package engine

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestRunEnvironmentResolvesSecrets runs a guest that prints its
// GREETING variable, a reference to a secret: set, the guest gets the
// value and nothing the engine records holds it; missing, the run fails
// with an error naming the secret.
func TestRunEnvironmentResolvesSecrets(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: echo
    environment: { GREETING: "<${secret:GREET}>" }
`, modules: map[string][]byte{"echo": wasm}})
	box, err := secrets.New(bytes.Repeat([]byte{3}, secrets.KeySize), b.store)
	if err != nil {
		t.Fatal(err)
	}
	b.engine.cfg.Secrets = box
	b.start()
	ctx := context.Background()

	id, err := b.engine.Trigger(ctx, "demo", "echo", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.idle()
	r, err := b.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || !strings.Contains(r.Error, "secret GREET") || !strings.Contains(r.Error, "GREETING") {
		t.Errorf("run without the secret: %s, %q; want failed naming secret GREET", r.Status, r.Error)
	}

	const value = "v4lue-of-the-secret"
	if err := box.Set(ctx, "demo", "GREET", []byte(value)); err != nil {
		t.Fatal(err)
	}
	id, err = b.engine.Trigger(ctx, "demo", "echo", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.idle()
	r, err = b.store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded || strings.TrimSpace(r.Output) != "greeting: <"+value+">" {
		t.Fatalf("run with the secret: %s, %q, output %q; want the value in the guest's environment", r.Status, r.Error, r.Output)
	}
	// The guest printed it (its business); the engine recorded it nowhere
	// else: not in the run's input, result, error or log lines.
	lines, err := b.store.RunLogs(ctx, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	recorded := string(r.Input) + string(r.Result) + r.Error + r.Reason
	for _, l := range lines {
		recorded += l.Message
	}
	if strings.Contains(recorded, value) {
		t.Errorf("the run's record holds the secret's value: %q", recorded)
	}
	if info, _ := b.engine.Task("demo", "echo"); info.Task.Environment["GREETING"] != "<${secret:GREET}>" {
		t.Errorf("the task's environment became %q: the engine must keep the reference", info.Task.Environment["GREETING"])
	}
}

func TestTaskChangedCarriesTheActor(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "a", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	b.start()
	ev := b.subscribe()
	if err := b.engine.SetEnabled(WithActor(context.Background(), "token:ops"), "a", "job", false); err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(EventTaskChanged); e.Actor != "token:ops" {
		t.Errorf("task.changed actor = %q, want token:ops", e.Actor)
	}
}

func TestStartPrunesTheAuditLog(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{AuditRetention: 24 * time.Hour}, testApp{name: "a", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}})
	ctx := context.Background()
	for _, at := range []time.Time{t0.Add(-48 * time.Hour), t0.Add(-time.Hour)} {
		if _, err := b.store.AppendAudit(ctx, store.AuditEntry{Actor: "cli:u", Action: "app.enable", App: "a", Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	b.start()
	list, err := b.store.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(list) != 1 || !list[0].Time.Equal(t0.Add(-time.Hour)) {
		t.Errorf("audit log after start = %+v, %v; want only the entry within a day", list, err)
	}
}
