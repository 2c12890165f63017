package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestFinishedAfterRelease: run.finished is published only once the
// engine has released the run's slot, so that a subscriber that triggers
// the task again as it hears of the end is never refused as busy, though
// the task forbids overlap and its app's concurrency quota is one run.
//
// The subscriber acts at the worst moment the engine allows: as the run
// is about to release its slot, it takes the run.finished event if one
// has been published already, and triggers the task there and then;
// otherwise it waits for the event, as any subscriber does. Had the event
// come before the release, the trigger would find the task still running.
func TestFinishedAfterRelease(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, testApp{name: "demo", quota: 1,
		tasks:   "tasks:\n  - name: hello\n    concurrency: forbid\n",
		modules: map[string][]byte{"hello": wasmtest.Hello()}})
	events, unsubscribe := b.engine.Subscribe()
	defer unsubscribe()
	ctx := context.Background()
	var first int64
	type heard struct {
		again int64
		err   error
	}
	// atRelease gets what the subscriber did at the release of the first
	// run: nothing if the event was not published yet.
	atRelease := make(chan *heard, 1)
	subscriberAt := func(id int64) {
		for {
			select {
			case ev := <-events:
				if ev.Type == EventRunFinished && ev.RunID == id {
					id, err := b.engine.Trigger(ctx, "demo", "hello", nil, "subscriber")
					atRelease <- &heard{id, err}
					return
				}
				continue
			default:
			}
			atRelease <- nil
			return
		}
	}
	var once sync.Once
	b.engine.releasing = func(h *runHandle) { once.Do(func() { subscriberAt(h.req.id) }) }
	b.start()

	var err error
	if first, err = b.engine.Trigger(ctx, "demo", "hello", nil, "test"); err != nil {
		t.Fatal(err)
	}
	var h *heard
	select {
	case h = <-atRelease:
	case <-time.After(30 * time.Second):
		t.Fatal("the run never released its slot")
	}
	if h == nil {
		// The event comes after the release; the subscriber hears it now.
		deadline := time.After(30 * time.Second)
		for h == nil {
			select {
			case ev := <-events:
				if ev.Type == EventRunFinished && ev.RunID == first {
					id, err := b.engine.Trigger(ctx, "demo", "hello", nil, "subscriber")
					h = &heard{id, err}
				}
			case <-deadline:
				t.Fatal("run.finished was never published")
			}
		}
	}
	if errors.Is(h.err, ErrBusy) {
		t.Fatalf("triggering the task as its run.finished arrived: %v; the run's slot was still held", h.err)
	}
	if h.err != nil || h.again == 0 {
		t.Fatalf("triggering the task as its run.finished arrived: run %d, %v", h.again, h.err)
	}
	b.idle()
}
