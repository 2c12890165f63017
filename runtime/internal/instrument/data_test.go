package instrument

// Tests of the merging of data segments.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// Data segments of the hand-assembled modules.

// activeSegment encodes a data segment of memory 0 at i32.const offset.
func activeSegment(offset int32, data string) []byte {
	return cat([]byte{0x00}, i32Const(offset), []byte{wEnd}, name(data))
}

// memorySegment encodes a data segment of the given memory at i32.const
// offset, with the memory index.
func memorySegment(memory uint32, offset int32, data string) []byte {
	return cat([]byte{0x02}, uleb(uint64(memory)), i32Const(offset), []byte{wEnd}, name(data))
}

// passiveSegment encodes a passive data segment.
func passiveSegment(data string) []byte {
	return cat([]byte{0x01}, name(data))
}

// globalSegment encodes a data segment of memory 0 at global.get global.
func globalSegment(global uint32, data string) []byte {
	return cat([]byte{0x00, wGlobalGet}, uleb(uint64(global)), []byte{wEnd}, name(data))
}

// zeros returns n zero bytes.
func zeros(n int) string {
	return strings.Repeat("\x00", n)
}

// envGlobalValue is the value of the global "g" that envDataModule exports.
const envGlobalValue = 14

// envDataModule is instantiated as "env" for the modules of the data tests:
// it exports an i32 global "g" and a memory "memory" of one page.
func envDataModule() []byte {
	return newModule(
		sec(5, vec([]byte{0x00, 1})),
		sec(6, vec(cat([]byte{tI32, 0}, i32Const(envGlobalValue), []byte{wEnd}))),
		sec(7, vec(exportEntry("g", kindGlobal, 0), exportEntry("memory", kindMemory, 0))))
}

// importGlobal imports the global "g" of envDataModule.
var importGlobal = sec(2, vec(cat(name("env"), name("g"), []byte{kindGlobal, tI32, 0})))

// oneDataPage is a memory section defining a memory of one page.
var oneDataPage = sec(5, vec([]byte{0x00, 1}))

// dataModule returns a module with a memory of one page and the data
// segments.
func dataModule(segments ...[]byte) []byte {
	return newModule(oneDataPage, sec(11, vec(segments...)))
}

// instantiatedMemory compiles wasm and instantiates it in rt without running
// any function. It returns a copy of the memory of the instance, empty if it
// has none; or the error of the compilation or of the instantiation. wazero
// panics on some malformed modules: instantiatedMemory returns that as a
// compilation error.
func instantiatedMemory(ctx context.Context, rt wazero.Runtime, wasm []byte) (memory []byte, compileErr, err error) {
	defer func() {
		if r := recover(); r != nil {
			compileErr = fmt.Errorf("wazero panicked: %v", r)
		}
	}()
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err, nil
	}
	defer compiled.Close(ctx)
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, nil, err
	}
	defer mod.Close(ctx)
	// wazero v1.12 returns a nil *MemoryInstance for a module without
	// memory.
	if mem := mod.Memory(); mem != nil && !reflect.ValueOf(mem).IsNil() {
		b, _ := mem.Read(0, mem.Size())
		memory = bytes.Clone(b)
	}
	return memory, nil, nil
}

// checkSameInstantiation checks that in and out, its instrumented version,
// both fail to compile, or both fail to instantiate, or instantiate with the
// same memory. It reports whether they instantiated.
func checkSameInstantiation(t testing.TB, ctx context.Context, rt wazero.Runtime, in, out []byte) bool {
	t.Helper()
	want, wantCompileErr, wantErr := instantiatedMemory(ctx, rt, in)
	got, compileErr, err := instantiatedMemory(ctx, rt, out)
	switch {
	case (compileErr != nil) != (wantCompileErr != nil):
		t.Fatalf("compiling: %v; the original module: %v", compileErr, wantCompileErr)
	case (err != nil) != (wantErr != nil):
		t.Fatalf("instantiating: %v; the original module: %v", err, wantErr)
	case compileErr != nil || err != nil:
		return false
	case !bytes.Equal(got, want):
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("memory after instantiation differs from the original's at byte %d of %d (%d in the original)", i, len(got), len(want))
	}
	return true
}

