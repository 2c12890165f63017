//go:build linux

package runtime

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cronbox/cronbox/runtime/internal/instrument"
)

// mapping is an anonymous private mapping. Only its first high bytes were
// ever handed to a guest; only resident pages among them can be non-zero.
type mapping struct {
	buf  []byte
	high uint64
	// image is what the mapping holds, zeroed elsewhere, when clean: it
	// was reset and handed to no guest since (see memPool).
	image *instrument.Image
	clean bool
}

func newMapping(size uint64) (*mapping, error) {
	if size == 0 {
		return &mapping{}, nil
	}
	buf, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving %d bytes of guest memory: %w", size, err)
	}
	return &mapping{buf: buf}, nil
}

func (m *mapping) touch(size uint64) { m.high = max(m.high, size) }

// directScrub is the most bytes that scrub clears outright, without asking
// mincore which pages are resident: on the VMs measured, the system call
// alone (2.4 to 5 µs) costs more than clearing 64 KiB (1.2 to 2.9 µs). The
// pages it clears stay resident, at most 64 KiB a mapping.
const directScrub = 64 << 10

// scrub zeroes the mapping for its next user. Pages that were never touched
// are still the kernel's zero pages and are left alone (mincore tells which);
// resident pages are cleared in place so they stay resident. Past limit
// resident bytes it is cheaper to let the kernel drop them.
func (m *mapping) scrub(limit uint64) error {
	if m.high == 0 {
		return nil
	}
	if m.high <= directScrub {
		clear(m.buf[:m.high])
		m.high = 0
		return nil
	}
	page := uint64(os.Getpagesize())
	high := (m.high + page - 1) / page * page
	vec := make([]byte, high/page)
	if err := mincore(m.buf[:high], vec); err != nil {
		return err
	}
	var resident uint64
	for _, v := range vec {
		resident += uint64(v & 1)
	}
	if resident*page > limit {
		if err := unix.Madvise(m.buf[:high], unix.MADV_DONTNEED); err != nil {
			return err
		}
		m.high = 0
		return nil
	}
	for i := 0; i < len(vec); {
		if vec[i]&1 == 0 {
			i++
			continue
		}
		j := i
		for j < len(vec) && vec[j]&1 != 0 {
			j++
		}
		clear(m.buf[uint64(i)*page : uint64(j)*page])
		i = j
	}
	m.high = 0
	return nil
}

func (m *mapping) release() {
	if len(m.buf) > 0 {
		_ = unix.Munmap(m.buf)
		m.buf = nil
	}
}

// mincore reports which pages of b are resident, one byte a page in vec.
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return fmt.Errorf("mincore: %w", e)
	}
	return nil
}
