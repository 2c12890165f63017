package runtime

import (
	"bytes"
	"os"
	"testing"

	"github.com/cronbox/cronbox/runtime/internal/instrument"
)

// dirty writes a non-zero byte to every page of the first n bytes of m, as
// a guest would, and marks them handed out.
func dirty(m *mapping, n uint64) {
	page := uint64(os.Getpagesize())
	for i := uint64(0); i < n; i += page {
		m.buf[i] = 0xa5
		m.buf[min(i+page, n)-1] = 0x5a
	}
	m.touch(n)
}

// A mapping comes back from the pool zeroed, whether put cleared it (a
// small one), the scrubber did or the run that took it back did, and each
// is reused rather than a new one mapped.
func TestPoolHandsOutZeroedMappings(t *testing.T) {
	const size = 1 << 20
	for _, c := range []struct {
		used     uint64
		mappings int // at most, for runs one at a time
	}{
		{used: 4 << 10, mappings: 1},     // scrubbed by put
		{used: inlineScrub, mappings: 1}, // likewise
		{used: 256 << 10, mappings: 2},   // by the scrubber, which may hold the last one
	} {
		p := newMemPool(2)
		seen := map[*mapping]bool{}
		for i := range 200 {
			m, err := p.get(size, nil)
			if err != nil {
				t.Fatal(err)
			}
			seen[m] = true
			for j, b := range m.buf[:c.used] {
				if b != 0 {
					t.Fatalf("%d bytes used, get %d: byte %d is %#x, want 0", c.used, i, j, b)
				}
			}
			dirty(m, c.used)
			p.put(m)
		}
		p.close()
		if len(seen) > c.mappings {
			t.Errorf("%d bytes used: %d mappings were made for 200 runs one at a time; want at most %d", c.used, len(seen), c.mappings)
		}
	}
}

// The pool keeps at most maxIdle mappings, dirty or zeroed; close stops
// the scrubber and unmaps them all, and a mapping put after close is
// unmapped at once.
func TestPoolBoundsAndClose(t *testing.T) {
	const size = 64 << 10
	p := newMemPool(2)
	var ms []*mapping
	for range 3 {
		m, err := p.get(size, nil)
		if err != nil {
			t.Fatal(err)
		}
		dirty(m, size)
		ms = append(ms, m)
	}
	for _, m := range ms {
		p.put(m)
	}
	if ms[2].buf != nil {
		t.Error("a third mapping was kept by a pool of 2")
	}
	p.mu.Lock()
	n := p.nIdle
	p.mu.Unlock()
	if n != 2 {
		t.Errorf("the pool holds %d mappings, want 2", n)
	}
	p.close()
	select {
	case <-p.done:
	default:
		t.Fatal("close returned before the scrubber stopped")
	}
	if ms[0].buf != nil || ms[1].buf != nil || p.nIdle != 0 {
		t.Error("close left mappings mapped")
	}
	late, err := newMapping(size)
	if err != nil {
		t.Fatal(err)
	}
	p.put(late)
	if late.buf != nil {
		t.Error("a mapping put after close was kept")
	}
	p.close() // a second close is harmless
}

// holds reports whether m holds exactly img on zeros.
func holds(m *mapping, img *instrument.Image) bool {
	want := make([]byte, len(m.buf))
	if img != nil {
		for _, s := range img.Segments {
			copy(want[s.Offset:], s.Bytes)
		}
	}
	return bytes.Equal(m.buf, want)
}

// A mapping comes back from the pool holding the image asked for, whatever
// it held and however much of it the last guest wrote; one that holds the
// image already is reused first.
func TestPoolHandsOutMappingsHoldingTheImage(t *testing.T) {
	const size = 1 << 20
	a := &instrument.Image{Segments: []instrument.Segment{{Offset: 10, Bytes: []byte("aaaa")}, {Offset: 70000, Bytes: []byte("a2")}}, Size: 70002}
	b := &instrument.Image{Segments: []instrument.Segment{{Offset: 12, Bytes: []byte("bb")}}, Size: 14}
	p := newMemPool(4)
	defer p.close()
	for i, c := range []struct {
		img  *instrument.Image
		used uint64
	}{
		{a, 4 << 10}, {a, 256 << 10}, {b, 4 << 10}, {nil, 256 << 10}, {a, size}, {b, 4 << 10}, {nil, 0}, {a, 4 << 10},
	} {
		m, err := p.get(size, c.img)
		if err != nil {
			t.Fatal(err)
		}
		if !holds(m, c.img) {
			t.Fatalf("get %d: the mapping does not hold exactly the image asked for", i)
		}
		dirty(m, c.used)
		p.put(m)
	}
	if _, err := p.get(8, a); err == nil {
		t.Error("get of a mapping smaller than the image succeeded")
	}
}