func TestInstrumentMergesDataSegments(t *testing.T) {
	t.Parallel()
	const page = 1 << 16
	gap := int(maxDataGap)
	// A segment whose offset has a two-byte encoding and a size padded to
	// two bytes.
	nonMinimal := cat([]byte{0x00, wI32Const, 0x80, 0x80, 0x00, wEnd, 0x82, 0x00}, []byte("ab"))
	tests := []struct {
		name string
		wasm []byte
		// want holds the segments of the output, or is nil when the data
		// section must be left as it is.
		want [][]byte
		// fails tells that the module does not compile, or that its
		// instantiation fails.
		fails bool
	}{
		{
			name: "adjacent",
			wasm: dataModule(activeSegment(0, "ab"), activeSegment(2, "cd"), activeSegment(4, "ef")),
			want: [][]byte{activeSegment(0, "abcdef")},
		},
		{
			name: "small gaps",
			wasm: dataModule(activeSegment(16, "ab"), activeSegment(28, "cd"), activeSegment(31, "e")),
			want: [][]byte{activeSegment(16, "ab"+zeros(10)+"cd"+zeros(1)+"e")},
		},
		{
			name: "gaps of maxDataGap and one more",
			wasm: dataModule(activeSegment(0, "a"), activeSegment(int32(1+gap), "b"), activeSegment(int32(2+2*gap+1), "c")),
			want: [][]byte{activeSegment(0, "a"+zeros(gap)+"b"), activeSegment(int32(2+2*gap+1), "c")},
		},
		{
			name: "big gap",
			wasm: dataModule(activeSegment(0, "a"), activeSegment(1000, "b")),
		},
		{
			name: "overlap",
			wasm: dataModule(activeSegment(0, "abcd"), activeSegment(2, "XY")),
		},
		{
			name: "overlap then adjacent",
			wasm: dataModule(activeSegment(0, "abcd"), activeSegment(2, "XY"), activeSegment(4, "ef")),
			want: [][]byte{activeSegment(0, "abcd"), activeSegment(2, "XYef")},
		},
		{
			name: "descending",
			wasm: dataModule(activeSegment(10, "ab"), activeSegment(0, "cd")),
		},
		{
			name: "passive in the middle",
			wasm: dataModule(activeSegment(0, "ab"), passiveSegment("zz"), activeSegment(2, "cd")),
		},
		{
			name: "passive between runs",
			wasm: dataModule(activeSegment(0, "a"), activeSegment(1, "b"), passiveSegment("zz"), activeSegment(2, "c"), activeSegment(3, "d")),
			want: [][]byte{activeSegment(0, "ab"), passiveSegment("zz"), activeSegment(2, "cd")},
		},
		{
			name: "memory index 0",
			wasm: dataModule(memorySegment(0, 0, "ab"), memorySegment(0, 2, "cd"), activeSegment(4, "ef")),
			want: [][]byte{activeSegment(0, "abcdef")},
		},
		{
			// wazero does not support multiple memories.
			name:  "memory index 1",
			wasm:  dataModule(activeSegment(0, "ab"), memorySegment(1, 2, "cd"), activeSegment(4, "ef")),
			fails: true,
		},
		{
			name: "data count section",
			wasm: newModule(oneDataPage, sec(12, uleb(2)), sec(11, vec(activeSegment(0, "ab"), activeSegment(2, "cd")))),
		},
		{
			// The exporter of the memory sees what instantiation writes,
			// even when it fails.
			name: "imported memory",
			wasm: newModule(sec(2, vec(cat(name("env"), name("memory"), []byte{kindMemory, 0x00, 1}))),
				sec(11, vec(activeSegment(0, "ab"), activeSegment(2, "cd")))),
		},
		{
			// The segment at global.get writes in the gap between the
			// last two: filling it with zeros would erase what it wrote.
			name: "global.get offset",
			wasm: newModule(importGlobal, oneDataPage, sec(11, vec(
				activeSegment(0, "ab"), activeSegment(2, "cd"),
				globalSegment(0, "zz"),
				activeSegment(8, "ef"), activeSegment(10, "gh"), activeSegment(20, "ij")))),
			want: [][]byte{activeSegment(0, "abcd"), globalSegment(0, "zz"), activeSegment(8, "efgh"), activeSegment(20, "ij")},
		},
		{
			name: "gap written by an earlier segment",
			wasm: dataModule(activeSegment(14, "zz"), activeSegment(0, "ab"), activeSegment(10, "cd"), activeSegment(20, "ef")),
			want: [][]byte{activeSegment(14, "zz"), activeSegment(0, "ab"+zeros(8)+"cd"), activeSegment(20, "ef")},
		},
		{
			// Go programs start with segments at high addresses, then go on
			// from low ones.
			name: "gaps beside an earlier segment",
			wasm: dataModule(activeSegment(1000, "hh"), activeSegment(0, "ab"), activeSegment(10, "cd"), activeSegment(1002, "ii"), activeSegment(1010, "jj")),
			want: [][]byte{activeSegment(1000, "hh"), activeSegment(0, "ab"+zeros(8)+"cd"), activeSegment(1002, "ii"+zeros(6)+"jj")},
		},
		{
			name:  "last segment out of bounds",
			wasm:  dataModule(activeSegment(page-6, "abc"), activeSegment(page-2, "xyz")),
			want:  [][]byte{activeSegment(page-6, "abc\x00xyz")},
			fails: true,
		},
		{
			name:  "first segment out of bounds",
			wasm:  dataModule(activeSegment(page, "a"), activeSegment(page+1, "b")),
			want:  [][]byte{activeSegment(page, "ab")},
			fails: true,
		},
		{
			name: "empty segments",
			wasm: dataModule(activeSegment(0, ""), activeSegment(3, "a"), activeSegment(4, ""), activeSegment(page, "")),
			want: [][]byte{activeSegment(0, zeros(3)+"a"), activeSegment(page, "")},
		},
		{
			name:  "empty segment out of bounds",
			wasm:  dataModule(activeSegment(page-6, "a"), activeSegment(page+1, "")),
			want:  [][]byte{activeSegment(page-6, "a"+zeros(6))},
			fails: true,
		},
		{
			// Offsets are unsigned.
			name:  "offsets from 2^31",
			wasm:  dataModule(activeSegment(math.MinInt32, "a"), activeSegment(math.MinInt32+1, "b")),
			want:  [][]byte{activeSegment(math.MinInt32, "ab")},
			fails: true,
		},
		{
			name:  "end beyond 2^32",
			wasm:  dataModule(activeSegment(0, "a"), activeSegment(1, "b"), activeSegment(-2, "cd"), activeSegment(-1, "e")),
			want:  [][]byte{activeSegment(0, "ab"), activeSegment(-2, "cd"), activeSegment(-1, "e")},
			fails: true,
		},
		{
			name: "non-minimal encodings",
			wasm: dataModule(nonMinimal, activeSegment(2, "cd")),
			want: [][]byte{activeSegment(0, "abcd")},
		},
		{
			// wazero reads the flags as a LEB128 number.
			name: "non-minimal flags",
			wasm: dataModule(cat([]byte{0x80, 0x00, wI32Const, 0, wEnd}, name("ab")), activeSegment(2, "cd")),
		},
		{
			// The unused bits of the fifth byte of an s32 must extend its
			// sign; wazero does not check them all.
			name: "offset with bad unused bits",
			wasm: dataModule(activeSegment(0, "ab"), cat([]byte{0x00, wI32Const, 0x82, 0x80, 0x80, 0x80, 0x40, wEnd}, name("cd"))),
		},
		{
			name:  "other offset expression",
			wasm:  dataModule(activeSegment(0, "ab"), cat([]byte{0x00}, i32Const(1), i32Const(1), []byte{wI32Add, wEnd}, name("cd"))),
			fails: true,
		},
		{
			name:  "bytes after the segments",
			wasm:  newModule(oneDataPage, sec(11, vec(activeSegment(0, "ab"), activeSegment(2, "cd")), []byte{0})),
			fails: true,
		},
		{
			name: "no segments",
			wasm: dataModule(),
		},
	}
	ctx := context.Background()
	rt := newRuntime(t)
	if _, err := rt.InstantiateWithConfig(ctx, envDataModule(), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatalf("instantiating env: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, info, err := Instrument(tc.wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if cap(out) != len(out) {
				t.Errorf("output has capacity %d for %d bytes: its size was mispredicted", cap(out), len(out))
			}
			in := sectionByID(t, tc.wasm, sectionData)
			inCount, _ := vectorItems(t, in)
			want, wantCount := in, inCount
			if tc.want != nil {
				want, wantCount = vec(tc.want...), uint64(len(tc.want))
			}
			if got := sectionByID(t, out, sectionData); !bytes.Equal(got, want) {
				t.Errorf("data section\n% x\nwant\n% x", got, want)
			}
			if uint64(info.DataSegmentsIn) != inCount || uint64(info.DataSegmentsOut) != wantCount {
				t.Errorf("Info.DataSegmentsIn, Out = %d, %d; want %d, %d", info.DataSegmentsIn, info.DataSegmentsOut, inCount, wantCount)
			}
			if ok := checkSameInstantiation(t, ctx, rt, tc.wasm, out); ok == tc.fails {
				t.Errorf("instantiated: %v, want %v", ok, !tc.fails)
			}
		})
	}
}

