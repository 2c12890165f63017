package instrument

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// sized prefixes b with its size, as function bodies are.
func sized(b []byte) []byte {
	return cat(uleb(uint64(len(b))), b)
}

// checkMalformed checks that err is a format error from Instrument.
func checkMalformed(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case !errors.Is(err, ErrMalformed):
		t.Errorf("error %q does not wrap ErrMalformed", err)
	case !strings.HasPrefix(err.Error(), "instrumenting module: "):
		t.Errorf("error %q lacks the instrumenting module prefix", err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestInstrumentMalformed(t *testing.T) {
	t.Parallel()
	header := newModule()
	importFunc := sec(2, vec(cat(name("env"), name("f"), []byte{kindFunc, 0})))
	huge := uleb(math.MaxUint32)
	tests := []struct {
		name string
		wasm []byte
		want string // part of the error message
	}{
		{"empty", nil, "magic"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), "magic"},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00"), "version 02 00 00 00"},
		{"huge section size", cat(header, []byte{1}, huge), "size 4294967295 exceeds the 0 bytes left"},
		{"overlong section size", cat(header, []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), "malformed size"},
		{"section size over 32 bits", cat(header, []byte{1, 0xff, 0xff, 0xff, 0xff, 0x1f}), "malformed size"},
		{"unknown section id", cat(header, sec(13, nil)), "unknown section id 13"},
		{"repeated section", newModule(sec(1, vec()), sec(1, vec())), "type section at offset 0xb: out of order or repeated"},
		{"sections out of order", newModule(sec(3, vec()), sec(1, vec())), "out of order"},
		{"data count after code", newModule(sec(10, vec()), sec(12, uleb(0))), "data count section"},
		{"custom name past the section", cat(header, []byte{0, 2, 5, 'a'}), "custom section at offset 0x8: malformed name"},
		{"huge import count", newModule(sec(2, huge)), "import section: 4294967295 items cannot fit in 0 bytes"},
		{"unknown import kind", newModule(sec(2, vec(cat(name("m"), name("n"), []byte{4, 0})))), "import 0: unknown kind 0x4"},
		{"bad limits flags", newModule(sec(2, vec(cat(name("m"), name("n"), []byte{2, 8, 0})))), "import 0: malformed type"},
		{
			"block in a table import initializer",
			newModule(sec(2, vec(cat(name("m"), name("t"), []byte{1, 0x40, 0x00, tFuncref, 0x00, 1, wBlock, tVoid, wEnd, wEnd})))),
			"import 0: malformed type",
		},
		{
			"unterminated table import initializer",
			newModule(sec(2, vec(cat(name("m"), name("t"), []byte{1, 0x40, 0x00, tFuncref, 0x00, 1, wRefNull, tFuncref})))),
			"import 0: malformed type",
		},
		{"bad global import type", newModule(sec(2, vec(cat(name("m"), name("n"), []byte{3, 0x55, 0})))), "import 0: malformed type"},
		{"bytes after the imports", newModule(sec(2, cat(vec(), []byte{0}))), "1 bytes after the last import"},
		{"bad global count", newModule(sec(6, []byte{0x80})), "global section: malformed count"},
		{"huge export name", newModule(sec(7, cat(uleb(1), huge))), "export 0: malformed name"},
		{"truncated export", newModule(sec(7, cat(uleb(1), name("x"), []byte{kindFunc}))), "export 0: malformed index"},
		{"bytes after the exports", newModule(sec(7, cat(vec(), []byte{0}))), "1 bytes after the last export"},
		{
			"no index left for the globals",
			newModule(sec(2, vec(cat(name("m"), name("n"), []byte{kindGlobal, tI32, 0}))), sec(6, uleb(math.MaxUint32-2))),
			"global section: 4294967293 items cannot fit in 0 bytes",
		},
		{
			"no index left for $slow",
			newModule(sec(2, vec(cat(name("m"), name("n"), []byte{kindFunc, 0}))), sec(3, uleb(math.MaxUint32-1))),
			"function section: 4294967294 items cannot fit in 0 bytes",
		},
		{"bad type form", newModule(sec(1, vec([]byte{0x5f, 0, 0}))), "type 0: malformed function type"},
		{"huge type count", newModule(sec(1, huge)), "type section: 4294967295 items cannot fit in 0 bytes"},
		{"huge parameter count", newModule(sec(1, vec(cat([]byte{0x60}, huge, []byte{0})))), "type 0: malformed function type"},
		{"bad result type", newModule(sec(1, vec([]byte{0x60, 0, 1, 0x55}))), "type 0: malformed function type"},
		{"bytes after the types", newModule(sec(1, cat(vec(typeVoid), []byte{0}))), "1 bytes after the last type"},
		{"bad function count", newModule(sec(3, []byte{0x80})), "function section: malformed count"},
		{"truncated table", newModule(sec(4, vec([]byte{tFuncref, 0x01, 0}))), "table 0: malformed type"},
		{"bad table limits flags", newModule(sec(4, vec([]byte{tFuncref, 0x04, 0}))), "table 0: malformed type"},
		{
			"unterminated table initializer",
			newModule(sec(4, vec([]byte{0x40, 0x00, tFuncref, 0x00, 0, wRefNull, tFuncref}))),
			"table 0: malformed type",
		},
		{"bytes after the tables", newModule(sec(4, cat(vec([]byte{tFuncref, 0x00, 0}), []byte{0}))), "1 bytes after the last table"},
		{
			"table index after an imported one",
			newModule(sec(2, vec(cat(name("m"), name("t"), []byte{kindTable, tFuncref, 0x00, 0}))), sec(4, vec([]byte{tFuncref, 0x00, 0}, []byte{tFuncref, 0x08, 0}))),
			"table 2: malformed type",
		},
		{"truncated table type", newModule(sec(4, vec([]byte{0x63}))), "table section: 1 items cannot fit in 1 bytes"},
		{"empty start section", newModule(sec(8)), "start section: malformed function index"},
		{"bytes after the start function", newModule(sec(8, []byte{0, 0})), "start section: malformed function index"},
		{"global.get out of range", codeModule(body(nil, []byte{wGlobalGet, 0, wDrop, wEnd})), "function 0: global index 0 out of range at offset 0x17"},
		{
			"global.set of the budget's index",
			newModule(sec(1, vec(typeVoid)), sec(3, vec([]byte{0})), sec(6, vec([]byte{tI32, 1, wI32Const, 0, wEnd})),
				sec(10, vec(body(nil, i32Const(1<<30), []byte{wGlobalSet, 2, wEnd})))),
			"function 0: global index 2 out of range",
		},
		{"truncated global index", codeModule(body(nil, []byte{wGlobalGet, 0x80})), "malformed immediate of opcode 0x23"},
		{"huge function count", newModule(sec(10, cat(huge, sized([]byte{0, wEnd})))), "code section: 4294967295 items cannot fit in 3 bytes"},
		{"huge body size", newModule(sec(10, cat(uleb(1), huge, []byte{0, wEnd}))), "function 0: body size 4294967295 exceeds the code section"},
		{"bytes after the bodies", newModule(sec(10, cat(vec(body(nil, []byte{wEnd})), []byte{0}))), "1 bytes after the last function body"},
		{"huge local count", codeModule(sized(cat(huge, []byte{1, tI32, wEnd}))), "function 0: malformed local declarations"},
		{"bad local type", codeModule(sized([]byte{1, 1, 0x55, wEnd})), "function 0: malformed local declarations"},
		{"huge br_table", codeModule(body(nil, i32Const(0), []byte{wBrTable}, huge, []byte{0, wEnd})), "malformed immediate of opcode 0xe"},
		{"huge select types", codeModule(body(nil, []byte{wSelectT}, huge, []byte{tI32, wEnd})), "malformed immediate of opcode 0x1c"},
		{"unknown opcode", codeModule(body(nil, []byte{0x06, wEnd})), "function 0: unknown opcode 0x6 at offset 0x17"},
		{
			"unknown opcode after an imported function",
			newModule(sec(1, vec(typeVoid)), importFunc, sec(3, vec([]byte{0})), sec(10, vec(body(nil, []byte{0x27, wEnd})))),
			"function 1: unknown opcode 0x27",
		},
		{"tail call", codeModule(body(nil, []byte{0x12, 0, wEnd})), "unknown opcode 0x12"},
		{"atomics", codeModule(body(nil, []byte{0xfe, 0x03, 0x00, wEnd})), "unknown opcode 0xfe"},
		{"unknown misc opcode", codeModule(body(nil, []byte{wMisc, 0x12, wEnd})), "unknown opcode 0xfc 0x12"},
		{"unknown SIMD opcode", codeModule(body(nil, []byte{wSIMD, 0x9a, 0x01, wEnd})), "unknown opcode 0xfd 0x9a"},
		{
			"relaxed SIMD opcode",
			codeModule(body(nil, []byte{wSIMD, 0x80, 0x02, wEnd})),
			"opcode 0xfd 0x100 at offset 0x17 has an encoding that wazero decodes differently (as 0xfd 0x80)",
		},
		{
			"non-minimal SIMD opcode",
			codeModule(body(nil, []byte{wSIMD, 0x8c, 0x00}, make([]byte, 16), []byte{wDrop, wEnd})),
			"opcode 0xfd 0xc at offset 0x17 has an encoding that wazero decodes differently (as 0xfd 0x8c)",
		},
		{"truncated SIMD opcode", codeModule(body(nil, []byte{wSIMD, 0x80})), "malformed immediate of opcode 0xfd"},
		{"truncated immediate", codeModule(body(nil, []byte{wI32Const})), "malformed immediate of opcode 0x41"},
		{"overlong immediate", codeModule(body(nil, []byte{wI32Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, wDrop, wEnd})), "malformed immediate of opcode 0x41"},
		{"truncated v128.const", codeModule(body(nil, []byte{wSIMD, 0x0c}, make([]byte, 15))), "malformed immediate of opcode 0xfd"},
		{"truncated block type", codeModule(body(nil, []byte{wLoop})), "malformed immediate of opcode 0x3"},
		{"truncated heap type", codeModule(body(nil, []byte{wBlock, 0x63})), "malformed immediate of opcode 0x2"},
		{"missing final end", codeModule(body(nil, []byte{wLoop, tVoid, wEnd})), "function 0: body lacks its final end"},
		{"bytes after the final end", codeModule(body(nil, []byte{wEnd, wEnd})), "function 0: 1 bytes after the final end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Instrument(tc.wasm)
			checkMalformed(t, err, tc.want)
		})
	}
}

