package engine

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// echoModule returns the echo test task (testdata/echo), built once per
// process by wasmtest's cache.
func echoModule(t testing.TB) []byte {
	t.Helper()
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// floodInput makes echo log lines lines of size bytes.
func floodInput(lines, size int) json.RawMessage {
	b, _ := json.Marshal(map[string]int{"logLines": lines, "logBytes": size})
	return b
}

// TestLogLimit floods a run's log: the store keeps limits.logs of it (by
// default 1 MiB), counts the rest and says so in a last line.
func TestLogLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits string
		limit  int64
	}{
		{"default", "", app.DefaultLogLimit},
		{"limits.logs", "    limits: { logs: 100KiB }\n", 100 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, Config{EventBuffer: 1024}, testApp{name: "demo", tasks: "tasks:\n  - name: echo\n" + tt.limits,
				modules: map[string][]byte{"echo": echoModule(t)}})
			b.start()
			events, unsubscribe := b.engine.Subscribe()
			defer unsubscribe()
			const lines, size = 200, 32 << 10 // 6.25 MiB
			r := b.trigger("demo", "echo", floodInput(lines, size))
			if r.Status != store.StatusSucceeded {
				t.Fatalf("run %s: %s", r.Status, r.Error)
			}
			logs, err := b.store.RunLogs(context.Background(), r.ID, 0, store.MaxLimit)
			if err != nil {
				t.Fatal(err)
			}
			var stored int64
			for _, l := range logs[:len(logs)-1] {
				stored += int64(len(l.Message))
			}
			if stored > tt.limit || stored < tt.limit-size {
				t.Errorf("%d bytes of log messages stored, want at most limits.logs %d and no less than a line below", stored, tt.limit)
			}
			last := logs[len(logs)-1]
			if last.Level != "warn" || !strings.Contains(last.Message, "limits.logs") {
				t.Errorf("last line %s %q, want a warning naming limits.logs", last.Level, last.Message)
			}
			// echo logs its input first, then the flood.
			if want := int64(1+lines) - int64(len(logs)-1); r.LogsDropped != want {
				t.Errorf("LogsDropped = %d, want %d", r.LogsDropped, want)
			}
			// The live stream shows the stored lines, then one warning in
			// the closing line's place: no line past the limit.
			var live []Event
			for drained := false; !drained; {
				select {
				case ev := <-events:
					if ev.Type == EventRunLog && ev.RunID == r.ID {
						live = append(live, ev)
					}
				default:
					drained = true
				}
			}
			if len(live) != len(logs) {
				t.Fatalf("%d run.log events for %d stored lines", len(live), len(logs))
			}
			for i, ev := range live[:len(live)-1] {
				if ev.Seq != logs[i].Seq || ev.Message != logs[i].Message {
					t.Errorf("live line %d is #%d %.20q, stored #%d %.20q", i, ev.Seq, ev.Message, logs[i].Seq, logs[i].Message)
				}
			}
			if ev := live[len(live)-1]; ev.Seq != last.Seq || ev.Level != "warn" || !strings.Contains(ev.Message, "limits.logs") {
				t.Errorf("last live line #%d %s %q, want the warning in place of stored #%d", ev.Seq, ev.Level, ev.Message, last.Seq)
			}
			used, err := b.store.HistoryUsage(context.Background(), "demo")
			if err != nil {
				t.Fatal(err)
			}
			if max := tt.limit + 64<<10; used > max {
				t.Errorf("the app's history holds %d bytes after one run, want at most %d", used, max)
			}
		})
	}
}

// TestRetentionKeepHolds checks that retention.keep holds after every run,
// and at start for runs recorded under a larger keep.
func TestRetentionKeepHolds(t *testing.T) {
	t.Parallel()
	tasks := func(keep int) string {
		return "tasks:\n  - name: tick\n    schedule: \"* * * * *\"\n    retention: { keep: " + itoa(keep) + " }\n"
	}
	b := newBundle(t, Config{}, testApp{name: "demo", tasks: tasks(8), modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.start()
	b.advance(8*time.Minute, time.Minute)
	if n := len(b.runs("demo", "tick")); n != 8 {
		t.Fatalf("%d runs, want 8", n)
	}
	stopEngine(t, b.engine)

	// keep lowered to 3 while stopped: the next start prunes.
	writeApp(t, b.home, testApp{name: "demo", tasks: tasks(3), modules: map[string][]byte{"tick": wasmtest.Hello()}})
	b.engine = b.newEngine(Config{}, SQLiteStore(b.store))
	b.start()
	if n := len(b.runs("demo", "tick")); n != 3 {
		t.Fatalf("%d runs after a start with keep 3, want 3", n)
	}
	for range 4 {
		b.advance(time.Minute, time.Minute)
		if n := len(b.runs("demo", "tick")); n != 3 {
			t.Fatalf("%d runs after a run with keep 3, want 3", n)
		}
	}
}

// TestHistoryQuota runs an app whose runs log more than its history quota
// holds: its oldest runs go, its history stays within the quota plus the
// run being recorded.
func TestHistoryQuota(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", manifest: "name: demo\nquotas: { history: 2MiB }\n",
		tasks:   "tasks:\n  - name: echo\n    limits: { logs: 600KiB }\n",
		modules: map[string][]byte{"echo": echoModule(t)}})
	b.start()
	var ids []int64
	for range 6 {
		r := b.trigger("demo", "echo", floodInput(20, 32<<10)) // 640 KiB, 600 KiB stored
		ids = append(ids, r.ID)
		used, err := b.store.HistoryUsage(context.Background(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		if used > 2<<20 {
			t.Fatalf("after run %d the history holds %d bytes, more than its quota of 2 MiB", r.ID, used)
		}
	}
	runs := b.runs("demo", "echo")
	if len(runs) != 3 || runs[0].ID != ids[3] {
		var left []int64
		for _, r := range runs {
			left = append(left, r.ID)
		}
		t.Fatalf("runs left %v of %v, want the newest 3", left, ids)
	}
}

// newEngine returns a new engine, not started, on b's home and clock, with
// st as its store.
func (b *bundle) newEngine(cfg Config, st Store) *Engine {
	b.t.Helper()
	cfg.Home, cfg.Store, cfg.Runtime, cfg.Clock = b.home, st, b.rt, b.clock
	e, err := New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { stopEngine(b.t, e) })
	return e
}

// stopEngine stops e, failing the test if it does not stop within 10s.
func stopEngine(t testing.TB, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Error(err)
	}
}
