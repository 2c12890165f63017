package instrument

import (
	"bytes"
	"context"
	"math"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Function types shared by the hand-assembled modules.
var (
	typeVoid   = funcType(nil, nil)                         // () -> ()
	typeI32    = funcType(nil, []byte{tI32})                // () -> i32
	typeI32I32 = funcType([]byte{tI32}, []byte{tI32})       // i32 -> i32
	typePair   = funcType([]byte{tI32, tI32}, []byte{tI32}) // (i32 i32) -> i32
)

// noGlobalNoExportModule has neither a global nor an export section; its
// start function runs a loop.
func noGlobalNoExportModule() []byte {
	return newModule(
		sec(1, vec(typeVoid)),
		sec(3, vec([]byte{0})),
		sec(8, uleb(0)),
		sec(10, vec(body([]byte{1, tI32},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Add, wLocalTee, 0},
			i32Const(5), []byte{wI32LtU, wBrIf, 0},
			[]byte{wEnd, wEnd}))),
	)
}

// importEnvModule is instantiated as "env" for importedGlobalsModule.
func importEnvModule() []byte {
	return newModule(
		sec(1, vec(typeI32)),
		sec(3, vec([]byte{0})),
		sec(6, vec(
			cat([]byte{tI32, 0}, i32Const(42), []byte{wEnd}),
			[]byte{tI64, 1, wI64Const, 7, wEnd})),
		sec(7, vec(exportEntry("f", kindFunc, 0), exportEntry("g0", kindGlobal, 0), exportEntry("g1", kindGlobal, 1))),
		sec(10, vec(body(nil, i32Const(9), []byte{wEnd}))),
	)
}

// importedGlobalsModule imports a function and two globals and defines a
// global, so the stop and budget globals have indices 3 and 4, and $slow
// index 3. Its loop increments global 2: checks using it instead of the
// budget would change the results.
func importedGlobalsModule() []byte {
	return newModule(
		sec(1, vec(typeI32, typeI32I32)),
		sec(2, vec(
			cat(name("env"), name("f"), []byte{kindFunc, 0}),
			cat(name("env"), name("g0"), []byte{kindGlobal, tI32, 0}),
			cat(name("env"), name("g1"), []byte{kindGlobal, tI64, 1}))),
		sec(3, vec([]byte{0}, []byte{1})),
		sec(6, vec(cat([]byte{tI32, 1}, i32Const(5), []byte{wEnd}))),
		sec(7, vec(exportEntry("get", kindFunc, 1), exportEntry("count", kindFunc, 2), exportEntry("g2", kindGlobal, 2))),
		sec(10, vec(
			body(nil, []byte{wGlobalGet, 0, wGlobalGet, 2, wI32Add, wCall, 0, wI32Add, wGlobalGet, 1, wI32WrapI64, wI32Add, wEnd}),
			body(nil,
				[]byte{wLoop, tVoid},
				[]byte{wGlobalGet, 2}, i32Const(1), []byte{wI32Add, wGlobalSet, 2},
				[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Sub, wLocalTee, 0, wBrIf, 0},
				[]byte{wEnd, wGlobalGet, 2, wEnd}))),
	)
}

// fibModule computes Fibonacci numbers with a loop whose block type is a type
// index with two parameters: fib(n) for n >= 1.
func fibModule() []byte {
	return newModule(
		sec(1, vec(typeI32I32, typePair)),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("fib", kindFunc, 0))),
		sec(10, vec(body([]byte{2, tI32},
			i32Const(0), i32Const(1),
			[]byte{wLoop, 1}, // [i32 i32] -> [i32]
			[]byte{wLocalSet, 2, wLocalSet, 1},
			[]byte{wLocalGet, 2, wLocalGet, 1, wLocalGet, 2, wI32Add},
			[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Sub, wLocalTee, 0, wBrIf, 0},
			[]byte{wDrop, wEnd, wEnd}))),
	)
}

// nestedModule counts n*n iterations of two nested loops: nested(n) for n >= 1.
func nestedModule() []byte {
	return newModule(
		sec(1, vec(typeI32I32)),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("nested", kindFunc, 0))),
		sec(10, vec(body([]byte{3, tI32},
			[]byte{wLoop, tVoid},
			i32Const(0), []byte{wLocalSet, 2},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 3}, i32Const(1), []byte{wI32Add, wLocalSet, 3},
			[]byte{wLocalGet, 2}, i32Const(1), []byte{wI32Add, wLocalTee, 2},
			[]byte{wLocalGet, 0, wI32LtU, wBrIf, 0},
			[]byte{wEnd},
			[]byte{wLocalGet, 1}, i32Const(1), []byte{wI32Add, wLocalTee, 1},
			[]byte{wLocalGet, 0, wI32LtU, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 3, wEnd}))),
	)
}

// branchyModule has loops in both arms of an if/else inside a block.
func branchyModule() []byte {
	return newModule(
		sec(1, vec(typeI32I32)),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("branchy", kindFunc, 0))),
		sec(10, vec(body([]byte{1, tI32},
			[]byte{wBlock, tVoid},
			[]byte{wLocalGet, 0, wIf, tI32},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 1}, i32Const(2), []byte{wI32Add, wLocalSet, 1},
			[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Sub, wLocalTee, 0, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 1},
			[]byte{wElse, wLoop, tI32}, i32Const(7), []byte{wEnd},
			[]byte{wEnd, wLocalSet, 1},
			[]byte{wLocalGet, 1, wI32Eqz, wBrIf, 0},
			[]byte{wLocalGet, 1}, i32Const(1000), []byte{wI32Add, wLocalSet, 1},
			[]byte{wEnd, wLocalGet, 1, wEnd}))),
	)
}

