package hostapi

import (
	"context"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// invocation is one host function call: its run, the caller's memory and
// the area ("kv", "http", ...) that prefixes its error messages.
type invocation struct {
	ctx  context.Context
	call *Call
	mem  api.Memory // nil when the guest exports no memory
	area string
	// quiet keeps failures out of last_error; last_error itself is quiet so
	// that its ERANGE retry reads the same message.
	quiet bool
}

// memoryOf returns the memory of the calling module, or nil when it has
// none. wazero returns a nil *MemoryInstance inside a non-nil api.Memory
// for a module without memory, so nil is checked by reflection too.
func memoryOf(mod api.Module) api.Memory {
	mem := mod.Memory()
	if mem == nil {
		return nil
	}
	if v := reflect.ValueOf(mem); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return mem
}

// fail records a failure of this call as the run's last error and returns e.
func (in *invocation) fail(e Errno, format string, args ...any) Errno {
	if in.quiet {
		return e
	}
	return in.call.fail(e, in.area+": "+format, args...)
}

func (in *invocation) memSize() uint32 {
	if in.mem == nil {
		return 0
	}
	return in.mem.Size()
}

// inRange reports whether [ptr, ptr+n) lies inside guest memory. An empty
// range always does: its pointer is ignored.
func (in *invocation) inRange(ptr, n uint32) bool {
	if n == 0 {
		return true
	}
	// uint64 arithmetic: ptr+n must not wrap around.
	return uint64(ptr)+uint64(n) <= uint64(in.memSize())
}

// fault records an EFAULT for the argument what at [ptr, ptr+n).
func (in *invocation) fault(what string, ptr, n uint32) Errno {
	return in.fail(EFAULT, "%s at %#x (%d bytes) lies outside guest memory (%d bytes)", what, ptr, n, in.memSize())
}

// read returns a copy of [ptr, ptr+n) of guest memory; the copy stays valid
// when memory grows or the call blocks.
func (in *invocation) read(what string, ptr, n uint32) ([]byte, Errno) {
	return in.readPrefix(what, ptr, n, int(n))
}

// readPrefix checks that all of [ptr, ptr+n) lies in guest memory and
// returns a copy of its first limit bytes at most.
func (in *invocation) readPrefix(what string, ptr, n uint32, limit int) ([]byte, Errno) {
	if !in.inRange(ptr, n) {
		return nil, in.fault(what, ptr, n)
	}
	if n == 0 {
		return []byte{}, OK
	}
	if uint64(n) > uint64(limit) {
		n = uint32(limit)
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return nil, in.fault(what, ptr, n)
	}
	return append([]byte(nil), b...), OK
}

// checkOut checks an output buffer and its length pointer.
func (in *invocation) checkOut(outPtr, outCap, lenPtr uint32) Errno {
	if !in.inRange(outPtr, outCap) {
		return in.fault("output buffer", outPtr, outCap)
	}
	if !in.inRange(lenPtr, 4) {
		return in.fault("length pointer", lenPtr, 4)
	}
	return OK
}

// write implements the ABI's output protocol: data goes to out_ptr and its
// length to len_ptr, or, when out_cap is too small, only the length and
// ERANGE.
func (in *invocation) write(outPtr, outCap, lenPtr uint32, data []byte) Errno {
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	if uint64(len(data)) > uint64(outCap) {
		if !in.mem.WriteUint32Le(lenPtr, uint32(len(data))) {
			return in.fault("length pointer", lenPtr, 4)
		}
		return in.fail(ERANGE, "the output buffer (%d bytes) is too small: %d bytes needed", outCap, len(data))
	}
	return in.commit(outPtr, lenPtr, data)
}

// commit writes data at outPtr and its length at lenPtr; both ranges have
// been checked.
func (in *invocation) commit(outPtr, lenPtr uint32, data []byte) Errno {
	if len(data) > 0 && !in.mem.Write(outPtr, data) {
		return in.fault("output buffer", outPtr, uint32(len(data)))
	}
	if !in.mem.WriteUint32Le(lenPtr, uint32(len(data))) {
		return in.fault("length pointer", lenPtr, 4)
	}
	return OK
}

// canceled reports whether the run's context has ended, recording ECANCELED.
func (in *invocation) canceled() (Errno, bool) {
	if err := in.ctx.Err(); err != nil {
		return in.fail(ECANCELED, "the run was stopped: %v", context.Cause(in.ctx)), true
	}
	return OK, false
}

// truncatedMark is appended to messages cut at the message limit.
const truncatedMark = " …[truncated]"

// message turns guest bytes into a log or progress message: invalid UTF-8
// replaced with U+FFFD, at most limit bytes cut on a rune boundary, and
// marked when cut. cut tells that b is only a prefix of the guest's message.
func message(b []byte, limit int, cut bool) string {
	if cut {
		b = trimPartialRune(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > limit {
		// Replacements can make s longer than b; s is valid UTF-8 now.
		n := limit
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s, cut = s[:n], true
	}
	if cut {
		s += truncatedMark
	}
	return s
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
