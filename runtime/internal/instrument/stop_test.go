package instrument

// Tests of the behaviour of instrumented modules: stopping, the budget, the
// moved start function, the table cap and the added memory.

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// instantiate instruments wasm and instantiates it in rt, without start
// functions.
func instantiate(t testing.TB, rt wazero.Runtime, wasm []byte) (api.Module, Info) {
	t.Helper()
	out, info, err := Instrument(wasm)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	mod, err := rt.InstantiateWithConfig(context.Background(), out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiating: %v", err)
	}
	return mod, info
}

// counterGlobal is the section of one mutable i32 global, 0 at start.
var counterGlobal = sec(6, vec(cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd})))

// spinBody is a function body that increments global 0 forever.
var spinBody = body(nil, []byte{wLoop, tVoid, wGlobalGet, 0}, i32Const(1), []byte{wI32Add, wGlobalSet, 0, wBr, 0, wEnd, wEnd})

// stopSpinning calls fn of mod, which must run until stopped and count in
// its exported global counter, collects garbage a few times once the count
// shows it runs, then stops it and checks that it traps.
func stopSpinning(t *testing.T, mod api.Module, fn, counter string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction(fn).Call(context.Background())
		done <- err
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for mod.ExportedGlobal(counter).Get() == 0 {
		select {
		case err := <-done:
			t.Fatalf("%s returned %v before it was stopped", fn, err)
		case <-tick.C:
		}
	}
	for range 5 {
		runtime.GC() // would hang if the guest never entered Go
	}
	select {
	case err := <-done:
		t.Fatalf("%s returned %v before it was stopped", fn, err)
	default:
	}
	stopNow(t, mod)
	select {
	case err := <-done:
		if !isStopTrap(err) {
			t.Fatalf("%s returned %v, want an unreachable trap", fn, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs 10s after it was stopped", fn)
	}
}

// callTreeModule has functions f0 to f(depth) of type () -> (): each fi
// calls fi+1 twice, and f(depth) increments the exported global "leaves". It
// has no loop, no memory, and runs for 2^depth calls.
func callTreeModule(depth int) []byte {
	funcs, bodies := make([][]byte, depth+1), make([][]byte, depth+1)
	for i := range depth {
		next := uleb(uint64(i + 1))
		funcs[i], bodies[i] = []byte{0}, body(nil, []byte{wCall}, next, []byte{wCall}, next, []byte{wEnd})
	}
	funcs[depth] = []byte{0}
	bodies[depth] = body(nil, []byte{wGlobalGet, 0}, i32Const(1), []byte{wI32Add, wGlobalSet, 0, wEnd})
	return newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec(funcs...)),
		sec(6, vec(cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd}))),
		sec(7, vec(exportEntry("tree", kindFunc, 0), exportEntry("leaves", kindGlobal, 0))),
		sec(10, vec(bodies...)),
	)
}

func TestInstrumentStopsCallTreeWithoutLoops(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	small, _ := instantiate(t, rt, callTreeModule(10))
	if _, err := small.ExportedFunction("tree").Call(context.Background()); err != nil {
		t.Fatalf("tree: %v", err)
	}
	if got := small.ExportedGlobal("leaves").Get(); got != 1024 {
		t.Errorf("a tree of depth 10 has %d leaves, want 1024", got)
	}
	if sectionByID(t, callTreeModule(10), sectionMemory) != nil {
		t.Fatalf("the call tree module has a memory")
	}

	huge, _ := instantiate(t, rt, callTreeModule(40))
	stopSpinning(t, huge, "tree", "leaves")
}

// countdownModule exports countdown(n), whose loop runs n times (n >= 1).
func countdownModule() []byte {
	return newModule(
		sec(1, vec(funcType([]byte{tI32}, nil))),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("countdown", kindFunc, 0))),
		sec(10, vec(body(nil,
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Sub, wLocalTee, 0, wBrIf, 0},
			[]byte{wEnd, wEnd}))),
	)
}

func TestInstrumentBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod, _ := instantiate(t, newRuntime(t), countdownModule())
	stop, budget := mutableI32(t, mod, StopGlobal), mutableI32(t, mod, BudgetGlobal)
	countdown := func(n uint64) error {
		_, err := mod.ExportedFunction("countdown").Call(ctx, n)
		return err
	}
	i32 := func(v int32) uint64 { return api.EncodeI32(v) }

	// countdown(5) passes 6 checks: its entry and 5 loop heads.
	if err := countdown(5); err != nil || budget.Get() != YieldInterval-6 {
		t.Errorf("countdown(5): %v, budget %d; want no error, budget %d", err, int32(budget.Get()), YieldInterval-6)
	}
	// The stop global is read only once the budget runs out.
	stop.Set(1)
	if err := countdown(5); err != nil || budget.Get() != YieldInterval-12 {
		t.Errorf("countdown(5) with budget left and the stop global set: %v, budget %d; want no error, budget %d",
			err, int32(budget.Get()), YieldInterval-12)
	}
	stop.Set(0)
	// Running out refills the budget: 3 checks, $slow, 3 checks.
	budget.Set(i32(3))
	if err := countdown(5); err != nil || budget.Get() != YieldInterval-3 {
		t.Errorf("countdown(5) from budget 3: %v, budget %d; want no error, budget %d", err, int32(budget.Get()), YieldInterval-3)
	}
	// A budget left at -1 by a race between the host and the guest runs out
	// too.
	budget.Set(i32(-1))
	if err := countdown(5); err != nil || budget.Get() != YieldInterval-6 {
		t.Errorf("countdown(5) from budget -1: %v, budget %d; want no error, budget %d", err, int32(budget.Get()), YieldInterval-6)
	}
	stop.Set(1)
	budget.Set(i32(-1))
	if err := countdown(5); !isStopTrap(err) {
		t.Errorf("countdown(5) from budget -1 with the stop global set: %v, want an unreachable trap", err)
	}
	// A stop lands on the first check: the function's entry.
	stop.Set(1)
	budget.Set(0)
	if err := countdown(1); !isStopTrap(err) {
		t.Errorf("countdown(1) once stopped: %v, want an unreachable trap", err)
	}
}

func TestInstrumentStartSpinningForever(t *testing.T) {
	t.Parallel()
	wasm := newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec([]byte{0})),
		counterGlobal,
		sec(7, vec(exportEntry("n", kindGlobal, 0))),
		sec(8, uleb(0)),
		sec(10, vec(spinBody)),
	)
	rt := newRuntime(t)
	instantiated := make(chan api.Module, 1)
	go func() {
		mod, info := instantiate(t, rt, wasm)
		if !info.HadStart {
			t.Errorf("Info.HadStart is not set")
		}
		instantiated <- mod
	}()
	select {
	case mod := <-instantiated:
		stopSpinning(t, mod, StartExport, "n")
	case <-time.After(10 * time.Second):
		t.Fatalf("instantiation still runs after 10s: the start function ran")
	}
}

// envStartModule is instantiated as "env" for startModule: it exports a
// global and a function that increments it.
func envStartModule() []byte {
	return newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec([]byte{0})),
		sec(6, vec(cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd}))),
		sec(7, vec(exportEntry("bump", kindFunc, 0), exportEntry("bumps", kindGlobal, 0))),
		sec(10, vec(body(nil, []byte{wGlobalGet, 0}, i32Const(1), []byte{wI32Add, wGlobalSet, 0, wEnd}))),
	)
}