// simdModule uses SIMD instructions whose immediates are full of 0x03, the
// loop opcode.
func simdModule() []byte {
	threes := bytes.Repeat([]byte{3}, 16)
	mixed := []byte{3, 1, 2, 3, 3, 3, 6, 7, 8, 3, 10, 11, 3, 13, 3, 15}
	lanes := []byte{3, 19, 3, 3, 16, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 31}
	return newModule(
		sec(1, vec(typeI32)),
		sec(3, vec([]byte{0})),
		sec(5, vec([]byte{0x00, 1})),
		sec(7, vec(exportEntry("simd", kindFunc, 0))),
		sec(10, vec(body([]byte{1, tI32},
			[]byte{wSIMD, 0x0c}, threes, // v128.const
			[]byte{wSIMD, 0x0c}, mixed,
			[]byte{wSIMD, 0x0d}, lanes, // i8x16.shuffle
			[]byte{wSIMD, 0x16, 3}, // i8x16.extract_lane_u 3
			[]byte{wLocalSet, 0},
			i32Const(3), []byte{wSIMD, 0x0c}, threes, []byte{wSIMD, 0x0b, 0, 3}, // v128.store offset=3
			i32Const(3), []byte{wSIMD, 0x0c}, mixed, []byte{wSIMD, 0x54, 0, 3, 3}, // v128.load8_lane offset=3 lane 3
			[]byte{wSIMD, 0x16, 3, wLocalGet, 0, wI32Add, wLocalSet, 0},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 0}, i32Const(3), []byte{wI32Add, wLocalTee, 0},
			i32Const(0x303), []byte{wI32LtU, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 0},
			i32Const(3), []byte{wI32Load8U, 0, 3, wI32Add}, // offset=3
			[]byte{wSIMD, 0x0c}, threes,
			[]byte{wSIMD, 0x80, 0x01}, // i16x8.abs
			[]byte{wSIMD, 0x0c}, mixed,
			[]byte{wSIMD, 0xae, 0x01}, // i32x4.add
			[]byte{wSIMD, 0x1b, 3},    // i32x4.extract_lane 3
			[]byte{wI32Add, wEnd}))),
	)
}

// brTableModule dispatches with br_table inside a loop, as Go code does.
func brTableModule() []byte {
	return newModule(
		sec(1, vec(typeI32I32)),
		sec(3, vec([]byte{0})),
		sec(7, vec(exportEntry("dispatch", kindFunc, 0))),
		sec(10, vec(body([]byte{1, tI32},
			[]byte{wLoop, tVoid},
			[]byte{wBlock, tVoid, wBlock, tVoid, wBlock, tVoid},
			[]byte{wLocalGet, 0}, i32Const(3), []byte{wI32RemU},
			[]byte{wBrTable, 2, 0, 1, 2},
			[]byte{wEnd},
			[]byte{wLocalGet, 1}, i32Const(1), []byte{wI32Add, wLocalSet, 1, wBr, 1},
			[]byte{wEnd},
			[]byte{wLocalGet, 1}, i32Const(10), []byte{wI32Add, wLocalSet, 1},
			[]byte{wEnd},
			[]byte{wLocalGet, 1}, i32Const(100), []byte{wI32Add, wLocalSet, 1},
			[]byte{wLocalGet, 0}, i32Const(1), []byte{wI32Sub, wLocalTee, 0, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 1, wEnd}))),
	)
}

// bulkMemoryModule uses bulk memory operations, a data count section, and
// numeric instructions with awkward immediates.
func bulkMemoryModule() []byte {
	return newModule(
		sec(1, vec(typeI32)),
		sec(3, vec([]byte{0})),
		sec(5, vec([]byte{0x00, 1})),
		sec(7, vec(exportEntry("bulk", kindFunc, 0))),
		sec(12, uleb(1)),
		sec(10, vec(body([]byte{2, tI32},
			i32Const(16), i32Const(0), i32Const(12), []byte{wMisc, 0x08, 0, 0}, // memory.init
			i32Const(64), i32Const(16), i32Const(12), []byte{wMisc, 0x0a, 0, 0}, // memory.copy
			i32Const(70), i32Const(3), i32Const(3), []byte{wMisc, 0x0b, 0}, // memory.fill
			[]byte{wMisc, 0x09, 0}, // data.drop
			i32Const(64), []byte{wLocalSet, 1},
			[]byte{wLoop, tVoid},
			[]byte{wLocalGet, 0, wLocalGet, 1, wI32Load8U, 0, 0, wI32Add, wLocalSet, 0},
			[]byte{wLocalGet, 1}, i32Const(1), []byte{wI32Add, wLocalTee, 1},
			i32Const(76), []byte{wI32LtU, wBrIf, 0},
			[]byte{wEnd, wLocalGet, 0},
			[]byte{wF64Const, 3, 3, 3, 3, 3, 3, 0x0b, 0x03},
			[]byte{wMisc, 0x06, wI32WrapI64, wI32Add}, // i64.trunc_sat_f64_s
			[]byte{wF32Const, 3, 0x0b, 3, 0x4f},
			[]byte{wMisc, 0x00, wI32Add}, // i32.trunc_sat_f32_s
			[]byte{wI64Const}, sleb(0x0303030303), []byte{wI32WrapI64, wI32Add},
			i32Const(0x83), []byte{wI32Extend8S, wI32Add},
			[]byte{wMemorySize, 0, wI32Add},
			i32Const(0), []byte{wMemoryGrow, 0, wI32Add},
			[]byte{wEnd}))),
		sec(11, vec(cat([]byte{0x01}, name("hello\x03\x03world")))),
	)
}

