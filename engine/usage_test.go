package engine

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// The lines a run's log buffer keeps count against its memory limit: the
// recorded peak includes them, and when they do not fit beside the guest
// they are written at once instead of kept.
func TestLogBufferCountsAgainstMemory(t *testing.T) {
	wasm, err := os.ReadFile(wasmtest.BuildFile(t, "testdata/echo"))
	if err != nil {
		t.Fatal(err)
	}
	const lines, size = 50, 60000
	// Batches of 1000 lines, and a flush timer on a clock that does not
	// move: every line waits in the buffer until the run ends, if it can.
	b := newBundle(t, Config{LogBatch: 1000, LogFlush: time.Hour}, testApp{name: "demo", modules: map[string][]byte{"echo": wasm},
		tasks: "tasks:\n  - name: echo\n    limits: { memory: 32MiB, logs: 8MiB }\n"})
	b.start()
	small := b.trigger("demo", "echo", []byte(fmt.Sprintf(`{"logLines":%d,"logBytes":1}`, lines)))
	big := b.trigger("demo", "echo", []byte(fmt.Sprintf(`{"logLines":%d,"logBytes":%d}`, lines, size)))
	if small.Status != "succeeded" || big.Status != "succeeded" {
		t.Fatalf("runs %s (%s), %s (%s)", small.Status, small.Error, big.Status, big.Error)
	}
	if grew := big.PeakMemory - small.PeakMemory; grew < lines*size {
		t.Fatalf("peak memory %d logging %d lines of %d bytes, %d logging small ones: the buffered lines are not counted", big.PeakMemory, lines, size, small.PeakMemory)
	}
	u, err := b.store.RunUsage(context.Background(), big.ID)
	if err != nil || u.LogBytes < lines*size || u.PeakMemory != big.PeakMemory {
		t.Fatalf("usage %+v, %v", u, err)
	}

	// Under a limit with less room than the lines take, they are written
	// as they come; none is lost and the peak stays within the limit.
	// The big run's peak is its guest's memory and every line; half the
	// lines' room less leaves the guest what it needs.
	limit := (big.PeakMemory - lines*size/2 + 1<<16 - 1) &^ (1<<16 - 1)
	mustWrite(t, b.home+"/apps/demo/config/tasks.yaml", fmt.Sprintf("tasks:\n  - name: echo\n    limits: { memory: %d, logs: 8MiB }\n", limit))
	if err := b.engine.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	tight := b.trigger("demo", "echo", []byte(fmt.Sprintf(`{"logLines":%d,"logBytes":%d}`, lines, size)))
	if tight.Status != "succeeded" || tight.PeakMemory > limit {
		t.Fatalf("under a %d limit: %s (%s), peak %d", limit, tight.Status, tight.Error, tight.PeakMemory)
	}
	t.Logf("small peak %d, big peak %d, limit %d, tight peak %d", small.PeakMemory, big.PeakMemory, limit, tight.PeakMemory)
	if lim := b.task("demo", "echo").Task.Limits.Memory; lim != limit {
		t.Fatalf("the task's limit is %d after the reload; want %d", lim, limit)
	}
	logs, err := b.store.RunLogs(context.Background(), tight.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range logs {
		if len(l.Message) == size {
			n++
		}
	}
	if n != lines {
		t.Fatalf("%d of %d lines stored", n, lines)
	}
}