// startModule has a start function, which writes a global and memory when
// start is 1, or is env.bump when start is 0. Its function get returns the
// global plus the first byte of memory.
func startModule(start byte) []byte {
	return newModule(
		sec(1, vec(typeVoid, typeI32)),
		sec(2, vec(cat(name("env"), name("bump"), []byte{kindFunc, 0}))),
		sec(3, vec([]byte{0}, []byte{1})),
		sec(5, vec([]byte{0x00, 1})),
		sec(6, vec(cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd}))),
		sec(7, vec(exportEntry("get", kindFunc, 2))),
		sec(8, []byte{start}),
		sec(10, vec(
			body(nil, i32Const(0), i32Const(42), []byte{0x3a, 0, 0}, i32Const(7), []byte{wGlobalSet, 0, wEnd}), // i32.store8
			body(nil, []byte{wGlobalGet, 0}, i32Const(0), []byte{wI32Load8U, 0, 0, wI32Add, wEnd}))),
	)
}

func TestInstrumentStartDoesItsWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, start := range []byte{0, 1} {
		rt := newRuntime(t)
		env, err := rt.InstantiateWithConfig(ctx, envStartModule(), wazero.NewModuleConfig().WithName("env"))
		if err != nil {
			t.Fatalf("instantiating env: %v", err)
		}
		bumps := env.ExportedGlobal("bumps")
		get := func(mod api.Module) uint64 {
			t.Helper()
			res, err := mod.ExportedFunction("get").Call(ctx)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			return res[0]
		}
		orig, err := rt.InstantiateWithConfig(ctx, startModule(start), wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("instantiating the original: %v", err)
		}
		wantGet, wantBumps := get(orig), bumps.Get()
		if start == 0 && wantBumps != 1 || start == 1 && wantGet != 49 {
			t.Fatalf("start %d: the original start function left get() = %d, %d bumps", start, wantGet, wantBumps)
		}

		mod, info := instantiate(t, rt, startModule(start))
		if !info.HadStart {
			t.Errorf("start %d: Info.HadStart is not set", start)
		}
		if got := bumps.Get(); get(mod) != 0 || got != wantBumps {
			t.Errorf("start %d: the start function ran at instantiation", start)
		}
		if _, err := mod.ExportedFunction(StartExport).Call(ctx); err != nil {
			t.Fatalf("start %d: %s: %v", start, StartExport, err)
		}
		if got := get(mod); got != wantGet || bumps.Get() != wantBumps+1-uint64(start) {
			t.Errorf("start %d: after %s, get() = %d, %d bumps; want %d, %d",
				start, StartExport, got, bumps.Get(), wantGet, wantBumps+1-uint64(start))
		}
	}
}

// tableModule defines a funcref table of the given limits and exports
// grow(delta), which calls table.grow with ref.null, and size().
func tableModule(limits ...byte) []byte {
	return newModule(
		sec(1, vec(typeI32I32, typeI32)),
		sec(3, vec([]byte{0}, []byte{1})),
		sec(4, vec(cat([]byte{tFuncref}, limits))),
		sec(7, vec(exportEntry("grow", kindFunc, 0), exportEntry("size", kindFunc, 1))),
		sec(10, vec(
			body(nil, []byte{wRefNull, tFuncref, wLocalGet, 0, wMisc, 0x0f, 0, wEnd}),
			body(nil, []byte{wMisc, 0x10, 0, wEnd}))),
	)
}

// TestInstrumentCapsTableGrowth is not parallel, to measure allocations.
func TestInstrumentCapsTableGrowth(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		limits []byte
	}{
		{"no maximum", []byte{0x00, 1}},
		{"maximum above the cap", cat([]byte{0x01, 1}, uleb(1<<31))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod, _ := instantiate(t, newRuntime(t), tableModule(tc.limits...))
			call := func(fn string, args ...uint64) int32 {
				t.Helper()
				res, err := mod.ExportedFunction(fn).Call(ctx, args...)
				if err != nil {
					t.Fatalf("%s%v: %v", fn, args, err)
				}
				return api.DecodeI32(res[0])
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got := call("grow", 0x7fffffff)
			runtime.ReadMemStats(&after)
			if got != -1 {
				t.Errorf("grow(0x7fffffff) = %d, want -1", got)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("grow(0x7fffffff) allocated %d bytes", n)
			}
			if got := call("grow", MaxTableElements-1); got != 1 {
				t.Errorf("grow(MaxTableElements-1) = %d, want 1", got)
			}
			if got := call("size"); got != MaxTableElements {
				t.Errorf("size() = %d, want %d", got, MaxTableElements)
			}
			if got := call("grow", 1); got != -1 {
				t.Errorf("grow(1) at the cap = %d, want -1", got)
			}
		})
	}
}

