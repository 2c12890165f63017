package runtime

import (
	"fmt"
	"time"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// Limits bound one run. A zero field means "the runtime's default".
type Limits struct {
	// Memory caps the guest's linear memory, in bytes. A module whose
	// declared minimum exceeds it does not start; growth past it fails
	// inside the guest (memory.grow returns -1).
	Memory int64
	// Timeout is the run's wall-time limit. At the limit the guest is
	// stopped, wherever it is, and its instance closed.
	Timeout time.Duration
	// Output caps the bytes kept of stdout and, separately, of stderr.
	// The rest is dropped and the result says how much.
	Output int64
}

// Limits a run gets when neither its Spec nor the runtime's Config names one.
const (
	DefaultMemory  = 64 << 20
	DefaultTimeout = time.Minute
	DefaultOutput  = 1 << 20
)

// The most a run may ask for unless the runtime's Config sets a lower ceiling.
const (
	MaxMemory  = 4 << 30 // all a 32-bit guest can address
	MaxTimeout = 24 * time.Hour
	MaxOutput  = 64 << 20
)

func defaultLimits() Limits {
	return Limits{Memory: DefaultMemory, Timeout: DefaultTimeout, Output: DefaultOutput}
}

func ceilingLimits() Limits {
	return Limits{Memory: MaxMemory, Timeout: MaxTimeout, Output: MaxOutput}
}

func (l Limits) orDefaults(d Limits) Limits {
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.Output == 0 {
		l.Output = d.Output
	}
	return l
}

// within reports the first limit that is negative or above ceiling.
func (l Limits) within(ceiling Limits) error {
	switch {
	case l.Memory < 0 || l.Memory > ceiling.Memory:
		return fmt.Errorf("%w: memory %s is outside 0..%s", ErrLimit, bytesize.Format(l.Memory), bytesize.Format(ceiling.Memory))
	case l.Memory > 0 && l.Memory < pageSize:
		return fmt.Errorf("%w: memory %s is less than one 64 KiB page", ErrLimit, bytesize.Format(l.Memory))
	case l.Timeout < 0 || l.Timeout > ceiling.Timeout:
		return fmt.Errorf("%w: timeout %s is outside 0..%s", ErrLimit, l.Timeout, ceiling.Timeout)
	case l.Output < 0 || l.Output > ceiling.Output:
		return fmt.Errorf("%w: output %s is outside 0..%s", ErrLimit, bytesize.Format(l.Output), bytesize.Format(ceiling.Output))
	}
	return nil
}

// pageSize is the size of a WebAssembly memory page.
const pageSize = 64 << 10

// resolve fills l's zero fields from the defaults, checks it against the
// ceiling and rounds the memory limit down to whole pages.
func (l Limits) resolve(defaults, ceiling Limits) (Limits, error) {
	l = l.orDefaults(defaults)
	if err := l.within(ceiling); err != nil {
		return Limits{}, err
	}
	l.Memory &^= pageSize - 1
	return l, nil
}
