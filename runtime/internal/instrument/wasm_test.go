package instrument

// Helpers to assemble small modules and to take modules apart in tests. They
// are independent of the package's own decoder so that tests check it against
// a second reading.

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Value types and instructions used by the hand-assembled modules.
const (
	tI32     = 0x7f
	tI64     = 0x7e
	tFuncref = 0x70
	tVoid    = 0x40 // empty block type

	wUnreachable  = 0x00
	wBlock        = 0x02
	wLoop         = 0x03
	wIf           = 0x04
	wElse         = 0x05
	wEnd          = 0x0b
	wBr           = 0x0c
	wBrIf         = 0x0d
	wBrTable      = 0x0e
	wReturn       = 0x0f
	wCall         = 0x10
	wCallIndirect = 0x11
	wDrop         = 0x1a
	wSelectT      = 0x1c
	wLocalGet     = 0x20
	wLocalSet     = 0x21
	wLocalTee     = 0x22
	wGlobalGet    = 0x23
	wGlobalSet    = 0x24
	wTableGet     = 0x25
	wTableSet     = 0x26
	wI32Load8U    = 0x2d
	wMemorySize   = 0x3f
	wMemoryGrow   = 0x40
	wI32Const     = 0x41
	wI64Const     = 0x42
	wF32Const     = 0x43
	wF64Const     = 0x44
	wI32Eqz       = 0x45
	wI32LtU       = 0x49
	wI32LeS       = 0x4c
	wI32Add       = 0x6a
	wI32Sub       = 0x6b
	wI32RemU      = 0x70
	wI32WrapI64   = 0xa7
	wI32Extend8S  = 0xc0
	wRefNull      = 0xd0
	wRefIsNull    = 0xd1
	wRefFunc      = 0xd2
	wMisc         = 0xfc
	wSIMD         = 0xfd

	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03
)

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// uleb encodes v as unsigned LEB128.
func uleb(v uint64) []byte {
	var b []byte
	for ; v >= 0x80; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

// sleb encodes v as signed LEB128.
func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// i32Const returns the instruction i32.const v.
func i32Const(v int32) []byte {
	return cat([]byte{wI32Const}, sleb(int64(v)))
}

// vec encodes a vector of already encoded items.
func vec(items ...[]byte) []byte {
	return cat(uleb(uint64(len(items))), cat(items...))
}

// name encodes a name.
func name(s string) []byte {
	return cat(uleb(uint64(len(s))), []byte(s))
}

// sec encodes a section.
func sec(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, uleb(uint64(len(c))), c)
}

// customSec encodes a custom section.
func customSec(n string, data []byte) []byte {
	return sec(sectionCustom, name(n), data)
}

// newModule encodes a module from its sections.
func newModule(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

// funcType encodes a function type.
func funcType(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(uint64(len(params))), params, uleb(uint64(len(results))), results)
}

// body encodes a function body: locals holds (count, type) pairs.
func body(locals []byte, code ...[]byte) []byte {
	b := cat(uleb(uint64(len(locals)/2)), locals, cat(code...))
	return cat(uleb(uint64(len(b))), b)
}

// exportEntry encodes an export.
func exportEntry(n string, kind byte, index uint32) []byte {
	return cat(name(n), []byte{kind}, uleb(uint64(index)))
}

// testSection is a section as tests read it.
type testSection struct {
	id      byte
	content []byte
	end     int // offset just past the section in the module
}

// readSections splits a module into its sections.
func readSections(t testing.TB, wasm []byte) []testSection {
	t.Helper()
	var secs []testSection
	for i := 8; i < len(wasm); {
		id := wasm[i]
		size, n := testULEB(t, wasm[i+1:])
		start := i + 1 + n
		end := start + int(size)
		if end > len(wasm) {
			t.Fatalf("section %d at %d overruns the module", id, i)
		}
		secs = append(secs, testSection{id: id, content: wasm[start:end], end: end})
		i = end
	}
	return secs
}

