package instrument

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// checkImage checks that the output of InstrumentImage, instantiated in a
// memory holding its image, starts with the memory the input starts with,
// or fails to instantiate as the input does; or, when it kept the data
// section, that the output instantiates like the input. It reports whether
// an image was taken. in has no start function.
func checkImage(t testing.TB, rt wazero.Runtime, in []byte) bool {
	t.Helper()
	ctx := context.Background()
	out, info, err := InstrumentImage(in)
	if err != nil {
		t.Fatalf("InstrumentImage: %v", err)
	}
	if info.Image == nil {
		checkSameInstantiation(t, ctx, rt, in, out)
		return false
	}
	if info.DataSegmentsOut != 0 {
		t.Errorf("Info.DataSegmentsOut = %d with an image, want 0", info.DataSegmentsOut)
	}
	want, wantCompileErr, wantErr := instantiatedMemory(ctx, rt, in)
	got, compileErr, err := instantiatedMemory(ctx, rt, out)
	switch {
	case (compileErr != nil) != (wantCompileErr != nil):
		t.Fatalf("compiling: %v; the original module: %v", compileErr, wantCompileErr)
	case (err != nil) != (wantErr != nil):
		t.Fatalf("instantiating: %v; the original module: %v", err, wantErr)
	case compileErr != nil || err != nil:
		return true
	}
	if len(got) != len(want) || info.Image.Size > uint64(len(got)) {
		t.Fatalf("the output starts with %d bytes of memory, the image spans %d; want %d", len(got), info.Image.Size, len(want))
	}
	if bytes.ContainsFunc(got, func(r rune) bool { return r != 0 }) {
		t.Fatal("the output still writes data to its memory at instantiation")
	}
	for _, s := range info.Image.Segments {
		copy(got[s.Offset:], s.Bytes)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("the image differs from the memory the input starts with at byte %d", i)
	}
	return true
}

func TestInstrumentImage(t *testing.T) {
	t.Parallel()
	gap := int(maxDataGap)
	for _, c := range []struct {
		name  string
		wasm  []byte
		image bool
	}{
		{"merged and single segments", dataModule(
			activeSegment(16, "hello"), activeSegment(24, "world"),
			activeSegment(int32(24+5+gap+1), "far"),
			activeSegment(8, "earlier"), activeSegment(18, "over")), true},
		{"segment ending at the memory's end", dataModule(activeSegment(1<<16-3, "end")), true},
		{"no segments", dataModule(), false},
		{"out of bounds", dataModule(activeSegment(1<<16-2, "end")), false},
		{"passive segment", dataModule(activeSegment(0, "a"), passiveSegment("b")), false},
		{"data count section", newModule(oneDataPage, sec(12, uleb(1)), sec(11, vec(activeSegment(0, "a")))), false},
		{"count beyond the segments", newModule(oneDataPage, sec(11, uleb(2), activeSegment(0, "a"))), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := checkImage(t, newRuntime(t), c.wasm); got != c.image {
				t.Errorf("image taken: %v, want %v", got, c.image)
			}
		})
	}
}

func TestInstrumentImageGoProgram(t *testing.T) {
	t.Parallel()
	in, _ := instrumentGo(t, "testdata/hello")
	if !checkImage(t, newWASIRuntime(t), in) {
		t.Fatal("no image taken of a Go program")
	}
}
