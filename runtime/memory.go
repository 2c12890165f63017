package runtime

import (
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

// memPool recycles linear memory mappings by reservation size.
type memPool struct {
	mu      sync.Mutex
	idle    map[uint64][]*mapping
	nIdle   int
	maxIdle int
	// resident is the scrub threshold: a mapping with more resident bytes
	// than this is released to the OS instead of cleared by hand.
	resident uint64
}

func newMemPool(maxIdle int) *memPool {
	return &memPool{idle: map[uint64][]*mapping{}, maxIdle: maxIdle, resident: 32 << 20}
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
	p.mu.Unlock()
	return newMapping(size)
}

// put scrubs m and keeps it for reuse, or unmaps it when the pool is full.
func (p *memPool) put(m *mapping) {
	if err := m.scrub(p.resident); err != nil {
		m.release()
		return
	}
	p.mu.Lock()
	if p.nIdle < p.maxIdle {
		p.idle[uint64(len(m.buf))] = append(p.idle[uint64(len(m.buf))], m)
		p.nIdle++
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	m.release()
}

// close unmaps every idle mapping.
func (p *memPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for size, l := range p.idle {
		for _, m := range l {
			m.release()
		}
		delete(p.idle, size)
	}
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