// sectionIDs returns the ids of the sections of a module.
func sectionIDs(t testing.TB, wasm []byte) []byte {
	t.Helper()
	var ids []byte
	for _, s := range readSections(t, wasm) {
		ids = append(ids, s.id)
	}
	return ids
}

// sectionByID returns the content of the first section with the given id.
func sectionByID(t testing.TB, wasm []byte, id byte) []byte {
	t.Helper()
	for _, s := range readSections(t, wasm) {
		if s.id == id {
			return s.content
		}
	}
	return nil
}

// testULEB decodes an unsigned LEB128 number and returns it with its length.
func testULEB(t testing.TB, b []byte) (uint64, int) {
	t.Helper()
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	t.Fatalf("truncated LEB128")
	return 0, 0
}

// vectorItems splits the content of a vector section into its count and its
// items.
func vectorItems(t testing.TB, content []byte) (uint64, []byte) {
	t.Helper()
	if content == nil {
		return 0, nil
	}
	count, n := testULEB(t, content)
	return count, content[n:]
}

// readTypes returns the encoded function types of a module.
func readTypes(t testing.TB, wasm []byte) [][]byte {
	t.Helper()
	count, b := vectorItems(t, sectionByID(t, wasm, sectionType))
	types := make([][]byte, count)
	for i := range types {
		end := 1
		for range 2 { // parameters, results: one-byte value types
			n, l := testULEB(t, b[end:])
			end += l + int(n)
		}
		types[i], b = b[:end], b[end:]
	}
	return types
}

// customName returns the name of a custom section from its content.
func customName(t testing.TB, content []byte) string {
	t.Helper()
	n, l := testULEB(t, content)
	return string(content[l : l+int(n)])
}

// functionNames returns the function names from the name section of a
// module.
func functionNames(t testing.TB, wasm []byte) map[uint64]string {
	t.Helper()
	names := map[uint64]string{}
	for _, s := range readSections(t, wasm) {
		if s.id != sectionCustom || customName(t, s.content) != "name" {
			continue
		}
		n, l := testULEB(t, s.content)
		for b := s.content[l+int(n):]; len(b) > 0; {
			id := b[0]
			size, l := testULEB(t, b[1:])
			sub := b[1+l : 1+l+int(size)]
			b = b[1+l+int(size):]
			if id != 1 {
				continue
			}
			count, l := testULEB(t, sub)
			sub = sub[l:]
			for range count {
				index, l := testULEB(t, sub)
				n, m := testULEB(t, sub[l:])
				names[index] = string(sub[l+m : l+m+int(n)])
				sub = sub[l+m+int(n):]
			}
			if len(sub) != 0 {
				t.Fatalf("%d bytes after the function names", len(sub))
			}
		}
	}
	return names
}

// exported is an export as tests read it.
type exported struct {
	kind  byte
	index uint64
}

// readExports returns the exports of a module by name.
func readExports(t testing.TB, wasm []byte) map[string]exported {
	t.Helper()
	exports := map[string]exported{}
	b := sectionByID(t, wasm, sectionExport)
	if b == nil {
		return exports
	}
	count, n := testULEB(t, b)
	b = b[n:]
	for range count {
		l, n := testULEB(t, b)
		name := string(b[n : n+int(l)])
		b = b[n+int(l):]
		kind := b[0]
		index, n := testULEB(t, b[1:])
		b = b[1+n:]
		exports[name] = exported{kind: kind, index: index}
	}
	return exports
}

// codeBodies returns the function bodies (without their sizes) of a module.
func codeBodies(t testing.TB, wasm []byte) [][]byte {
	t.Helper()
	b := sectionByID(t, wasm, sectionCode)
	if b == nil {
		return nil
	}
	count, n := testULEB(t, b)
	b = b[n:]
	bodies := make([][]byte, count)
	for i := range bodies {
		size, n := testULEB(t, b)
		bodies[i] = b[n : n+int(size)]
		b = b[n+int(size):]
	}
	return bodies
}