// refsModule uses reference types: typed select, ref.null, ref.func, table
// instructions and call_indirect.
func refsModule() []byte {
	return newModule(
		sec(1, vec(typeI32, typeI32I32, typeVoid)),
		sec(3, vec([]byte{0}, []byte{1}, []byte{2})),
		sec(4, vec([]byte{tFuncref, 0x00, 2})),
		sec(7, vec(exportEntry("seven", kindFunc, 0), exportEntry("refs", kindFunc, 1), exportEntry("drop", kindFunc, 2))),
		sec(9, vec(cat([]byte{0x01, 0x00}, vec([]byte{0})))),
		sec(10, vec(
			body(nil, i32Const(7), []byte{wEnd}),
			body([]byte{1, tI32},
				i32Const(0), []byte{wRefFunc, 0, wRefNull, tFuncref, wLocalGet, 0, wSelectT, 1, tFuncref, wTableSet, 0},
				i32Const(3), i32Const(5), []byte{wLocalGet, 0, wSelectT, 1, tI32},
				i32Const(0), []byte{wTableGet, 0, wRefIsNull},
				[]byte{wIf, tI32}, i32Const(100), []byte{wElse}, i32Const(0), []byte{wCallIndirect, 0, 0, wEnd},
				[]byte{wI32Add},
				i32Const(1), i32Const(0), i32Const(1), []byte{wMisc, 0x0c, 0, 0}, // table.init
				[]byte{wRefNull, tFuncref}, i32Const(1), []byte{wMisc, 0x0f, 0, wI32Add}, // table.grow
				i32Const(2), []byte{wRefNull, tFuncref}, i32Const(1), []byte{wMisc, 0x11, 0}, // table.fill
				i32Const(0), i32Const(1), i32Const(1), []byte{wMisc, 0x0e, 0, 0}, // table.copy
				i32Const(0), []byte{wCallIndirect, 0, 0, wI32Add},
				[]byte{wMisc, 0x10, 0, wI32Add}, // table.size
				i32Const(3), []byte{wLocalSet, 1},
				[]byte{wLoop, tVoid},
				[]byte{wLocalGet, 1}, i32Const(1), []byte{wI32Sub, wLocalTee, 1, wBrIf, 0},
				[]byte{wEnd, wEnd}),
			body(nil, []byte{wMisc, 0x0d, 0, wEnd}))), // elem.drop
	)
}

// call is a call of an exported function and its expected results.
type call struct {
	fn   string
	args []uint64
	want []uint64
}

func TestInstrumentHandAssembled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   []byte // instantiated as "env" first when not nil
		wasm  []byte
		x     indices
		start int64 // the start function, or -1
		loops int
		// calls run in order on the original and the instrumented module. The
		// first one is also run on an instance told to stop, which must trap.
		calls []call
	}{
		{
			name: "no global and no export section, a start function", wasm: noGlobalNoExportModule(),
			x: indices{0, 1, 1}, start: 0, loops: 1,
			calls: []call{{StartExport, nil, nil}},
		},
		{
			name: "imported globals", env: importEnvModule(), wasm: importedGlobalsModule(),
			x: indices{3, 4, 3}, start: -1, loops: 1,
			calls: []call{{"count", []uint64{10}, []uint64{15}}, {"get", nil, []uint64{42 + 15 + 9 + 7}}},
		},
		{
			name: "multi-value loop parameters", wasm: fibModule(), x: indices{0, 1, 1}, start: -1, loops: 1,
			calls: []call{{"fib", []uint64{10}, []uint64{55}}, {"fib", []uint64{1}, []uint64{1}}, {"fib", []uint64{20}, []uint64{6765}}},
		},
		{
			name: "nested loops", wasm: nestedModule(), x: indices{0, 1, 1}, start: -1, loops: 2,
			calls: []call{{"nested", []uint64{7}, []uint64{49}}, {"nested", []uint64{1}, []uint64{1}}},
		},
		{
			name: "loops in if, else and block", wasm: branchyModule(), x: indices{0, 1, 1}, start: -1, loops: 2,
			calls: []call{{"branchy", []uint64{5}, []uint64{1010}}, {"branchy", []uint64{0}, []uint64{1007}}},
		},
		{
			name: "SIMD immediates holding the loop opcode", wasm: simdModule(), x: indices{0, 1, 1}, start: -1, loops: 1,
			calls: []call{{"simd", nil, []uint64{774 + 0x12061006}}},
		},
		{
			name: "br_table", wasm: brTableModule(), x: indices{0, 1, 1}, start: -1, loops: 1,
			calls: []call{{"dispatch", []uint64{10}, []uint64{1043}}, {"dispatch", []uint64{3}, []uint64{311}}},
		},
		{
			name: "bulk memory and numeric immediates", wasm: bulkMemoryModule(), x: indices{0, 1, 1}, start: -1, loops: 1,
			calls: []call{{"bulk", nil, nil}},
		},
		{
			name: "reference types", wasm: refsModule(), x: indices{0, 1, 3}, start: -1, loops: 1,
			calls: []call{{"refs", []uint64{1}, []uint64{22}}, {"refs", []uint64{0}, []uint64{119}}, {"drop", nil, []uint64{}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, info, err := Instrument(tc.wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if info.HadStart != (tc.start >= 0) {
				t.Errorf("Info.HadStart = %v, want %v", info.HadStart, tc.start >= 0)
			}
			checkExports(t, tc.wasm, out, tc.x, tc.start)
			funcs := len(codeBodies(t, tc.wasm))
			if got := checkBodies(t, tc.wasm, out, tc.x); got != funcs+tc.loops {
				t.Errorf("%d checks, want %d (%d functions, %d loops)", got, funcs+tc.loops, funcs, tc.loops)
			}

			ctx := context.Background()
			rt := newRuntime(t)
			if tc.env != nil {
				if _, err := rt.InstantiateWithConfig(ctx, tc.env, wazero.NewModuleConfig().WithName("env")); err != nil {
					t.Fatalf("instantiating env: %v", err)
				}
			}
			instantiate := func(wasm []byte) api.Module {
				t.Helper()
				mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					t.Fatalf("instantiating: %v", err)
				}
				return mod
			}
			orig, inst := instantiate(tc.wasm), instantiate(out)
			if got := mutableI32(t, inst, StopGlobal).Get(); got != 0 {
				t.Errorf("stop global = %d, want 0", got)
			}
			if got := mutableI32(t, inst, BudgetGlobal).Get(); got != YieldInterval {
				t.Errorf("budget global = %d, want %d", got, YieldInterval)
			}
			for _, c := range tc.calls {
				got, err := inst.ExportedFunction(c.fn).Call(ctx, c.args...)
				if c.fn == StartExport { // the start function ran at instantiation
					if err != nil || len(got) != 0 {
						t.Errorf("instrumented %s() = %v, %v", c.fn, got, err)
					}
					continue
				}
				want, err2 := orig.ExportedFunction(c.fn).Call(ctx, c.args...)
				if err2 != nil {
					t.Fatalf("original %s%v: %v", c.fn, c.args, err2)
				}
				if c.want != nil && !slices.Equal(want, c.want) {
					t.Errorf("original %s%v = %v, want %v", c.fn, c.args, want, c.want)
				}
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("instrumented %s%v = %v, %v; want %v", c.fn, c.args, got, err, want)
				}
			}
			stopped := instantiate(out)
			stopNow(t, stopped)
			c := tc.calls[0]
			if _, err := stopped.ExportedFunction(c.fn).Call(ctx, c.args...); !isStopTrap(err) {
				t.Errorf("%s%v once stopped: error %v, want an unreachable trap", c.fn, c.args, err)
			}
		})
	}
}