// TestInstrumentHostileSizesAllocateLittle feeds sizes and counts that would
// need gigabytes if trusted. It is not parallel, to measure allocations alone.
func TestInstrumentHostileSizesAllocateLittle(t *testing.T) {
	huge := uleb(math.MaxUint32)
	for _, tc := range []struct {
		wasm  []byte
		valid bool // whether Instrument accepts it
	}{
		{wasm: newModule(sec(10, cat(huge, sized([]byte{0, wEnd}))))},
		{wasm: codeModule(sized(cat(huge, []byte{1, tI32, wEnd})))},
		{wasm: codeModule(body(nil, i32Const(0), []byte{wBrTable}, huge, []byte{0, wEnd}))},
		{wasm: newModule(sec(2, huge))},
		{wasm: newModule(sec(7, cat(uleb(1), huge)))},
		{wasm: newModule(sec(1, huge))},
		{wasm: newModule(sec(6, huge))},
		{wasm: newModule(sec(9, cat(huge, []byte{0, 0}, huge)))},
		{wasm: newModule(sec(4, huge))},
		{wasm: newModule(sec(4, vec(cat([]byte{tFuncref, 0x00}, huge))))},
		{wasm: newModule(sec(4, vec(cat([]byte{tFuncref, 0x01, 0}, huge)))), valid: true}, // capped
		{wasm: newModule(customSec("name", cat([]byte{1}, uleb(5), huge))), valid: true},  // left as is
		// A count that cannot fit is refused (wazero would allocate from
		// it); other malformed data sections are left as they are.
		{wasm: newModule(oneDataPage, sec(11, huge))},
		{wasm: newModule(oneDataPage, sec(11, cat(uleb(2), activeSegment(0, "a"), []byte{0x00, wI32Const, 1, wEnd}, huge))), valid: true},
		{wasm: newModule(oneDataPage, sec(11, cat(uleb(2), activeSegment(0, "a"), []byte{0x02}, huge))), valid: true},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := Instrument(tc.wasm)
		runtime.ReadMemStats(&after)
		if (err == nil) != tc.valid {
			t.Errorf("Instrument(% x): error %v, want one: %v", tc.wasm, err, !tc.valid)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("Instrument(% x) allocated %d bytes", tc.wasm, n)
		}
	}
}

