package wasi

import (
	"time"
)

// Subscription and event layout and tags.
const (
	subscriptionSize = 48
	eventSize        = 32

	eventtypeClock   = 0
	eventtypeFdRead  = 1
	eventtypeFdWrite = 2

	subclockAbstime = 1
)

// pollOneoff waits for the first of its subscriptions. Descriptors are
// always ready: standard input holds nothing, so reading it does not
// block, and files and standard output never block. Without a descriptor
// to report, it sleeps until the earliest clock, cut short if the run
// ends, which then ends the run.
func pollOneoff(c *call) uint32 {
	in, out, n, result := uint32(c.stack[0]), uint32(c.stack[1]), uint32(c.stack[2]), uint32(c.stack[3])
	if n == 0 {
		return errnoInval
	}
	mem := c.mod.Memory()
	subs, ok := mem.Read(in, n*subscriptionSize)
	if !ok || uint64(out)+uint64(n)*eventSize > uint64(mem.Size()) {
		return errnoFault
	}
	type clock struct {
		userdata uint64
		wait     time.Duration
	}
	var events []byte
	var clocks []clock
	for i := range n {
		s := subs[i*subscriptionSize:][:subscriptionSize]
		userdata, tag := le.Uint64(s), s[8]
		switch tag {
		case eventtypeClock:
			id, timeout, flags := le.Uint32(s[16:]), int64(le.Uint64(s[24:])), le.Uint16(s[40:])
			if id > 1 { // only the realtime and monotonic clocks
				events = appendEvent(events, userdata, errnoInval, tag)
				continue
			}
			wait := time.Duration(timeout)
			if flags&subclockAbstime != 0 {
				now, errno := c.now(id)
				if errno != 0 {
					events = appendEvent(events, userdata, errno, tag)
					continue
				}
				wait = time.Duration(timeout - now)
			}
			clocks = append(clocks, clock{userdata, wait})
		case eventtypeFdRead, eventtypeFdWrite:
			var errno uint32
			switch e := c.s.lookup(uint64(le.Uint32(s[16:]))); {
			case e == nil:
				errno = errnoBadf
			default:
				errno = e.need(rightPollFdReadwrite)
			}
			events = appendEvent(events, userdata, errno, tag)
		default:
			events = appendEvent(events, userdata, errnoInval, tag)
		}
	}
	if len(events) == 0 && len(clocks) > 0 {
		first := clocks[0].wait
		for _, cl := range clocks[1:] {
			first = min(first, cl.wait)
		}
		if first > 0 {
			t := time.NewTimer(first)
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
		}
		for _, cl := range clocks {
			if cl.wait <= first {
				events = appendEvent(events, cl.userdata, 0, eventtypeClock)
			}
		}
	} else {
		for _, cl := range clocks {
			if cl.wait <= 0 {
				events = appendEvent(events, cl.userdata, 0, eventtypeClock)
			}
		}
	}
	if !mem.Write(out, events) {
		return errnoFault
	}
	return c.write(result, le.AppendUint32(nil, uint32(len(events)/eventSize)))
}

func appendEvent(b []byte, userdata uint64, errno uint32, tag byte) []byte {
	var ev [eventSize]byte
	le.PutUint64(ev[:], userdata)
	le.PutUint16(ev[8:], uint16(errno))
	ev[10] = tag
	return append(b, ev[:]...)
}

// now reads the clock id as the guest's clock_time_get does.
func (c *call) now(id uint32) (int64, uint32) {
	var t int64
	errno := c.scratch(8, func(addr uint32) uint32 {
		st := []uint64{uint64(id), 1, uint64(addr)}
		c.w.orig["clock_time_get"].Call(c.ctx, c.mod, st)
		if st[0] == 0 {
			b, _ := c.mod.Memory().Read(addr, 8)
			t = int64(le.Uint64(b))
		}
		return uint32(st[0])
	})
	return t, errno
}