// localsEnd returns the offset after the local declarations of a function
// body.
func localsEnd(t testing.TB, body []byte) int {
	t.Helper()
	count, i := testULEB(t, body)
	for range count {
		_, n := testULEB(t, body[i:])
		i += n
		if typ := body[i]; typ == 0x63 || typ == 0x64 { // typed reference
			_, n := testULEB(t, body[i+1:])
			i += n
		}
		i++
	}
	return i
}

// checkBodies checks that out has the function bodies of in with checks
// inserted, each beginning with one, then $slow. It returns the number of
// checks.
func checkBodies(t *testing.T, in, out []byte, x indices) int {
	t.Helper()
	inBodies, outBodies := codeBodies(t, in), codeBodies(t, out)
	if len(outBodies) != len(inBodies)+1 {
		t.Fatalf("%d function bodies, want %d", len(outBodies), len(inBodies)+1)
	}
	if slow := outBodies[len(inBodies)]; !bytes.Equal(slow, x.slowBody()) {
		t.Errorf("last body\n% x\nwant $slow\n% x", slow, x.slowBody())
	}
	params := funcParams(t, in)
	checks := 0
	for i, b := range inBodies {
		got := outBodies[i]
		groups, n := testULEB(t, b)
		at := localsEnd(t, b)
		local := params[i] + declaredLocals(t, b)
		// The budget's local is declared last.
		wantDecls := cat(uleb(groups+1), b[n:at], []byte{1, tI32})
		if !bytes.HasPrefix(got, wantDecls) {
			t.Errorf("body %d does not declare the budget's local %d last:\n% x", i, local, got)
			continue
		}
		rest := got[len(wantDecls):]
		if !bytes.HasPrefix(rest, x.entry(local)) {
			t.Errorf("body %d does not begin with the budget's load and a check after its local declarations:\n% x", i, got)
		}
		checks += bytes.Count(rest, x.check(local))
		stripped := bytes.ReplaceAll(rest, x.check(local), nil)
		stripped = bytes.ReplaceAll(stripped, x.reload(local), nil)
		stripped = bytes.ReplaceAll(stripped, x.spill(local), nil)
		if !bytes.Equal(cat(b[:at], stripped), b) {
			t.Errorf("body %d, insertions removed:\n% x\nwant\n% x", i, cat(b[:at], stripped), b)
		}
		if !bytes.HasSuffix(rest, cat(x.spill(local), []byte{wEnd})) {
			t.Errorf("body %d does not spill the budget before its final end:\n% x", i, got)
		}
	}
	return checks
}

// declaredLocals returns the number of locals body declares.
func declaredLocals(t testing.TB, body []byte) uint32 {
	t.Helper()
	count, i := testULEB(t, body)
	var n uint64
	for range count {
		c, k := testULEB(t, body[i:])
		n += c
		i += k
		if typ := body[i]; typ == 0x63 || typ == 0x64 { // typed reference
			_, k := testULEB(t, body[i+1:])
			i += k
		}
		i++
	}
	return uint32(n)
}

