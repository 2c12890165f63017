package runtime_test

import (
	"context"
	"testing"

	"github.com/cronbox/cronbox/runtime"
)

// BenchmarkRunGoGuest measures one run of a small Go guest in a fresh
// instance, end to end.
func BenchmarkRunGoGuest(b *testing.B) {
	f := newFixture(b, runtime.Config{})
	ctx := context.Background()
	spec := runtime.Spec{Args: []string{"guest", "ok"}}
	for b.Loop() {
		res, err := f.rt.Run(ctx, f.guest, spec)
		if err != nil || res.Status != runtime.StatusSucceeded {
			b.Fatal(res, err)
		}
	}
}