func TestInstrumentTableLimits(t *testing.T) {
	t.Parallel()
	tables := func(n int, limits ...byte) []byte {
		items := make([][]byte, n)
		for i := range items {
			items[i] = cat([]byte{tFuncref}, limits)
		}
		return sec(4, vec(items...))
	}
	imports := func(n int) []byte {
		items := make([][]byte, n)
		for i := range items {
			items[i] = cat(name("env"), name("t"), []byte{kindTable, tFuncref, 0x00, 0})
		}
		return sec(2, vec(items...))
	}
	overCap := uleb(MaxTableElements + 1)
	tests := []struct {
		name string
		wasm []byte
		want string // part of the ErrLimit error, or "" if accepted
	}{
		{"minimum at the cap", newModule(tables(1, cat([]byte{0x00}, uleb(MaxTableElements))...)), ""},
		{"minimum above the cap", newModule(tables(1, cat([]byte{0x00}, overCap)...)), "table 0: minimum size of 1048577 elements exceeds the limit of 1048576"},
		{
			"minimum above the cap after an import",
			newModule(imports(1), tables(2, cat([]byte{0x01}, overCap, overCap)...)),
			"table 1: minimum size of 1048577",
		},
		{"imported table above the cap", newModule(sec(2, vec(cat(name("env"), name("t"), []byte{kindTable, tFuncref, 0x00}, overCap)))), ""},
		{"100 tables", newModule(tables(100, 0x00, 0)), ""},
		{"101 tables", newModule(tables(101, 0x00, 0)), "101 items in the table section; at most 100 are allowed"},
		{"100 imported tables", newModule(imports(100)), ""},
		{"101 imported tables", newModule(imports(101)), "101 imported tables exceed the limit of 100 tables"},
		{"60 imported and 41 defined tables", newModule(imports(60), tables(41, 0x00, 0)), "101 tables exceed the limit"},
	}
	rt := newRuntime(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := Instrument(tc.wasm)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Instrument: %v", err)
				}
				if _, err := rt.CompileModule(context.Background(), out); err != nil {
					t.Errorf("compiling the output: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrLimit) || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) ||
				!strings.HasPrefix(err.Error(), "instrumenting module: ") {
				t.Errorf("error %v, want one wrapping ErrLimit, containing %q", err, tc.want)
			}
		})
	}
}

func TestInstrumentAddsMemory(t *testing.T) {
	t.Parallel()
	noMax := []byte{0x01, 0, 0}
	importMemory := sec(2, vec(cat(name("env"), name("memory"), []byte{kindMemory, 0x00, 1})))
	tests := []struct {
		name string
		wasm []byte
		want []byte // memory section of the output
	}{
		{"no memory", countdownModule(), vec(noMax)},
		{"empty memory section", newModule(sec(5, vec())), vec(noMax)},
		{"defined memory", newModule(sec(5, vec([]byte{0x00, 2}))), vec([]byte{0x00, 2})},
		{"imported memory", newModule(importMemory), nil},
		{"imported memory and empty memory section", newModule(importMemory, sec(5, vec())), vec()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := Instrument(tc.wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if got := sectionByID(t, out, sectionMemory); !bytes.Equal(got, tc.want) {
				t.Errorf("memory section % x, want % x", got, tc.want)
			}
		})
	}

	// $slow grows an imported memory by 0 pages.
	ctx := context.Background()
	rt := newRuntime(t)
	env := newModule(sec(5, vec([]byte{0x00, 1})), sec(7, vec(exportEntry("memory", kindMemory, 0))))
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatalf("instantiating env: %v", err)
	}
	wasm := newModule(
		sec(1, vec(typeVoid)),
		importMemory,
		sec(3, vec([]byte{0})),
		counterGlobal,
		sec(7, vec(exportEntry("spin", kindFunc, 0), exportEntry("n", kindGlobal, 0))),
		sec(10, vec(spinBody)),
	)
	mod, _ := instantiate(t, rt, wasm)
	stopSpinning(t, mod, "spin", "n")
	if size := mod.Memory().Size(); size != 1<<16 {
		t.Errorf("imported memory has %d bytes, want 1 page", size)
	}
}