// TestInstrumentDataZerosBudget checks that the zeros filling gaps are at
// most extraDataZeros more than the bytes of the input's data section.
func TestInstrumentDataZerosBudget(t *testing.T) {
	t.Parallel()
	const n = 1000
	segments := make([][]byte, n)
	for i := range segments {
		segments[i] = activeSegment(int32(i)*(maxDataGap+1), "a")
	}
	pages := byte(n*(maxDataGap+1)>>16 + 1)
	in := newModule(sec(5, vec([]byte{0x00, pages})), sec(11, vec(segments...)))
	out, info, err := Instrument(in)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	inData, outData := sectionByID(t, in, sectionData), sectionByID(t, out, sectionData)
	t.Logf("%d segments merged into %d: %d bytes of data section, from %d", info.DataSegmentsIn, info.DataSegmentsOut, len(outData), len(inData))
	budget := len(inData) + extraDataZeros
	// Each merge fills a gap of maxDataGap zeros, until they run out.
	if merges := info.DataSegmentsIn - info.DataSegmentsOut; merges != budget/maxDataGap {
		t.Errorf("%d merges of gaps of %d zeros, want %d for %d zeros", merges, maxDataGap, budget/maxDataGap, budget)
	}
	if len(outData) > budget+len(inData) {
		t.Errorf("data section of %d bytes, from %d", len(outData), len(inData))
	}
	checkSameInstantiation(t, context.Background(), newRuntime(t), in, out)
}

