package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// A module whose machine code is not cached runs on the interpreter at
// once; the runs that start after its machine code is compiled run
// natively, and a later load of it from the same cache is native at once.
func TestTiering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache := t.TempDir()
	wasm := wasmtest.Build(t, "testdata/guest")
	newRuntime := func() *runtime.Runtime {
		rt, err := runtime.New(ctx, runtime.Config{CacheDir: cache, HostModules: []runtime.HostModule{testHost()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		return rt
	}
	run := func(rt *runtime.Runtime, m *runtime.Module) {
		t.Helper()
		res, err := rt.Run(ctx, m, runtime.Spec{Args: []string{"guest", "ok"}})
		if err != nil || res.Status != runtime.StatusSucceeded {
			t.Fatalf("run: %v %v", res, err)
		}
	}

	rt := newRuntime()
	release := runtime.HoldNative(rt)
	m, _, err := rt.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if m.Tier() != runtime.TierInterpreter || rt.Stats().Interpreted != 1 {
		t.Fatalf("loaded for %s, %d modules interpreted; want the interpreter while the machine code compiles", m.Tier(), rt.Stats().Interpreted)
	}
	run(rt, m)
	if m.InterpretedRuns() != 1 {
		t.Fatalf("%d interpreted runs; want the first", m.InterpretedRuns())
	}
	release()
	select {
	case <-m.Native():
	case <-time.After(5 * time.Minute): // a compile, on a busy machine, with the race detector
		t.Fatal("no machine code after 5 minutes")
	}
	if m.Tier() != runtime.TierNative {
		t.Fatalf("tier %s once native", m.Tier())
	}
	run(rt, m)
	run(rt, m)
	if m.InterpretedRuns() != 1 || m.Runs() != 3 || rt.Stats().Interpreted != 0 {
		t.Fatalf("%d of %d runs interpreted, %d modules interpreted; want the runs after the switch native", m.InterpretedRuns(), m.Runs(), rt.Stats().Interpreted)
	}
	if m.NativeCompileTime() <= 0 {
		t.Fatalf("native compile time %s", m.NativeCompileTime())
	}

	// Another runtime on the same cache finds the machine code there.
	rt2 := newRuntime()
	runtime.HoldNative(rt2) // were a compilation started, the module would stay interpreted
	m2, _, err := rt2.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	run(rt2, m2)
	select {
	case <-m2.Native():
	default:
		t.Fatal("Native not closed for a module loaded natively")
	}
	if m2.Tier() != runtime.TierNative || m2.InterpretedRuns() != 0 {
		t.Fatalf("with the machine code cached: tier %s, %d interpreted runs; want native at once", m2.Tier(), m2.InterpretedRuns())
	}
}

// Unloading a module, or closing the runtime, stops the compilation of
// its machine code: Close returns, and the module stays interpreted.
func TestTieringStopsWithUnloadAndClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, unload := range []bool{true, false} {
		rt, err := runtime.New(ctx, runtime.Config{CacheDir: t.TempDir(), HostModules: []runtime.HostModule{testHost()}})
		if err != nil {
			t.Fatal(err)
		}
		runtime.HoldNative(rt)
		m, _, err := rt.Load(ctx, wasmtest.Build(t, "testdata/guest"))
		if err != nil {
			t.Fatal(err)
		}
		if unload {
			rt.Unload(ctx, m)
		}
		if err := rt.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if m.Tier() != runtime.TierInterpreter {
			t.Fatalf("unload %v: tier %s after Close; want no machine code", unload, m.Tier())
		}
	}
}