// funcParams returns the number of parameters of each function that module
// defines, whose types have parameters of one-byte value types.
func funcParams(t testing.TB, module []byte) []uint32 {
	t.Helper()
	var typeParams []uint32
	if types := sectionByID(t, module, sectionType); types != nil {
		count, b := vectorItems(t, types)
		for range count {
			n, k := testULEB(t, b[1:]) // after 0x60
			typeParams = append(typeParams, uint32(n))
			b = b[1+k+int(n):]
			r, k := testULEB(t, b)
			b = b[k+int(r):]
		}
	}
	var params []uint32
	if funcs := sectionByID(t, module, sectionFunction); funcs != nil {
		count, b := vectorItems(t, funcs)
		for range count {
			ti, k := testULEB(t, b)
			params = append(params, typeParams[ti])
			b = b[k:]
		}
	}
	return params
}

// codeModule returns a module with a function of type () -> () for each
// body, which Instrument accepts but wazero may not validate.
func codeModule(bodies ...[]byte) []byte {
	funcs := make([][]byte, len(bodies))
	for i := range funcs {
		funcs[i] = []byte{0}
	}
	return newModule(sec(1, vec(typeVoid)), sec(3, vec(funcs...)), sec(10, vec(bodies...)))
}

// TestInstrumentFindsLoops checks where checks go in bodies whose immediates
// look like loops. A nil part marks where a check must be inserted.
func TestInstrumentFindsLoops(t *testing.T) {
	t.Parallel()
	loop := []byte{wLoop, tVoid}
	tests := []struct {
		name  string
		parts [][]byte
	}{
		{"loop first", [][]byte{loop, nil, {wEnd, wEnd}}},
		{"loops in a row", [][]byte{loop, nil, {wEnd}, loop, nil, {wEnd}, {wLoop, tI32}, nil, i32Const(1), {wEnd, wDrop, wEnd}}},
		{"v128.const of loop opcodes", [][]byte{{wSIMD, 0x0c}, bytes.Repeat([]byte{wLoop, tVoid}, 8), {wDrop}, loop, nil, {wEnd, wEnd}}},
		{"i8x16.shuffle lanes", [][]byte{{wSIMD, 0x0d}, bytes.Repeat([]byte{wLoop}, 16), loop, nil, {wEnd, wEnd}}},
		{"br_table labels", [][]byte{{wBlock, tVoid}, i32Const(0), {wBrTable, 3, 3, 3, 3, 3, wEnd}, loop, nil, {wEnd, wEnd}}},
		{"long immediates", [][]byte{{wI32Const, 0x83, 0x83, 0x83, 0x83, 0x03, wI64Const, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x00, wF32Const, 3, 3, 3, 3, wF64Const, 3, 3, 3, 3, 3, 3, 3, 3}, loop, nil, {wEnd, wEnd}}},
		{"memarg with memory index", [][]byte{i32Const(0), {0x28, 0x42, 0x03, 0x03, wDrop}, loop, nil, {wEnd, wEnd}}},
		{"SIMD load lane", [][]byte{i32Const(0), {wSIMD, 0x0c}, make([]byte, 16), {wSIMD, 0x57, 0x03, 0x03, 0x01, wDrop}, loop, nil, {wEnd, wEnd}}},
		{"two-byte SIMD opcode", [][]byte{{wSIMD, 0x83, 0x01}, loop, nil, {wEnd, wEnd}}},
		{"type index block type", [][]byte{{wLoop, 0x83, 0x00}, nil, {wEnd, wEnd}}},
		{"typed reference block type", [][]byte{{wBlock, 0x63, 0x03}, loop, nil, {wEnd, wEnd, wEnd}}},
		{"typed select", [][]byte{{wSelectT, 2, 0x63, 0x03, tI32}, loop, nil, {wEnd, wEnd}}},
		{"ref.null with a type index", [][]byte{{wRefNull, 0x03}, loop, nil, {wEnd, wEnd}}},
		{"call_indirect", [][]byte{{wCallIndirect, 0x03, 0x03}, loop, nil, {wEnd, wEnd}}},
		{"bulk table ops", [][]byte{{wMisc, 0x0c, 3, 3, wMisc, 0x0e, 3, 3, wMisc, 0x11, 3}, loop, nil, {wEnd, wEnd}}},
		{"else", [][]byte{i32Const(1), {wIf, tVoid}, loop, nil, {wEnd, wElse}, loop, nil, {wEnd, wEnd, wEnd}}},
	}
	// The budget is in local 2, after the two i64 locals.
	x := indices{stop: 0, budget: 1, slow: 1}
	check := x.check(2)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in, want []byte
			for _, p := range tc.parts {
				if p == nil {
					want = append(want, check...)
					continue
				}
				in, want = append(in, p...), append(want, p...)
			}
			out, _, err := Instrument(codeModule(body([]byte{2, tI64}, in)))
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			got := codeBodies(t, out)[0]
			// A call spills the budget before and reloads it after; the
			// final end spills it.
			if tc.name == "call_indirect" {
				callIndirect := []byte{wCallIndirect, 0x03, 0x03}
				want = bytes.ReplaceAll(want, callIndirect, cat(x.spill(2), callIndirect, x.reload(2)))
			}
			want = cat(want[:len(want)-1], x.spill(2), []byte{wEnd})
			if want := cat([]byte{2, 2, tI64, 1, tI32}, x.entry(2), want); !bytes.Equal(got, want) {
				t.Errorf("body\n% x\nwant\n% x", got, want)
			}
		})
	}
}

