package pending

import (
	"context"
	"errors"
	"testing"
)

// A caller that leaves before the writer takes the write gets its
// context's error, and the writer leaves the write out.
func TestLeftBeforeTaken(t *testing.T) {
	var o Op
	o.Init()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if o.Take() {
		t.Fatal("Take of a write whose caller left = true")
	}
}

// Once the writer has the write, the caller waits for its outcome even
// if its context ends.
func TestTakenIsAwaited(t *testing.T) {
	var o Op
	o.Init()
	if !o.Take() {
		t.Fatal("Take of a queued write = false")
	}
	if o.Take() {
		t.Fatal("a write taken twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	want := errors.New("the write's own error")
	got := make(chan error)
	go func() { got <- o.Wait(ctx) }()
	o.Finish(want)
	if err := <-got; err != want {
		t.Fatalf("Wait = %v, want the write's outcome %v", err, want)
	}
}

// The writer's outcome reaches a caller that waits, and Finish never
// waits for the caller.
func TestOutcome(t *testing.T) {
	var o Op
	o.Init()
	if !o.Take() {
		t.Fatal("Take of a queued write = false")
	}
	o.Finish(nil) // returns before anyone waits
	if err := o.Wait(context.Background()); err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
}
