package runtime

import (
	"bytes"
	"io"
	"sync"
)

// capture keeps the first max bytes written to it and counts the rest.
// Writes never fail: a guest that prints too much loses output, not its run.
// Kept bytes are also copied to tee, if set, as they arrive.
type capture struct {
	mu      sync.Mutex
	max     int64
	buf     bytes.Buffer
	dropped int64
	tee     io.Writer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := p
	if room := c.max - int64(c.buf.Len()); int64(len(p)) > room {
		keep = p[:max(room, 0)]
		c.dropped += int64(len(p) - len(keep))
	}
	if len(keep) > 0 {
		c.buf.Write(keep)
		if c.tee != nil {
			_, _ = c.tee.Write(keep) // a failing tee must not fail the guest
		}
	}
	return len(p), nil
}

func (c *capture) result() (data []byte, dropped int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes()), c.dropped
}