func TestInstrumentNamesSlow(t *testing.T) {
	t.Parallel()
	module := func(sections ...[]byte) []byte {
		return newModule(append([][]byte{
			sec(1, vec(typeVoid)), sec(3, vec([]byte{0}, []byte{0})), sec(10, vec(body(nil, []byte{wEnd}), body(nil, []byte{wEnd}))),
		}, sections...)...)
	}
	funcNames := func(entries ...[]byte) []byte { return sec(1, vec(entries...)) }
	entry := func(index uint64, n string) []byte { return cat(uleb(index), name(n)) }
	moduleName := sec(0, name("m"))
	localNames := sec(2, vec(cat(uleb(0), vec(entry(0, "x")))))
	tests := []struct {
		name   string
		names  []byte // the name section's content after its name, or nil for none
		named  bool   // whether $slow gets its name
		others map[uint64]string
	}{
		{"no name section", nil, false, map[uint64]string{}},
		{"no function names", cat(moduleName, localNames), false, map[uint64]string{}},
		{"empty function names", funcNames(), true, map[uint64]string{}},
		{"all subsections", cat(moduleName, funcNames(entry(0, "a"), entry(1, "b")), localNames, sec(7, []byte{0})), true, map[uint64]string{0: "a", 1: "b"}},
		{"unknown subsection first", cat(sec(9, []byte{1, 2}), funcNames(entry(1, "b"))), true, map[uint64]string{1: "b"}},
		{"names beyond the functions", funcNames(entry(0, "a"), entry(2, "c")), false, map[uint64]string{0: "a", 2: "c"}},
		{"local names first", cat(localNames, funcNames(entry(0, "a"))), false, map[uint64]string{0: "a"}},
	}
	ctx := context.Background()
	rt := newRuntime(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in []byte
			if tc.names == nil {
				in = module()
			} else {
				in = module(customSec("name", tc.names))
			}
			out, _, err := Instrument(in)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if cap(out) != len(out) {
				t.Errorf("output has capacity %d for %d bytes: its size was mispredicted", cap(out), len(out))
			}
			want := maps.Clone(tc.others)
			if tc.named {
				want[2] = slowName
			} else if tc.names != nil && !bytes.HasSuffix(out, customSec("name", tc.names)) {
				t.Errorf("name section changed")
			}
			if got := functionNames(t, out); !maps.Equal(got, want) {
				t.Errorf("function names %v, want %v", got, want)
			}
			if _, err := rt.CompileModule(ctx, out); err != nil {
				t.Errorf("compiling the output: %v", err)
			}
		})
	}

	// Subsections that wazero would read otherwise than by their sizes are
	// left alone, whatever wazero makes of them.
	for _, names := range [][]byte{
		cat(sec(0, name("m"), []byte{0}), funcNames(entry(0, "a"))), // module name shorter than its subsection
		cat([]byte{1}, uleb(10), vec(entry(0, "a")), []byte{0, 0, 0, 0}),
		cat([]byte{1}, uleb(2), vec(entry(0, "a"))), // function names longer than their subsection
		cat([]byte{1}, uleb(1), uleb(1<<30)),
	} {
		in := module(customSec("name", names))
		out, _, err := Instrument(in)
		if err != nil {
			t.Fatalf("Instrument(% x): %v", names, err)
		}
		if !bytes.HasSuffix(out, customSec("name", names)) {
			t.Errorf("name section % x changed", names)
		}
	}
}