func TestInstrumentGolden(t *testing.T) {
	t.Parallel()
	types, funcs := sec(1, vec(typeVoid)), sec(3, vec([]byte{0}))
	noMaxMemory := sec(5, vec([]byte{0x01, 0, 0}))
	var manyGlobals [][]byte
	for range 130 {
		manyGlobals = append(manyGlobals, []byte{tI64, 0, wI64Const, 0, wEnd})
	}
	loopBody := []byte{0, wLoop, tVoid, wBr, 0, wEnd, wEnd}
	// A body size padded to five bytes, which the rewrite makes minimal.
	paddedSize := []byte{byte(len(loopBody)) | 0x80, 0x80, 0x80, 0x80, 0x00}
	small := indices{stop: 0, budget: 1, slow: 1}
	wide := indices{stop: 131, budget: 132, slow: 1} // two-byte global indices
	// Tables: no maximum; an initializer and no maximum; a maximum below the
	// cap; a maximum above it.
	tables := [][]byte{
		{tFuncref, 0x00, 1},
		{0x40, 0x00, tFuncref, 0x00, 0, wRefNull, tFuncref, wEnd},
		{tFuncref, 0x01, 2, 5},
		cat([]byte{tFuncref, 0x01, 3}, uleb(MaxTableElements+1)),
	}
	capped := uleb(MaxTableElements)
	cappedTables := [][]byte{
		cat([]byte{tFuncref, 0x01, 1}, capped),
		cat([]byte{0x40, 0x00, tFuncref, 0x01, 0}, capped, []byte{wRefNull, tFuncref, wEnd}),
		{tFuncref, 0x01, 2, 5},
		cat([]byte{tFuncref, 0x01, 3}, capped),
	}
	names := func(funcNames ...[]byte) []byte {
		return customSec("name", cat(
			sec(0, name("mod")),
			sec(1, vec(funcNames...)),
			sec(2, vec(cat(uleb(1), vec(cat(uleb(0), name("x")))))),
		))
	}
	all := indices{stop: 0, budget: 1, slow: 2} // an imported function
	tests := []struct {
		name     string
		in, want []byte
		hadStart bool
	}{
		{
			name: "created sections",
			in:   newModule(types, funcs, sec(10, vec(body(nil, []byte{wLoop, tVoid, wBr, 0, wEnd, wEnd})))),
			want: newModule(types, sec(3, vec([]byte{0}, []byte{0})),
				noMaxMemory,
				sec(6, uleb(2), small.globalItems()),
				sec(7, uleb(2), small.exportItems(-1)),
				sec(10, vec(
					body([]byte{1, tI32}, small.entry(0), []byte{wLoop, tVoid}, small.check(0), []byte{wBr, 0, wEnd}, small.spill(0), []byte{wEnd}),
					sized(small.slowBody())))),
		},
		{
			name: "two-byte global index",
			in: newModule(types,
				sec(2, vec(cat(name("env"), name("g"), []byte{kindGlobal, tI32, 0}))),
				funcs,
				sec(5, vec([]byte{0x00, 1})),
				sec(6, vec(manyGlobals...)),
				sec(7, vec(exportEntry("run", kindFunc, 0))),
				sec(10, vec(cat(paddedSize, loopBody))),
				customSec("notes", []byte{1, 2, 3})),
			want: newModule(types,
				sec(2, vec(cat(name("env"), name("g"), []byte{kindGlobal, tI32, 0}))),
				sec(3, vec([]byte{0}, []byte{0})),
				sec(5, vec([]byte{0x00, 1})),
				sec(6, uleb(132), cat(manyGlobals...), wide.globalItems()),
				sec(7, uleb(3), exportEntry("run", kindFunc, 0), wide.exportItems(-1)),
				sec(10, vec(
					body([]byte{1, tI32}, wide.entry(0), []byte{wLoop, tVoid}, wide.check(0), []byte{wBr, 0, wEnd}, wide.spill(0), []byte{wEnd}),
					sized(wide.slowBody()))),
				customSec("notes", []byte{1, 2, 3})),
		},
		{
			name: "type appended, tables capped, $slow named",
			in: newModule(
				sec(1, vec(typeI32I32)),
				sec(2, vec(cat(name("env"), name("f"), []byte{kindFunc, 0}))),
				sec(3, vec([]byte{0})),
				sec(4, vec(tables...)),
				sec(5, vec()),
				sec(10, vec(body(nil, []byte{wLocalGet, 0, wEnd}))),
				names(cat(uleb(0), name("imp")), cat(uleb(1), name("f")))),
			want: newModule(
				sec(1, vec(typeI32I32, typeVoid)),
				sec(2, vec(cat(name("env"), name("f"), []byte{kindFunc, 0}))),
				sec(3, vec([]byte{0}, []byte{1})),
				sec(4, vec(cappedTables...)),
				noMaxMemory,
				sec(6, uleb(2), all.globalItems()),
				sec(7, uleb(2), all.exportItems(-1)),
				sec(10, vec(body([]byte{1, tI32}, all.entry(1), []byte{wLocalGet, 0}, all.spill(1), []byte{wEnd}), sized(all.slowBody()))),
				names(cat(uleb(0), name("imp")), cat(uleb(1), name("f")), cat(uleb(2), name(slowName)))),
		},
		{
			name: "start moved, type reused",
			in: newModule(
				sec(1, vec(typeI32I32, typeVoid)),
				sec(2, vec(cat(name("env"), name("f"), []byte{kindFunc, 0}))),
				sec(3, vec([]byte{1})),
				sec(5, vec([]byte{0x00, 1})),
				sec(7, vec(exportEntry("f", kindFunc, 0))),
				sec(8, uleb(1)),
				sec(10, vec(body(nil, []byte{wEnd})))),
			want: newModule(
				sec(1, vec(typeI32I32, typeVoid)),
				sec(2, vec(cat(name("env"), name("f"), []byte{kindFunc, 0}))),
				sec(3, vec([]byte{1}, []byte{1})),
				sec(5, vec([]byte{0x00, 1})),
				sec(6, uleb(2), all.globalItems()),
				sec(7, uleb(4), exportEntry("f", kindFunc, 0), all.exportItems(1)),
				sec(10, vec(body([]byte{1, tI32}, all.entry(0), all.spill(0), []byte{wEnd}), sized(all.slowBody())))),
			hadStart: true,
		},
		{
			// wazero reads the truncated count at the end of the module as
			// 0, but would read the code section's bytes if they followed.
			name: "truncated data count at the end",
			in:   newModule(sec(12, []byte{0x88})),
			want: newModule(sec(1, vec(typeVoid)), sec(3, vec([]byte{0})), noMaxMemory,
				sec(6, uleb(2), indices{0, 1, 0}.globalItems()),
				sec(7, uleb(2), indices{0, 1, 0}.exportItems(-1)),
				sec(12, uleb(0)),
				sec(10, vec(sized(indices{0, 1, 0}.slowBody())))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, info, err := Instrument(tc.in)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got\n% x\nwant\n% x", got, tc.want)
			}
			if info.HadStart != tc.hadStart {
				t.Errorf("Info.HadStart = %v, want %v", info.HadStart, tc.hadStart)
			}
			if cap(got) != len(got) {
				t.Errorf("output has capacity %d for %d bytes: its size was mispredicted", cap(got), len(got))
			}
			if _, err := newRuntime(t).CompileModule(context.Background(), got); err != nil {
				t.Errorf("compiling the output: %v", err)
			}
		})
	}
}

