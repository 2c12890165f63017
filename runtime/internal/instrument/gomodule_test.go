package instrument

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// instrumentGo builds the Go program in srcDir and instruments it.
func instrumentGo(t testing.TB, srcDir string) (in, out []byte) {
	t.Helper()
	in, out, _ = instrumentGoInfo(t, srcDir)
	return in, out
}

// instrumentGoInfo is instrumentGo, also returning the Info.
func instrumentGoInfo(t testing.TB, srcDir string) (in, out []byte, info Info) {
	t.Helper()
	in = wasmtest.Build(t, srcDir)
	out, info, err := Instrument(in)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	if info.HadStart {
		t.Errorf("Info.HadStart is set for a Go program, which has no start section")
	}
	return in, out, info
}

// newWASIRuntime returns a runtime with WASI, closed with the test.
func newWASIRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	rt := newRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(context.Background(), rt)
	return rt
}

func TestInstrumentGoModuleStructure(t *testing.T) {
	t.Parallel()
	in, out, info := instrumentGoInfo(t, "testdata/hello")
	if cap(out) != len(out) {
		t.Errorf("output has capacity %d for %d bytes: its size was mispredicted", cap(out), len(out))
	}

	// Go modules import functions but no global, and define a memory and a
	// type () -> ().
	types := readTypes(t, in)
	voidType := slices.IndexFunc(types, func(typ []byte) bool { return bytes.Equal(typ, typeVoid) })
	if voidType < 0 {
		t.Fatalf("cannot find the type () -> () among the %d types of the Go program", len(types))
	}
	imported, _ := vectorItems(t, sectionByID(t, in, sectionImport)) // all functions
	funcs, funcItems := vectorItems(t, sectionByID(t, in, sectionFunction))
	globals, globalItems := vectorItems(t, sectionByID(t, in, sectionGlobal))
	exports, exportItems := vectorItems(t, sectionByID(t, in, sectionExport))
	// Its table has no maximum size, and gets one.
	tables, tableItems := vectorItems(t, sectionByID(t, in, sectionTable))
	if tables != 1 || !bytes.HasPrefix(tableItems, []byte{tFuncref, 0x00}) {
		t.Fatalf("the Go program has %d tables: % x, want one funcref table without maximum", tables, tableItems)
	}
	x := indices{stop: uint32(globals), budget: uint32(globals) + 1, slow: uint32(imported + funcs)}
	want := map[byte][]byte{
		sectionTable:    cat(uleb(1), []byte{tFuncref, 0x01}, tableItems[2:], uleb(MaxTableElements)),
		sectionFunction: cat(uleb(funcs+1), funcItems, uleb(uint64(voidType))),
		sectionGlobal:   cat(uleb(globals+2), globalItems, x.globalItems()),
		sectionExport:   cat(uleb(exports+2), exportItems, x.exportItems(-1)),
	}

	// The sections keep their order; those not checked above or below are
	// unchanged.
	inSecs, outSecs := readSections(t, in), readSections(t, out)
	if len(inSecs) != len(outSecs) {
		t.Fatalf("%d sections, want %d", len(outSecs), len(inSecs))
	}
	for i, s := range inSecs {
		got := outSecs[i]
		if got.id != s.id {
			t.Fatalf("section %d has id %d, want %d", i, got.id, s.id)
		}
		if w, ok := want[s.id]; ok {
			if !bytes.Equal(got.content, w) {
				t.Errorf("%s section is not the original one plus the instrumentation's items", sectionNames[s.id])
			}
		} else if s.id != sectionCode && s.id != sectionData && !(s.id == sectionCustom && customName(t, s.content) == "name") && !bytes.Equal(got.content, s.content) {
			t.Errorf("section %d (id %d) changed", i, s.id)
		}
	}

	// The Go linker emits tens of thousands of data segments, which merge
	// into a handful. TestInstrumentGoProgramBehavesTheSame compares the
	// memories they initialize.
	inSegments, _ := vectorItems(t, sectionByID(t, in, sectionData))
	outSegments, _ := vectorItems(t, sectionByID(t, out, sectionData))
	t.Logf("%d data segments merged into %d", inSegments, outSegments)
	if uint64(info.DataSegmentsIn) != inSegments || uint64(info.DataSegmentsOut) != outSegments {
		t.Errorf("Info.DataSegmentsIn, Out = %d, %d; the modules have %d, %d", info.DataSegmentsIn, info.DataSegmentsOut, inSegments, outSegments)
	}
	if inSegments < 10000 || outSegments > 10 {
		t.Errorf("%d data segments merged into %d, want from over 10000 to at most 10", inSegments, outSegments)
	}

	inNames, outNames := functionNames(t, in), functionNames(t, out)
	if len(inNames) < 1000 {
		t.Fatalf("the Go program names %d functions", len(inNames))
	}
	inNames[uint64(x.slow)] = slowName
	if !maps.Equal(outNames, inNames) {
		t.Errorf("function names are not the original ones plus %q", slowName)
	}

	// Bodies only gain checks, and Go code has loops.
	if funcs := len(codeBodies(t, in)); checkBodies(t, in, out, x) < funcs+100 {
		t.Errorf("checks at the entries of %d functions and at fewer than 100 loops in a Go program", funcs)
	}
}