// TestInstrumentRefusesGlobalsBeyondTheModule checks that a guest cannot
// reach the globals that Instrument adds: code naming them would be invalid
// in the input, and valid once instrumented.
func TestInstrumentRefusesGlobalsBeyondTheModule(t *testing.T) {
	t.Parallel()
	resetBudget := newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec([]byte{0})),
		sec(10, vec(body(nil, []byte{wLoop, tVoid}, i32Const(1<<30), []byte{wGlobalSet, 1, wBr, 0, wEnd, wEnd}))),
	)
	_, _, err := Instrument(resetBudget)
	checkMalformed(t, err, "function 0: global index 1 out of range")
}

// TestInstrumentRefusesLocalsBeyondTheFunction checks that a function
// cannot name the local that holds its budget, which it does not declare.
func TestInstrumentRefusesLocalsBeyondTheFunction(t *testing.T) {
	t.Parallel()
	for _, op := range []byte{wLocalGet, wLocalSet, wLocalTee} {
		// One parameter and one declared local: local 2 is the budget's.
		code := []byte{wLoop, tVoid, wLocalGet, 1, wLocalSet, 0}
		switch op {
		case wLocalGet:
			code = append(code, wLocalGet, 2, wDrop)
		case wLocalSet:
			code = append(code, wI32Const, 0x80, 0x80, 0x01, wLocalSet, 2)
		case wLocalTee:
			code = append(code, wI32Const, 0x80, 0x80, 0x01, wLocalTee, 2, wDrop)
		}
		resetBudget := newModule(
			sec(1, vec(funcType([]byte{tI32}, nil))),
			sec(3, vec([]byte{0})),
			sec(10, vec(body([]byte{1, tI32}, code, []byte{wBr, 0, wEnd, wEnd}))),
		)
		_, _, err := Instrument(resetBudget)
		checkMalformed(t, err, "function 0: local index 2 out of range")
	}
}

// TestInstrumentBudgetAcrossCalls checks that a function holding the budget
// in a local hands it to its callees and takes back what they left: every
// check counts once, wherever it is.
func TestInstrumentBudgetAcrossCalls(t *testing.T) {
	t.Parallel()
	// f calls g three times; g has one loop that runs twice.
	wasm := newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec([]byte{0}, []byte{0})),
		sec(6, vec(cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd}))),
		sec(7, vec(exportEntry("f", kindFunc, 0))),
		sec(10, vec(
			body(nil, []byte{wCall, 1, wCall, 1, wCall, 1, wEnd}),
			body(nil,
				[]byte{wLoop, tVoid},
				[]byte{wGlobalGet, 0}, i32Const(1), []byte{wI32Add, wGlobalSet, 0},
				[]byte{wGlobalGet, 0}, i32Const(1), []byte{0x71}, // i32.and: odd after the first pass
				[]byte{wBrIf, 0},
				[]byte{wEnd, wEnd}),
		)),
	)
	mod, _ := instantiate(t, newRuntime(t), wasm)
	budget := mutableI32(t, mod, BudgetGlobal)
	if _, err := mod.ExportedFunction("f").Call(context.Background()); err != nil {
		t.Fatalf("f: %v", err)
	}
	// f's entry, then for each call g's entry and two passes of its loop.
	if got, want := int32(budget.Get()), int32(YieldInterval-1-3*3); got != want {
		t.Errorf("budget after f: %d, want %d", got, want)
	}
}