// indices are the indices of what Instrument adds to a module.
type indices struct {
	stop, budget, slow uint32
}

// check returns the check Instrument inserts at loop heads, for a
// function whose budget is in local.
func (x indices) check(local uint32) []byte {
	l := uleb(uint64(local))
	return cat(
		[]byte{wLocalGet}, l, []byte{wI32Const, 0, wI32LeS, wIf, tVoid, wCall}, uleb(uint64(x.slow)), x.reload(local),
		[]byte{wEnd, wLocalGet}, l, []byte{wI32Const, 1, wI32Sub, wLocalSet}, l)
}

// entry returns what Instrument inserts at the entry of a function whose
// budget is in local: the load of the budget, then a check.
func (x indices) entry(local uint32) []byte { return cat(x.reload(local), x.check(local)) }

// reload returns the load of the budget into local, after a call.
func (x indices) reload(local uint32) []byte {
	return cat([]byte{wGlobalGet}, uleb(uint64(x.budget)), []byte{wLocalSet}, uleb(uint64(local)))
}

// spill returns the store of local to the budget, before a call and a way
// out of the function.
func (x indices) spill(local uint32) []byte {
	return cat([]byte{wLocalGet}, uleb(uint64(local)), []byte{wGlobalSet}, uleb(uint64(x.budget)))
}

// slowBody returns the body of $slow, without its size.
func (x indices) slowBody() []byte {
	return cat(
		[]byte{0}, i32Const(0), []byte{wMemoryGrow, 0, wDrop},
		[]byte{wGlobalGet}, uleb(uint64(x.stop)), []byte{wIf, tVoid, wUnreachable, wEnd},
		i32Const(YieldInterval), []byte{wGlobalSet}, uleb(uint64(x.budget)), []byte{wEnd})
}

// globalItems returns the globals Instrument appends.
func (x indices) globalItems() []byte {
	return cat([]byte{tI32, 1}, i32Const(0), []byte{wEnd, tI32, 1}, i32Const(YieldInterval), []byte{wEnd})
}

// exportItems returns the exports Instrument appends, start being the start
// function or -1.
func (x indices) exportItems(start int64) []byte {
	e := cat(exportEntry(StopGlobal, kindGlobal, x.stop), exportEntry(BudgetGlobal, kindGlobal, x.budget))
	if start >= 0 {
		e = cat(e, exportEntry(StartExport, kindFunc, uint32(start)))
	}
	return e
}

// checkExports checks that out exports what Instrument adds, with the given
// indices and start function (or -1), and otherwise what in exports.
func checkExports(t testing.TB, in, out []byte, x indices, start int64) {
	t.Helper()
	want := readExports(t, in)
	want[StopGlobal] = exported{kindGlobal, uint64(x.stop)}
	want[BudgetGlobal] = exported{kindGlobal, uint64(x.budget)}
	if start >= 0 {
		want[StartExport] = exported{kindFunc, uint64(start)}
	}
	if got := readExports(t, out); !maps.Equal(got, want) {
		t.Errorf("exports %v, want %v", got, want)
	}
}

// mutableI32 returns the exported global name of an instance, which must be
// a mutable i32.
func mutableI32(t testing.TB, mod api.Module, name string) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
	if !ok {
		t.Fatalf("export %q is not a mutable global", name)
	}
	if g.Type() != api.ValueTypeI32 {
		t.Fatalf("export %q has type %v, want i32", name, api.ValueTypeName(g.Type()))
	}
	return g
}

// stopNow makes an instrumented instance trap at its next check.
func stopNow(t testing.TB, mod api.Module) {
	t.Helper()
	mutableI32(t, mod, StopGlobal).Set(1)
	mutableI32(t, mod, BudgetGlobal).Set(0)
}

// isStopTrap reports whether err is the trap of a stopped guest.
func isStopTrap(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unreachable")
}

// newRuntime returns a wazero runtime using the compiler, closed with the test.
func newRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}
