// Package gcfloor keeps the garbage collector's heap goal at least a floor
// above the live heap.
//
// Every run of a guest leaves the host a fixed amount of short-lived
// garbage (wazero's instantiation allocates a function instance for every
// element of the module's table: about 210 KB and 6,600 objects for a Go
// guest), whatever the size of the live heap. With GOGC's default of 100
// and a live heap of 20 MB, a collection starts every hundred runs or so,
// and the runs during its mark phase share the cores with it and assist
// it: they are most of the slowest. A floor makes the collections of a
// small heap rarer; a large heap keeps GOGC's own goal.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the heap goal's least distance above the live heap that the
// server keeps.
const Floor = 64 << 20

// keeper re-arms itself after every collection until stopped.
type keeper struct {
	floor uint64
	base  int // the GC percent before Keep, and the least it sets

	mu      sync.Mutex
	percent int // the GC percent it set last
	stopped bool
}

// Keep sets the GC percent after every collection so that the next one
// starts no sooner than floor bytes of allocation after it, or by GOGC's
// percent if that is later, until stop, which restores the percent. It
// does nothing when the GOGC environment variable is set, or collection is
// off: then the process's owner chose.
func Keep(floor uint64) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base < 0 {
		return func() {}
	}
	k := &keeper{floor: floor, base: base, percent: base}
	k.adjust()
	k.arm()
	return k.stop
}

// arm has adjust called after the next collection: the finalizer of an
// unreachable object runs once a collection has found it so.
func (k *keeper) arm() {
	s := new([16]byte) // big enough not to share a tiny allocation
	runtime.SetFinalizer(s, func(*[16]byte) {
		k.mu.Lock()
		stopped := k.stopped
		k.mu.Unlock()
		if stopped {
			return
		}
		k.adjust()
		k.arm()
	})
}

// adjust sets the GC percent for the live heap the last collection left.
func (k *keeper) adjust() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	want := percentFor(sample[0].Value.Uint64(), k.floor, k.base)
	k.mu.Lock()
	defer k.mu.Unlock()
	// Setting the percent stops the world: only a change of a tenth.
	if k.stopped || (want*10 >= k.percent*9 && want*10 <= k.percent*11) {
		return
	}
	k.percent = want
	debug.SetGCPercent(want)
}

// percentFor is the GC percent whose goal for a live heap of live bytes is
// at least floor above it, and at least base.
func percentFor(live, floor uint64, base int) int {
	live = max(live, 1<<20)
	return max(base, int(min(floor*100/live, 1<<20)))
}

func (k *keeper) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.stopped {
		k.stopped = true
		debug.SetGCPercent(k.base)
	}
}
