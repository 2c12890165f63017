package gcfloor

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/cronbox/cronbox/internal/testenv"
)

func TestPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live, floor uint64
		base, want  int
	}{
		{live: 16 << 20, floor: 64 << 20, base: 100, want: 400},
		{live: 64 << 20, floor: 64 << 20, base: 100, want: 100},
		{live: 1 << 30, floor: 64 << 20, base: 100, want: 100},
		{live: 16 << 20, floor: 64 << 20, base: 800, want: 800},
		{live: 0, floor: 64 << 20, base: 100, want: 6400}, // a live heap counts as 1 MiB at least
	} {
		if got := percentFor(tc.live, tc.floor, tc.base); got != tc.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", tc.live, tc.floor, tc.base, got, tc.want)
		}
	}
}

// gogc returns the GC percent in force.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

var held []byte

// Keep raises the percent of a small heap, sets it again after the
// collections that find the heap grown, and stop restores it.
func TestKeepFollowsTheLiveHeap(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: Keep leaves the percent to it")
	}
	base := gogc()
	const floor = 32 << 20
	stop := Keep(floor)
	defer stop()
	if got := gogc(); got < 2*base {
		t.Fatalf("GC percent %d with a floor of 32 MiB over a test's heap, want at least %d", got, 2*base)
	}
	held = make([]byte, 256<<20) // the live heap is 8 floors
	defer func() { held = nil }()
	runtime.GC()
	testenv.WaitFor(t, "the percent of a heap 8 floors large", func() bool { return gogc() == base })
	held = nil
	runtime.GC()
	testenv.WaitFor(t, "the percent of the heap back to small", func() bool { return gogc() >= 2*base })
	stop()
	if got := gogc(); got != base {
		t.Fatalf("GC percent %d after stop, want %d", got, base)
	}
}
