package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

func TestOverdueWithoutKill(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{GracePeriod: time.Millisecond}, testApp{name: "demo", tasks: `
tasks:
  - name: slow
    termination: { maxRuntime: 1m, killOnTimeout: false, hardLimit: 1h }
`, modules: map[string][]byte{"slow": wasmtest.Spin()}})
	ev := b.subscribe()
	b.start()
	id, err := b.engine.Trigger(context.Background(), "demo", "slow", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	b.clock.Advance(time.Minute)
	if e := ev.wait(EventRunOverdue); e.RunID != id {
		t.Errorf("overdue event for run %d, want %d", e.RunID, id)
	}
	if ti := b.task("demo", "slow"); ti.Running != 1 {
		t.Errorf("%d running after maxRuntime, want 1: an overdue run goes on", ti.Running)
	}
	if running := b.engine.Running(); len(running) != 1 || !running[0].Overdue || running[0].ID != id {
		t.Errorf("Running() = %+v, want run %d overdue", running, id)
	}
	// Once it ends, the run keeps that it went overdue.
	if err := b.engine.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	b.idle()
	if runs := b.runs("demo", "slow"); len(runs) != 1 || !runs[0].Overdue || runs[0].Status != store.StatusCancelled {
		t.Errorf("recorded %+v, want a cancelled run, overdue", runs)
	}
}

func TestQueueFullIsSkipped(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{MaxQueued: 1, GracePeriod: time.Millisecond}, testApp{name: "demo", quota: 1, tasks: `
tasks:
  - name: block
    termination: { maxRuntime: 1h }
  - name: tick
    schedule: "* * * * *"
    concurrency: allow
`, modules: map[string][]byte{"block": wasmtest.Spin(), "tick": wasmtest.Hello()}})
	ev := b.subscribe()
	b.start()
	if _, err := b.engine.Trigger(context.Background(), "demo", "block", nil, "test"); err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	b.clock.Advance(time.Minute) // queued: the one slot is taken
	b.clock.Advance(time.Minute) // skipped: the queue is full
	if e := ev.wait(EventRunSkipped); e.Message != reasonQuota {
		t.Errorf("skip reason %q, want %q", e.Message, reasonQuota)
	}
	if ti := b.task("demo", "tick"); ti.Queued != 1 {
		t.Errorf("%d queued, want 1", ti.Queued)
	}
}

func TestAppDisabledDoesNotFire(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: "tasks:\n  - name: tick\n    schedule: \"* * * * *\"\n", modules: map[string][]byte{"tick": wasmtest.Hello()}})
	mustWrite(t, b.home+"/apps/demo/app.yaml", "name: demo\nenabled: false\n")
	b.start()
	b.advance(3*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 0 {
		t.Fatalf("%d runs of a disabled app", n)
	}
	if err := b.engine.SetEnabled(context.Background(), "demo", "tick", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.Trigger(context.Background(), "demo", "tick", nil, "test"); err != nil {
		t.Fatalf("a disabled task may still be run by hand: %v", err)
	}
	b.idle()
	if n := count(b.runs("demo", "tick"), store.StatusSucceeded, store.TriggerManual); n != 1 {
		t.Fatalf("%d manual runs, want 1", n)
	}
}

func TestRetentionPrunes(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{PruneEvery: 5}, testApp{name: "demo", tasks: `
tasks:
  - name: tick
    schedule: "* * * * *"
    retention: { keep: 3 }
`, modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	b.advance(10*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 3 {
		t.Fatalf("%d runs kept, want 3", n)
	}
}

// TestRetentionSlack: a full history is pruned some runs at a time: a
// keep of 64 lets 2 more runs (1/32) stay until the next makes them 3,
// then prunes back to 64.
func TestRetentionSlack(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: `
tasks:
  - name: tick
    schedule: "* * * * *"
    retention: { keep: 64 }
`, modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	b.advance(66*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 66 {
		t.Fatalf("%d runs kept, want 66 (keep 64 and its slack of 2)", n)
	}
	b.advance(time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 64 {
		t.Fatalf("%d runs kept past the slack, want 64", n)
	}
}

// TestRetentionAgesOut checks that runs past a task's maxAge are pruned in
// the background even when the task does not run again.
func TestRetentionAgesOut(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{PruneInterval: 30 * time.Minute}, testApp{name: "demo", tasks: `
tasks:
  - name: manual
    retention: { maxAge: 2h }
`, modules: map[string][]byte{"manual": wasmtest.Hello()}})
	b.start()
	trigger := func() {
		t.Helper()
		if _, err := b.engine.Trigger(context.Background(), "demo", "manual", nil, "test"); err != nil {
			t.Fatal(err)
		}
		b.idle()
	}
	trigger()
	trigger()
	b.advance(90*time.Minute, 30*time.Minute)
	trigger() // at t0+1h30
	if n := len(b.runs("demo", "manual")); n != 3 {
		t.Fatalf("%d runs before they age out, want 3", n)
	}
	b.advance(60*time.Minute, 30*time.Minute) // t0+2h30: the first two are 2h30 old
	runs := b.runs("demo", "manual")
	if len(runs) != 1 || !runs[0].StartTime.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("after the sweep: %d runs (%v), want only the one of t0+1h30", len(runs), runs)
	}
}

func TestSlowSubscriberDropsEvents(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{EventBuffer: 1}, testApp{name: "demo", tasks: "tasks:\n  - name: hello\n    concurrency: allow\n", modules: map[string][]byte{"hello": wasmtest.Hello()}})
	_, cancel := b.engine.Subscribe() // never read
	defer cancel()
	b.start()
	for range 3 {
		if _, err := b.engine.Trigger(context.Background(), "demo", "hello", nil, "test"); err != nil {
			t.Fatal(err)
		}
	}
	b.idle()
	if b.engine.DroppedEvents() == 0 {
		t.Fatal("no dropped events counted")
	}
	if n := count(b.runs("demo", "hello"), store.StatusSucceeded, ""); n != 3 {
		t.Fatalf("%d runs succeeded, want 3: a slow subscriber must not block runs", n)
	}
}

func TestDisabledWhileQueued(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{GracePeriod: time.Millisecond}, testApp{name: "demo", quota: 1, tasks: `
tasks:
  - name: block
    termination: { maxRuntime: 1h }
  - name: tick
    schedule: "* * * * *"
`, modules: map[string][]byte{"block": wasmtest.Spin(), "tick": wasmtest.Hello()}})
	ev := b.subscribe()
	b.start()
	ctx := context.Background()
	block, err := b.engine.Trigger(ctx, "demo", "block", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(EventRunStarted)
	b.clock.Advance(time.Minute) // tick queues behind block
	if e := ev.wait(EventRunQueued); e.Task != "tick" {
		t.Fatalf("queued %s, want tick", e.Task)
	}
	if err := b.engine.SetEnabled(ctx, "demo", "tick", false); err != nil {
		t.Fatal(err)
	}
	if err := b.engine.Cancel(ctx, block); err != nil {
		t.Fatal(err)
	}
	b.idle()
	runs := b.runs("demo", "tick")
	if len(runs) != 1 || runs[0].Status != store.StatusCancelled || !strings.Contains(runs[0].Error, reasonDisabled) {
		t.Fatalf("runs %+v, want one cancelled because the task was disabled", runs)
	}
}
