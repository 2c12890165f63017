package runtime

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/cronbox/cronbox/runtime/internal/instrument"
)

// Linear memories are the largest per-run cost of a fresh instance: a Go
// guest grows its memory to several MiB while its runtime starts, and every
// page it touches in a freshly mapped region costs a page fault. The pool
// keeps the mappings of finished runs and hands them to new runs, so the
// pages a task touched last time are already resident. A mapping is reset
// before reuse (resident pages only, see scrub), so no run ever sees the
// bytes of another.
//
// A mapping is reset to the image of the module it was last handed to:
// the bytes the module's data segments write, zeros elsewhere (see
// instrument.InstrumentImage, which takes the segments out of the module
// wazero instantiates). The next run of that module finds its data in
// place, copied after the last run rather than before this one; a run of
// another module finds the memory reset to its own image first.
//
// Each mapping reserves the whole limit of its run up front as address space
// only; pages are backed as the guest touches them. Growing a memory is
// therefore a bounds check, never a copy, and the memory of a run lives
// outside the Go heap: a guest that fills its memory does not move the
// host's heap at all.

// memPool recycles linear memory mappings by reservation size and image. A
// finished run's mapping is dirty until reset: the pool's scrubber
// goroutine resets it after the run has returned, so that clearing the last
// guest's pages and copying the module's data are not part of any run's
// latency. A run that finds no reset mapping of its size but a dirty one
// resets that one itself rather than mapping fresh pages, so the work is
// never done twice and never skipped.
type memPool struct {
	mu      sync.Mutex
	idle    map[poolKey][]*mapping // reset, by size and image
	dirty   []*mapping             // waiting for the scrubber, oldest first
	nIdle   int                    // len of every idle list plus len(dirty)
	maxIdle int
	closed  bool
	// resident is the scrub threshold: a mapping with more resident bytes
	// than this is released to the OS instead of cleared by hand.
	resident uint64

	wake chan struct{} // one pending signal: dirty is not empty
	stop chan struct{} // closed by close
	done chan struct{} // closed when the scrubber returns
}

// poolKey is what a mapping of the pool is: its size, and the image of
// the module it was last handed to, which it holds again once reset (nil:
// zeroed throughout).
type poolKey struct {
	size  uint64
	image *instrument.Image
}

// inlineScrub is the most bytes a guest may have been handed of a mapping
// that put scrubs itself.
const inlineScrub = 64 << 10

func newMemPool(maxIdle int) *memPool {
	p := &memPool{
		idle:     map[poolKey][]*mapping{},
		maxIdle:  maxIdle,
		resident: 32 << 20,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go p.scrubber()
	return p
}

// get returns a mapping of exactly size bytes holding img, zeroed
// elsewhere (img may be nil: zeroed throughout). It prefers one that holds
// img already, then a zeroed one, then one holding another image.
func (p *memPool) get(size uint64, img *instrument.Image) (*mapping, error) {
	if img != nil && img.Size > size {
		return nil, fmt.Errorf("the module's data spans %d bytes, more than the %d of its memory", img.Size, size)
	}
	p.mu.Lock()
	m := p.takeIdle(poolKey{size, img})
	if m == nil && img != nil {
		m = p.takeIdle(poolKey{size, nil})
	}
	if m == nil {
		for k := range p.idle {
			if k.size == size {
				m = p.takeIdle(k)
				break
			}
		}
	}
	for i := len(p.dirty) - 1; m == nil && i >= 0; i-- { // the newest is the most resident
		if d := p.dirty[i]; uint64(len(d.buf)) == size {
			p.dirty = slices.Delete(p.dirty, i, i+1)
			p.nIdle--
			m = d
		}
	}
	p.mu.Unlock()
	if m != nil {
		if err := m.reset(img, p.resident); err == nil {
			return m, nil
		}
		m.release()
	}
	m, err := newMapping(size)
	if err != nil {
		return nil, err
	}
	return m, m.reset(img, p.resident)
}

// takeIdle removes an idle mapping of key k from the pool and returns it,
// or nil; p.mu is held.
func (p *memPool) takeIdle(k poolKey) *mapping {
	l := p.idle[k]
	if len(l) == 0 {
		return nil
	}
	m := l[len(l)-1]
	if len(l) == 1 {
		delete(p.idle, k)
	} else {
		p.idle[k] = l[:len(l)-1]
	}
	p.nIdle--
	return m
}

// reset makes m hold img, zeroed elsewhere, from any contents. A mapping
// that holds img already and was handed to no guest since is left alone.
func (m *mapping) reset(img *instrument.Image, resident uint64) error {
	if m.image == img && m.clean {
		return nil
	}
	if err := m.scrub(resident); err != nil {
		return err
	}
	m.image, m.clean = img, true
	if img != nil {
		for _, s := range img.Segments {
			copy(m.buf[s.Offset:], s.Bytes)
		}
		m.touch(img.Size)
	}
	return nil
}

// put hands m to the scrubber, or unmaps it when the pool is full or
// closed. A mapping of which at most inlineScrub bytes were handed out is
// reset at once: waking the scrubber would cost more. Either way it is
// reset to the image it was handed out with, so that the next run of the
// same module finds its data in place.
func (p *memPool) put(m *mapping) {
	m.clean = false
	small := m.high <= inlineScrub
	if small {
		if err := m.reset(m.image, p.resident); err != nil {
			m.release()
			return
		}
	}
	p.mu.Lock()
	if p.closed || p.nIdle >= p.maxIdle {
		p.mu.Unlock()
		m.release()
		return
	}
	p.nIdle++
	if small {
		k := poolKey{uint64(len(m.buf)), m.image}
		p.idle[k] = append(p.idle[k], m)
		p.mu.Unlock()
		return
	}
	p.dirty = append(p.dirty, m)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default: // a signal is pending already
	}
}

