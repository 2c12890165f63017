package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/wasmtest"
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

// BenchmarkTimeoutLatency measures how long after its time limit a guest
// spinning in a tight loop is stopped, as ms-over-limit.
func BenchmarkTimeoutLatency(b *testing.B) {
	f := newFixture(b, runtime.Config{})
	ctx := context.Background()
	m, _, err := f.rt.Load(ctx, wasmtest.Spin())
	if err != nil {
		b.Fatal(err)
	}
	const limit = 20 * time.Millisecond
	spec := runtime.Spec{Limits: runtime.Limits{Timeout: limit}}
	var over time.Duration
	for b.Loop() {
		res, err := f.rt.Run(ctx, m, spec)
		if err != nil || res.Status != runtime.StatusTimedOut {
			b.Fatal(res, err)
		}
		over += res.Duration - limit
	}
	b.ReportMetric(float64(over.Microseconds())/1000/float64(b.N), "ms-over-limit")
}

// BenchmarkRunMinimal measures one run of a minimal module (it writes a
// line) in a fresh instance: the runtime's own cost per run.
func BenchmarkRunMinimal(b *testing.B) {
	f := newFixture(b, runtime.Config{})
	ctx := context.Background()
	m, _, err := f.rt.Load(ctx, wasmtest.Hello())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := f.rt.Run(ctx, m, runtime.Spec{})
		if err != nil || res.Status != runtime.StatusSucceeded {
			b.Fatal(res, err)
		}
	}
}
