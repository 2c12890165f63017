//go:build !linux

package runtime

import "github.com/cronbox/cronbox/runtime/internal/instrument"

// mapping is a plain Go slice where anonymous mappings are not available.
// The pool still saves the allocation; scrub clears what was used.
type mapping struct {
	buf  []byte
	high uint64
	// image is what the mapping holds, zeroed elsewhere, when clean: it
	// was reset and handed to no guest since (see memPool).
	image *instrument.Image
	clean bool
}

func newMapping(size uint64) (*mapping, error) { return &mapping{buf: make([]byte, size)}, nil }

func (m *mapping) touch(size uint64) { m.high = max(m.high, size) }

func (m *mapping) scrub(uint64) error {
	clear(m.buf[:m.high])
	m.high = 0
	return nil
}

func (m *mapping) release() { m.buf = nil }
