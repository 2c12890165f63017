package instrument

// Benchmarks of what the instrumentation costs a guest, and of what it bounds:
// how long a stop-the-world phase waits for a spinning guest. Run them with
//
//	go test -run '^$' -bench 'Loop|GCWhileSpinning' ./runtime/internal/instrument/
//
// BenchmarkInstantiateGo measures what merging data segments saves.

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// countingLoopModule exports count(n), a tight loop counting from 0 to n
// (n >= 1): local.get, i32.const, i32.add, local.tee, local.get, i32.lt_u,
// br_if.
func countingLoopModule() []byte {
	return newModule(
		sec(1, vec(typeI32I32)),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("count", kindFunc, 0))),
		sec(10, vec(body([]byte{1, tI32},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 1}, i32Const(1), []byte{wI32Add, wLocalTee, 1},
			[]byte{wLocalGet, 0, wI32LtU, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 1, wEnd}))),
	)
}

// yieldIntervals are the values of YieldInterval the benchmarks compare.
var yieldIntervals = []int32{100, 1000, YieldInterval, 100000, 1000000}

// countingLoop instantiates countingLoopModule, instrumented with the given
// yield interval unless it is 0, in a compiler runtime.
func countingLoop(tb testing.TB, interval int32) api.Module {
	tb.Helper()
	wasm := countingLoopModule()
	if interval > 0 {
		var err error
		o := defaultOptions
		o.yieldInterval = interval
		if wasm, _, err = instrument(wasm, o); err != nil {
			tb.Fatalf("instrument: %v", err)
		}
	}
	mod, err := newRuntime(tb).InstantiateWithConfig(context.Background(), wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		tb.Fatalf("instantiating: %v", err)
	}
	return mod
}

// BenchmarkLoop measures the cost of the instrumentation in a tight loop, by
// yield interval: compare ns/iteration with the original module's.
func BenchmarkLoop(b *testing.B) {
	const iterations = 100_000_000
	for _, interval := range append([]int32{0}, yieldIntervals...) {
		name := "original"
		if interval > 0 {
			name = fmt.Sprintf("interval=%d", interval)
		}
		b.Run(name, func(b *testing.B) {
			count := countingLoop(b, interval).ExportedFunction("count")
			for b.Loop() {
				if res, err := count.Call(context.Background(), iterations); err != nil || res[0] != iterations {
					b.Fatalf("count(%d) = %v, %v", iterations, res, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/iterations, "ns/iteration")
		})
	}
}

// stoppingLatency is the runtime metric of how long stop-the-world phases of
// the garbage collector wait for all goroutines to stop.
const stoppingLatency = "/sched/pauses/stopping/gc:seconds"

// readStopping returns the histogram of stoppingLatency.
func readStopping() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: stoppingLatency}}
	metrics.Read(s)
	return s[0].Value.Float64Histogram()
}

// quantileSince returns the upper bound of the bucket of h holding the
// quantile q of what h counted since before.
func quantileSince(before, h *metrics.Float64Histogram, q float64) time.Duration {
	var total uint64
	for i, n := range h.Counts {
		total += n - before.Counts[i]
	}
	seen := uint64(0)
	for i, n := range h.Counts {
		if seen += n - before.Counts[i]; total > 0 && float64(seen) >= q*float64(total) {
			upper := h.Buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = h.Buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}

// collectWhile collects garbage b.N times while spin runs, until its context
// is done, and reports the median and maximum waits of the stop-the-world
// phases for all goroutines to stop, as bucket bounds of the runtime's
// histogram.
func collectWhile(b *testing.B, spin func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done, spinning := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		close(spinning)
		spin(ctx)
	}()
	<-spinning
	before := readStopping()
	for b.Loop() {
		runtime.GC()
	}
	after := readStopping()
	cancel()
	<-done
	b.ReportMetric(float64(quantileSince(before, after, 0.5).Microseconds()), "p50-stop-µs")
	b.ReportMetric(float64(quantileSince(before, after, 1).Microseconds()), "max-stop-µs")
}

// BenchmarkGCWhileSpinning collects garbage while an instrumented guest spins
// in a tight loop, by yield interval, and reports how long stop-the-world
// phases waited for all goroutines to stop. The goroutine sub-benchmark,
// where a Go goroutine spins instead, which the runtime preempts
// asynchronously, gives the noise floor. Without instrumentation, the first
// collection would wait forever.
func BenchmarkGCWhileSpinning(b *testing.B) {
	b.Run("goroutine", func(b *testing.B) {
		var sink int
		collectWhile(b, func(ctx context.Context) {
			for i := 0; ctx.Err() == nil; i++ {
				for j := range 1 << 20 { // no call: preempted asynchronously
					sink += j
				}
			}
		})
		_ = sink
	})
	for _, interval := range yieldIntervals {
		b.Run(fmt.Sprintf("interval=%d", interval), func(b *testing.B) {
			mod := countingLoop(b, interval)
			count := mod.ExportedFunction("count")
			collectWhile(b, func(ctx context.Context) {
				go func() {
					<-ctx.Done()
					stopNow(b, mod)
				}()
				for {
					// count(2^32-1) runs for seconds.
					if _, err := count.Call(context.Background(), math.MaxUint32); err != nil {
						if !isStopTrap(err) {
							b.Errorf("count: %v", err)
						}
						return
					}
				}
			})
		})
	}
}

// dataGaps are the values of maxDataGap that BenchmarkInstantiateGo
// compares.
var dataGaps = []uint32{0, 16, 64, maxDataGap, 4096}

// BenchmarkInstantiateGo measures the instantiation of a Go program, without
// running it, as Cronbox instantiates a compiled module for every run: the
// original module, then instrumented modules by maxDataGap. It reports the
// number of data segments of each.
func BenchmarkInstantiateGo(b *testing.B) {
	in := wasmtest.Build(b, "testdata/hello")
	ctx := context.Background()
	rt := newWASIRuntime(b)
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	bench := func(b *testing.B, wasm []byte, segments int) {
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatalf("compiling: %v", err)
		}
		b.ReportAllocs()
		for b.Loop() {
			mod, err := rt.InstantiateModule(ctx, compiled, cfg)
			if err != nil {
				b.Fatalf("instantiating: %v", err)
			}
			mod.Close(ctx)
		}
		b.ReportMetric(float64(segments), "segments")
	}
	b.Run("original", func(b *testing.B) {
		_, info, err := Instrument(in)
		if err != nil {
			b.Fatalf("Instrument: %v", err)
		}
		bench(b, in, info.DataSegmentsIn)
	})
	for _, gap := range dataGaps {
		b.Run(fmt.Sprintf("maxDataGap=%d", gap), func(b *testing.B) {
			o := defaultOptions
			o.maxDataGap = gap
			out, info, err := instrument(in, o)
			if err != nil {
				b.Fatalf("instrument: %v", err)
			}
			bench(b, out, info.DataSegmentsOut)
		})
	}
}