// scrubber resets dirty mappings until close.
func (p *memPool) scrubber() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			if len(p.dirty) == 0 || p.closed {
				p.mu.Unlock()
				break
			}
			m := p.dirty[0]
			p.dirty = slices.Delete(p.dirty, 0, 1)
			p.mu.Unlock()
			err := m.reset(m.image, p.resident)
			p.mu.Lock()
			switch {
			case err != nil || p.closed:
				p.nIdle--
				p.mu.Unlock()
				m.release()
			default:
				k := poolKey{uint64(len(m.buf)), m.image}
				p.idle[k] = append(p.idle[k], m)
				p.mu.Unlock()
			}
		}
	}
}

// close stops the scrubber and unmaps every pooled mapping. Mappings put
// afterwards are unmapped at once.
func (p *memPool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for size, l := range p.idle {
		for _, m := range l {
			m.release()
		}
		delete(p.idle, size)
	}
	for _, m := range p.dirty {
		m.release()
	}
	p.dirty = nil
	p.nIdle = 0
}

// runMemory is the memory allocator of one run. It enforces the run's limit
// on the guest's memory and what the host holds for the run together (see
// Account, which records the sizes), and whether the guest was refused.
type runMemory struct {
	pool    *memPool
	image   *instrument.Image // what the module's memory starts with
	limit   uint64
	acct    *Account
	refused atomic.Bool
	err     error // a mapping that could not be made
}

var _ experimental.MemoryAllocator = (*runMemory)(nil)

// Allocate implements experimental.MemoryAllocator.
func (r *runMemory) Allocate(_, max uint64) experimental.LinearMemory {
	size := min(max, r.limit)
	m, err := r.pool.get(size, r.image)
	if err != nil {
		r.err = err
		return &linearMemory{run: r}
	}
	return &linearMemory{run: r, m: m}
}

// linearMemory is one guest memory inside a pooled mapping.
type linearMemory struct {
	run *runMemory
	m   *mapping
}

// Reallocate implements experimental.LinearMemory. It never moves the
// memory: the mapping already spans the run's limit. Growth that would
// pass the limit beside the bytes the host holds for the run is refused.
func (l *linearMemory) Reallocate(size uint64) []byte {
	if l.m == nil || size > uint64(len(l.m.buf)) || !l.run.acct.grow(size) {
		l.run.refused.Store(true)
		return nil
	}
	l.m.touch(size)
	return l.m.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (l *linearMemory) Free() {
	if l.m != nil {
		l.run.pool.put(l.m)
		l.m = nil
	}
}