func TestInstrumentCreatesSections(t *testing.T) {
	t.Parallel()
	created := []byte{1, 3, 5, 6, 7, 10}
	tests := []struct {
		name    string
		in, out []byte // section ids
	}{
		{"empty module", nil, created},
		{"custom only", []byte{0}, append(created, 0)},
		{"functions", []byte{1, 3, 10}, created},
		{"custom sections around", []byte{0, 1, 0, 3, 0, 10, 0}, []byte{0, 1, 0, 3, 5, 6, 7, 0, 10, 0}},
		{"has global", []byte{1, 3, 6, 10}, created},
		{"has export", []byte{1, 3, 7, 10}, created},
		{"has both", []byte{1, 3, 6, 7, 10}, created},
		{"memory, start, data count", []byte{1, 3, 5, 8, 12, 10, 11, 0}, []byte{1, 3, 5, 6, 7, 12, 10, 11, 0}},
		{"imports, tables and elements", []byte{1, 2, 3, 4, 9, 10}, []byte{1, 2, 3, 4, 5, 6, 7, 9, 10}},
		{"data count only", []byte{12}, []byte{1, 3, 5, 6, 7, 12, 10}},
		{"element and data", []byte{9, 11}, []byte{1, 3, 5, 6, 7, 9, 10, 11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var secs [][]byte
			for _, id := range tc.in {
				if id == sectionCustom {
					secs = append(secs, customSec("c", nil))
				} else { // an empty vector, or function 0 for the start section
					secs = append(secs, sec(id, uleb(0)))
				}
			}
			out, _, err := Instrument(newModule(secs...))
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if got := sectionIDs(t, out); !bytes.Equal(got, tc.out) {
				t.Errorf("sections %v, want %v", got, tc.out)
			}
		})
	}
}

func TestInstrumentDropsDebugSections(t *testing.T) {
	t.Parallel()
	in := newModule(
		customSec(".debug_info", []byte{1, 2}),
		sec(1, vec(typeVoid)),
		customSec("producers", []byte{3}),
		sec(3, vec([]byte{0})),
		customSec(".debug_line", []byte{4}),
		sec(10, vec(body(nil, []byte{wEnd}))),
		customSec("name", []byte{5}),
		customSec(".debug", []byte{6}), // not a DWARF section name
	)
	out, _, err := Instrument(in)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	var names []string
	for _, s := range readSections(t, out) {
		if s.id == sectionCustom {
			n, l := testULEB(t, s.content)
			names = append(names, string(s.content[l:l+int(n)]))
		}
	}
	if want := []string{"producers", "name", ".debug"}; !slices.Equal(names, want) {
		t.Errorf("custom sections %q, want %q", names, want)
	}
}

