package runtime

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories are the largest per-run cost of a fresh instance: a Go
// guest grows its memory to several MiB while its runtime starts, and every
// page it touches in a freshly mapped region costs a page fault. The pool
// keeps the mappings of finished runs and hands them to new runs, so the
// pages a task touched last time are already resident. A mapping is zeroed
// before reuse (resident pages only, see scrub), so no run ever sees the
// bytes of another.
//
// Each mapping reserves the whole limit of its run up front as address space
// only; pages are backed as the guest touches them. Growing a memory is
// therefore a bounds check, never a copy, and the memory of a run lives
// outside the Go heap: a guest that fills its memory does not move the
// host's heap at all.

// memPool recycles linear memory mappings by reservation size. A finished
// run's mapping is dirty until scrubbed: the pool's scrubber goroutine
// zeroes it after the run has returned, so that clearing the last guest's
// pages is not part of any run's latency. A run that finds no zeroed
// mapping of its size but a dirty one scrubs that one itself rather than
// mapping fresh pages, so the work is never done twice and never skipped.
type memPool struct {
	mu      sync.Mutex
	idle    map[uint64][]*mapping // zeroed, by size
	dirty   []*mapping            // waiting for the scrubber, oldest first
	nIdle   int                   // len of every idle list plus len(dirty)
	maxIdle int
	closed  bool
	// resident is the scrub threshold: a mapping with more resident bytes
	// than this is released to the OS instead of cleared by hand.
	resident uint64

	wake chan struct{} // one pending signal: dirty is not empty
	stop chan struct{} // closed by close
	done chan struct{} // closed when the scrubber returns
}

// inlineScrub is the most bytes a guest may have been handed of a mapping
// that put scrubs itself.
const inlineScrub = 64 << 10

func newMemPool(maxIdle int) *memPool {
	p := &memPool{
		idle:     map[uint64][]*mapping{},
		maxIdle:  maxIdle,
		resident: 32 << 20,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go p.scrubber()
	return p
}

// get returns a zeroed mapping of exactly size bytes.
func (p *memPool) get(size uint64) (*mapping, error) {
	p.mu.Lock()
	if l := p.idle[size]; len(l) > 0 {
		m := l[len(l)-1]
		p.idle[size] = l[:len(l)-1]
		p.nIdle--
		p.mu.Unlock()
		return m, nil
	}
	for i := len(p.dirty) - 1; i >= 0; i-- { // the newest is the most resident
		if m := p.dirty[i]; uint64(len(m.buf)) == size {
			p.dirty = slices.Delete(p.dirty, i, i+1)
			p.nIdle--
			p.mu.Unlock()
			if err := m.scrub(p.resident); err != nil {
				m.release()
				return newMapping(size)
			}
			return m, nil
		}
	}
	p.mu.Unlock()
	return newMapping(size)
}

// put hands m to the scrubber, or unmaps it when the pool is full or
// closed. A mapping of which at most inlineScrub bytes were handed out is
// scrubbed at once: waking the scrubber would cost more.
func (p *memPool) put(m *mapping) {
	small := m.high <= inlineScrub
	if small {
		if err := m.scrub(p.resident); err != nil {
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
		size := uint64(len(m.buf))
		p.idle[size] = append(p.idle[size], m)
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

// scrubber zeroes dirty mappings until close.
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
			err := m.scrub(p.resident)
			p.mu.Lock()
			switch {
			case err != nil || p.closed:
				p.nIdle--
				p.mu.Unlock()
				m.release()
			default:
				size := uint64(len(m.buf))
				p.idle[size] = append(p.idle[size], m)
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
	limit   uint64
	acct    *Account
	refused atomic.Bool
	err     error // a mapping that could not be made
}

var _ experimental.MemoryAllocator = (*runMemory)(nil)

// Allocate implements experimental.MemoryAllocator.
func (r *runMemory) Allocate(_, max uint64) experimental.LinearMemory {
	size := min(max, r.limit)
	m, err := r.pool.get(size)
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