func TestInstrumentGoModuleTruncated(t *testing.T) {
	t.Parallel()
	in := wasmtest.Build(t, "testdata/hello")
	whole := map[int]bool{8: true}
	for _, s := range readSections(t, in) {
		whole[s.end] = true
	}
	for n := 0; n < len(in); n += len(in)/50 + 1 {
		for _, cut := range []int{n, n + 1} {
			_, _, err := Instrument(in[:cut])
			if !whole[cut] && !errors.Is(err, ErrMalformed) {
				t.Errorf("cut to %d bytes: error %v, want one wrapping ErrMalformed", cut, err)
			}
		}
	}
}

// runGo runs a WASI module to its end and returns its output and exit code.
func runGo(t *testing.T, rt wazero.Runtime, compiled wazero.CompiledModule) (stdout, stderr string, exitCode uint32) {
	t.Helper()
	var outBuf, errBuf bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(&outBuf).WithStderr(&errBuf)
	_, err := rt.InstantiateModule(context.Background(), compiled, cfg)
	var exitErr *sys.ExitError
	switch {
	case errors.As(err, &exitErr):
		exitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running: %v", err)
	}
	return outBuf.String(), errBuf.String(), exitCode
}

// TestInstrumentGoProgramBehavesTheSame checks that a Go program instruments
// into one whose memory is the same after instantiation, despite its merged
// data segments, and that prints the same.
func TestInstrumentGoProgramBehavesTheSame(t *testing.T) {
	t.Parallel()
	in, out := instrumentGo(t, "testdata/hello")
	ctx := context.Background()
	rt := newWASIRuntime(t)
	compile := func(wasm []byte) wazero.CompiledModule {
		t.Helper()
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatalf("compiling: %v", err)
		}
		return compiled
	}
	inCompiled, outCompiled := compile(in), compile(out)
	memory := func(compiled wazero.CompiledModule) []byte {
		t.Helper()
		mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatalf("instantiating: %v", err)
		}
		defer mod.Close(ctx)
		b, _ := mod.Memory().Read(0, mod.Memory().Size())
		return bytes.Clone(b)
	}
	if want, got := memory(inCompiled), memory(outCompiled); !bytes.Equal(got, want) {
		t.Errorf("memory after instantiation differs from the original's (%d bytes, %d in the original)", len(got), len(want))
	}

	wantOut, wantErr, wantCode := runGo(t, rt, inCompiled)
	if wantCode != 3 || !strings.Contains(wantOut, "primes: 2262 19997") {
		t.Fatalf("original program: exit code %d, output %q", wantCode, wantOut)
	}
	gotOut, gotErr, gotCode := runGo(t, rt, outCompiled)
	if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
		t.Errorf("instrumented program: exit code %d, stdout %q, stderr %q; want %d, %q, %q",
			gotCode, gotOut, gotErr, wantCode, wantOut, wantErr)
	}
}

// signalWriter is an io.Writer that closes written at the first write.
type signalWriter struct {
	once    sync.Once
	written chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.written) })
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestInstrumentStopsGoInfiniteLoop collects garbage while a Go guest spins
// in a loop that never calls the host, then stops the guest. Compiled wasm
// code has no Go safepoint: without the guest's regular calls into Go, the
// first collection would wait for the guest forever, with every other
// goroutine stopped, and the test binary would hang. The test is not
// parallel, so that its collections do not slow other tests.
func TestInstrumentStopsGoInfiniteLoop(t *testing.T) {
	_, out := instrumentGo(t, "testdata/loop")
	ctx := context.Background()
	rt := newWASIRuntime(t)
	stdout := &signalWriter{written: make(chan struct{})}
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(stdout).WithStartFunctions()
	mod, err := rt.InstantiateWithConfig(ctx, out, cfg)
	if err != nil {
		t.Fatalf("instantiating: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("_start").Call(ctx)
		done <- err
	}()
	select {
	case <-stdout.written: // the guest now spins
	case err := <-done:
		t.Fatalf("_start returned %v before spinning", err)
	}
	var longest time.Duration
	for range 50 {
		start := time.Now()
		runtime.GC()
		longest = max(longest, time.Since(start))
	}
	t.Logf("longest of 50 collections while the guest spins: %v", longest)

	stopped := time.Now()
	stopNow(t, mod)
	const limit = 10 * time.Second
	select {
	case err = <-done:
	case <-time.After(limit):
		t.Fatalf("the guest still runs %v after it was stopped", limit)
	}
	if !isStopTrap(err) || !strings.Contains(err.Error(), slowName) {
		t.Fatalf("_start returned %v, want an unreachable trap in %s", err, slowName)
	}
	t.Logf("trapped %v after the stop", time.Since(stopped))
	if got := stdout.String(); got != "spinning\n" {
		t.Errorf("stdout %q, want %q", got, "spinning\n")
	}
}

func BenchmarkInstrument(b *testing.B) {
	wasm := wasmtest.Build(b, "testdata/hello")
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