// TestInstrumentAcceptsWazeroEncodings covers encodings beyond WebAssembly 2.0
// that wazero decodes with CoreFeaturesV2: Instrument must accept every module
// that wazero compiles.
func TestInstrumentAcceptsWazeroEncodings(t *testing.T) {
	t.Parallel()
	const refNull = 0x63 // (ref null heaptype)
	tests := []struct {
		name string
		wasm []byte
		x    indices
	}{
		{name: "typed reference local", wasm: codeModule(body([]byte{1, refNull, tFuncref}, []byte{wLoop, tVoid, wEnd, wEnd})), x: indices{0, 1, 1}},
		{
			name: "typed reference block type",
			wasm: codeModule(body(nil, []byte{wBlock, refNull, tFuncref, wRefNull, tFuncref, wEnd, wDrop, wLoop, tVoid, wEnd, wEnd})),
			x:    indices{0, 1, 1},
		},
		{name: "exnref global import", wasm: newModule(sec(2, vec(cat(name("m"), name("g"), []byte{kindGlobal, 0x69, 0})))), x: indices{1, 2, 0}},
		{name: "typed reference global import", wasm: newModule(sec(2, vec(cat(name("m"), name("g"), []byte{kindGlobal, refNull, tFuncref, 0})))), x: indices{1, 2, 0}},
		{
			name: "table import with an initializer",
			wasm: newModule(sec(2, vec(cat(name("m"), name("t"), []byte{kindTable, 0x40, 0x00, tFuncref, 0x00, 1, wRefNull, tFuncref, wEnd})))),
			x:    indices{0, 1, 0},
		},
		{
			name: "typed reference table with an initializer",
			wasm: newModule(sec(4, vec([]byte{0x40, 0x00, refNull, tFuncref, 0x00, 1, wRefNull, tFuncref, wEnd}))),
			x:    indices{0, 1, 0},
		},
		{
			name: "table import of i32",
			wasm: newModule(sec(2, vec(cat(name("m"), name("t"), []byte{kindTable, tI32, 0x00, 1})))),
			x:    indices{0, 1, 0},
		},
		{
			name: "table of i32 with an initializer",
			wasm: newModule(sec(4, vec(cat([]byte{0x40, 0x00, tI32, 0x00, 1}, i32Const(0), []byte{wEnd})))),
			x:    indices{0, 1, 0},
		},
		{
			name: "typed reference function type",
			wasm: newModule(sec(1, vec([]byte{0x60, 1, refNull, tFuncref, 0}))),
			x:    indices{0, 1, 0},
		},
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { rt.Close(ctx) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := rt.CompileModule(ctx, tc.wasm); err != nil {
				t.Fatalf("wazero no longer compiles the module: %v", err)
			}
			out, _, err := Instrument(tc.wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			checkExports(t, tc.wasm, out, tc.x, -1)
			if _, err := rt.CompileModule(ctx, out); err != nil {
				t.Errorf("compiling the output: %v", err)
			}
		})
	}
}

// TestInstrumentPieceLengths checks the bounds of the pieces the rewrite
// writes, with the longest indices and yield interval.
func TestInstrumentPieceLengths(t *testing.T) {
	t.Parallel()
	if n := len(appendCheck(nil, math.MaxUint32, math.MaxUint32, math.MaxUint32)); n != maxCheckLen {
		t.Errorf("longest check: %d bytes, want maxCheckLen = %d", n, maxCheckLen)
	}
	if n := len(appendSlow(nil, math.MaxUint32, math.MaxUint32, math.MaxInt32)); n != maxSlowLen {
		t.Errorf("longest $slow: %d bytes, want maxSlowLen = %d", n, maxSlowLen)
	}
	exports := appendExport(nil, StopGlobal, exportKindGlobal, math.MaxUint32)
	exports = appendExport(exports, BudgetGlobal, exportKindGlobal, math.MaxUint32)
	if n := len(appendExport(exports, StartExport, exportKindFunc, math.MaxUint32)); n != maxExportsLen {
		t.Errorf("longest exports: %d bytes, want maxExportsLen = %d", n, maxExportsLen)
	}
	x := indices{stop: 1 << 20, budget: 1<<20 + 1, slow: 1 << 20}
	if !bytes.Equal(appendSlow(nil, x.stop, x.budget, YieldInterval), sized(x.slowBody())) {
		t.Errorf("$slow differs from the tests' reading of it")
	}
}

// TestInstrumentSpillsBudget checks that the budget's local is stored to
// the budget global before every call and every way out of the function,
// branches to the function's own label included, and loaded after every
// call, and nowhere else.
func TestInstrumentSpillsBudget(t *testing.T) {
	t.Parallel()
	x := indices{stop: 0, budget: 1, slow: 1}
	spill, reload := x.spill(0), x.reload(0)
	code := cat(
		[]byte{wBlock, tVoid},
		i32Const(0), []byte{wBrIf, 0}, // to the block
		i32Const(0), []byte{wBrIf, 1}, // to the function
		[]byte{wBr, 1},
		[]byte{wEnd},
		i32Const(0), []byte{wBrTable, 1, 0, 0}, // one label is the function's
		[]byte{wCall, 0},
		[]byte{wReturn},
	)
	want := cat(
		[]byte{wBlock, tVoid},
		i32Const(0), []byte{wBrIf, 0},
		i32Const(0), spill, []byte{wBrIf, 1},
		spill, []byte{wBr, 1},
		[]byte{wEnd},
		i32Const(0), spill, []byte{wBrTable, 1, 0, 0},
		spill, []byte{wCall, 0}, reload,
		spill, []byte{wReturn},
	)
	out, _, err := Instrument(codeModule(body(nil, code, []byte{wEnd})))
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	got := codeBodies(t, out)[0]
	if want := cat([]byte{1, 1, tI32}, x.entry(0), want, x.spill(0), []byte{wEnd}); !bytes.Equal(got, want) {
		t.Errorf("body\n% x\nwant\n% x", got, want)
	}
	if _, err := newRuntime(t).CompileModule(context.Background(), out); err != nil {
		t.Errorf("compiling the output: %v", err)
	}
}