func TestReadS32(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []byte
		want int32 // if next is not negative
		next int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x3f}, 63, 1},
		{[]byte{0x40}, -64, 1},
		{[]byte{0x7f}, -1, 1},
		{[]byte{0xc0, 0x00}, 64, 2},
		{[]byte{0xbf, 0x7f}, -65, 2},
		{[]byte{0x80, 0x00}, 0, 2},
		{[]byte{0xff, 0x7f}, -1, 2},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, -1, 5},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x07}, math.MaxInt32, 5},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, math.MinInt32, 5},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78, 0x0b}, math.MinInt32, 5},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x08}, 0, -1}, // negative, unused bits clear
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x40}, 0, -1}, // positive, an unused bit set
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, 0, -1},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, -1}, // six bytes
		{[]byte{0x80}, 0, -1},
		{nil, 0, -1},
	} {
		if got, next := readS32(tc.in, 0); next != tc.next || (next >= 0 && got != tc.want) {
			t.Errorf("readS32(% x) = %d, %d; want %d, %d", tc.in, got, next, tc.want, tc.next)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := int32(r.Uint32() >> r.IntN(32))
		if r.IntN(2) == 0 {
			v = -v
		}
		b := appendS32(nil, v)
		if got, next := readS32(b, 0); got != v || next != len(b) {
			t.Fatalf("readS32(% x) = %d, %d; want %d, %d", b, got, next, v, len(b))
		}
		if n := s32Size(v); n != len(b) {
			t.Fatalf("s32Size(%d) = %d, want %d", v, n, len(b))
		}
	}
}

// TestWrittenSpans checks that writtenSpans keeps a superset of the spans
// added, in at most maxWrittenSpans sorted spans, without allocating. It is
// not parallel, to count allocations.
func TestWrittenSpans(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const size = 1000
	for range 20 {
		var w writtenSpans
		var written [size]bool
		for range 100 {
			start := r.Uint64N(size)
			end := min(start+r.Uint64N(30), size)
			if allocs := testing.AllocsPerRun(1, func() { w.add(start, end) }); allocs != 0 {
				t.Fatalf("add allocated")
			}
			for a := start; a < end; a++ {
				written[a] = true
			}
			spans := w.spans[:w.n]
			if len(spans) > maxWrittenSpans {
				t.Fatalf("%d spans", len(spans))
			}
			for k, s := range spans {
				if s.start >= s.end || k > 0 && spans[k-1].end >= s.start {
					t.Fatalf("spans not sorted, disjoint and apart: %v", spans)
				}
			}
			for a := range uint64(size) {
				if written[a] && !w.intersects(a, a+1) {
					t.Fatalf("address %d was written, but not in %v", a, spans)
				}
			}
		}
	}
	w := writtenSpans{anywhere: true}
	if !w.intersects(0, 1) {
		t.Errorf("intersects ignores anywhere")
	}
}
