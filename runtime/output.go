package runtime

import (
	"bytes"
	"io"
	"sync"
)

// capture keeps the first max bytes written to it and counts the rest.
// Writes never fail: a guest that prints too much loses output, not its run.
// Kept bytes are also copied to tee, if set, as they arrive. The buffer's
// capacity is reserved in acct before it is allocated; output that would
// pass the run's memory limit is dropped like output past max.
type capture struct {
	mu      sync.Mutex
	max     int64
	acct    *Account
	data    []byte
	dropped int64
	tee     io.Writer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := p
	if room := c.max - int64(len(c.data)); int64(len(p)) > room {
		keep = p[:max(room, 0)]
	}
	if len(keep) > 0 && !c.room(len(keep)) {
		keep = nil
	}
	c.dropped += int64(len(p) - len(keep))
	if len(keep) > 0 {
		c.data = append(c.data, keep...)
		if c.tee != nil {
			_, _ = c.tee.Write(keep) // a failing tee must not fail the guest
		}
	}
	return len(p), nil
}

// minCapture is the first capacity of a capture's buffer: most runs print
// a line or two, and result copies what is kept anyway.
const minCapture = 256

// room makes the buffer's capacity hold n more bytes, reserving the growth,
// and reports whether it does. It grows by doubling, up to max, or by what
// is needed when the doubling does not fit in the account.
func (c *capture) room(n int) bool {
	need := len(c.data) + n
	if need <= cap(c.data) {
		return true
	}
	size := int(min(int64(max(2*cap(c.data), need, minCapture)), c.max))
	if c.acct.Reserve(int64(size-cap(c.data))) != nil {
		size = need
		if c.acct.Reserve(int64(size-cap(c.data))) != nil {
			return false
		}
	}
	b := make([]byte, len(c.data), size)
	copy(b, c.data)
	c.data = b
	return true
}

// kept returns how many bytes are kept.
func (c *capture) kept() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.data))
}

func (c *capture) result() (data []byte, dropped int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.data), c.dropped
}
