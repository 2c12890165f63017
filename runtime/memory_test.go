package runtime

import (
	"os"
	"testing"
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

// A mapping comes back from the pool zeroed, whether the scrubber cleared
// it or the run that took it back did, and each is reused rather than a
// new one mapped.
func TestPoolHandsOutZeroedMappings(t *testing.T) {
	const size, used = 1 << 20, 256 << 10
	p := newMemPool(2)
	defer p.close()
	seen := map[*mapping]bool{}
	for i := range 200 {
		m, err := p.get(size)
		if err != nil {
			t.Fatal(err)
		}
		seen[m] = true
		for j, b := range m.buf[:used] {
			if b != 0 {
				t.Fatalf("get %d: byte %d is %#x, want 0", i, j, b)
			}
		}
		dirty(m, used)
		p.put(m)
	}
	// Runs one at a time need one mapping, or two while the scrubber
	// holds the last one.
	if len(seen) > 2 {
		t.Errorf("%d mappings were made for 200 runs one at a time; want at most 2", len(seen))
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
		m, err := p.get(size)
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