func TestInstrumentTruncated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wasm []byte
	}{
		{"imported globals", importedGlobalsModule()},
		{"SIMD", simdModule()},
		{"bulk memory", bulkMemoryModule()},
		{"reference types", refsModule()},
		{"data segments", newModule(importGlobal, oneDataPage, sec(11, vec(
			activeSegment(0, "ab"), activeSegment(3, "cd"), passiveSegment("e"), globalSegment(0, "f"), memorySegment(0, 9, "gh"))))},
		{"custom sections", newModule(customSec("a", []byte{1}), sec(1, vec(typeVoid)), customSec(".debug_info", []byte{2}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A module cut at the end of a section is still well formed.
			whole := map[int]bool{8: true}
			for _, s := range readSections(t, tc.wasm) {
				whole[s.end] = true
			}
			for n := range len(tc.wasm) {
				_, _, err := Instrument(tc.wasm[:n])
				if !whole[n] && !errors.Is(err, ErrMalformed) {
					t.Errorf("cut to %d bytes: error %v, want one wrapping ErrMalformed", n, err)
				}
			}
		})
	}
}

func TestInstrumentRefusesReservedExports(t *testing.T) {
	t.Parallel()
	instrumented, _, err := Instrument(fibModule())
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	exporting := func(exportName string, kind byte) []byte {
		return newModule(sec(1, vec(typeVoid)), sec(3, vec([]byte{0})),
			sec(6, vec([]byte{tI32, 1, wI32Const, 0, wEnd})),
			sec(7, vec(exportEntry("run", kindFunc, 0), exportEntry(exportName, kind, 0))),
			sec(10, vec(body(nil, []byte{wEnd}))))
	}
	tests := []struct {
		name     string
		wasm     []byte
		reserved string
	}{
		{"already instrumented", instrumented, StopGlobal},
		{"function with the stop global's name", exporting(StopGlobal, kindFunc), StopGlobal},
		{"global with the budget global's name", exporting(BudgetGlobal, kindGlobal), BudgetGlobal},
		{"function with the start export's name", exporting(StartExport, kindFunc), StartExport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Instrument(tc.wasm)
			want := `instrumenting module: export name reserved for the instrumentation: "` + tc.reserved + `"`
			if err == nil || err.Error() != want || !errors.Is(err, errReservedExport) || errors.Is(err, ErrMalformed) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}

func TestInstrumentKeepsInput(t *testing.T) {
	t.Parallel()
	in := refsModule()
	orig := cat(in)
	if _, _, err := Instrument(in); err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	if string(in) != string(orig) {
		t.Errorf("Instrument modified its input")
	}
}

// hasLargeNumber reports whether a LEB128 number above 1<<14 starts anywhere
// in wasm. wazero v1.12 allocates by the counts and sizes it decodes before
// checking them against its input (FuzzInstrument found an export count that
// made it allocate gigabytes), so the fuzz test does not compile such inputs.
func hasLargeNumber(wasm []byte) bool {
	for i := range wasm {
		var v uint64
		for j, c := range wasm[i:min(i+maxLEB32, len(wasm))] {
			v |= uint64(c&0x7f) << (7 * j)
			if c < 0x80 {
				if v > 1<<14 {
					return true
				}
				break
			}
		}
	}
	return false
}

// compile compiles wasm with rt. wazero v1.12 panics on some malformed inputs
// (FuzzInstrument found one, now the seed wazero-panics-on-code-section):
// compile returns that as an error.
func compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("wazero panicked: %v", r)
		}
	}()
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return compiled.Close(ctx)
}

// fuzzMemoryPages is the memory limit of the runtime in which FuzzInstrument
// instantiates modules.
const fuzzMemoryPages = 16

// FuzzInstrument checks that Instrument never panics, that it instruments
// every module wazero compiles into a module wazero compiles, that the
// output exports what Instrument adds, and that instantiating the output
// fails when instantiating the module does, and otherwise initializes the
// same memory.
func FuzzInstrument(f *testing.F) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	f.Cleanup(func() { rt.Close(ctx) })
	small := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(api.CoreFeaturesV2).WithMemoryLimitPages(fuzzMemoryPages))
	f.Cleanup(func() { small.Close(ctx) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, info, err := Instrument(wasm)
		if err == nil {
			exports := readExports(t, out)
			if exports[StopGlobal].kind != kindGlobal || exports[BudgetGlobal].kind != kindGlobal {
				t.Fatalf("exports %q and %q are not both globals: %v", StopGlobal, BudgetGlobal, exports)
			}
			if exports[BudgetGlobal].index != exports[StopGlobal].index+1 {
				t.Fatalf("budget global %d does not follow the stop global %d", exports[BudgetGlobal].index, exports[StopGlobal].index)
			}
			if start, ok := exports[StartExport]; ok != info.HadStart || (ok && start.kind != kindFunc) {
				t.Fatalf("export %q = %+v, %v with Info.HadStart %v", StartExport, start, ok, info.HadStart)
			}
			if slices.Contains(sectionIDs(t, out), sectionStart) {
				t.Fatalf("the output has a start section")
			}
			if info.DataSegmentsOut > info.DataSegmentsIn {
				t.Fatalf("Info.DataSegmentsOut %d exceeds DataSegmentsIn %d", info.DataSegmentsOut, info.DataSegmentsIn)
			}
		}
		if hasLargeNumber(wasm) || compile(ctx, rt, wasm) != nil {
			return
		}
		if errors.Is(err, errAmbiguousOpcode) || errors.Is(err, errReservedExport) || errors.Is(err, ErrLimit) {
			return // refused on purpose: see Instrument
		}
		if err != nil {
			t.Fatalf("wazero compiles the module but Instrument fails: %v", err)
		}
		if err := compile(ctx, rt, out); err != nil {
			t.Fatalf("wazero compiles the module but not its instrumented version: %v", err)
		}
		// A start function would run while instantiating the module, and
		// not the output: it may change memory, or never return.
		if !info.HadStart {
			checkSameInstantiation(t, ctx, small, wasm, out)
			checkImage(t, small, wasm)
		}
	})
}
