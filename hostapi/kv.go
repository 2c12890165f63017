package hostapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// KV is one app's key-value namespace. The engine backs it with its store;
// MemoryKV and FileKV are simple implementations. Keys that reach a KV
// through the host functions are 1 to Limits.MaxKey bytes of UTF-8 without
// NUL bytes. Implementations must honour ctx and be safe for concurrent use.
type KV interface {
	// Get returns the value stored under key; ok is false when there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key, replacing any previous value. The KV
	// must not keep value after Set returns.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key; removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns up to limit keys that start with prefix and sort
	// strictly after after, in ascending byte order.
	List(ctx context.Context, prefix, after string, limit int) ([]string, error)
}

// kvListBatch is how many keys kv_list asks the KV for at a time.
const kvListBatch = 1024

// kvOrDenied returns the run's KV, or records EDENIED.
func (in *invocation) kvOrDenied() (KV, Errno) {
	if in.call.KV == nil {
		return nil, in.fail(EDENIED, "this app has no kv permission")
	}
	return in.call.KV, OK
}

// readKey reads and validates a key (or, with prefix set, a key prefix,
// which may be empty). Its range has been checked.
func (in *invocation) readKey(what string, ptr, n uint32, prefix bool) (string, Errno) {
	if limit := in.call.Limits.maxKey(); uint64(n) > uint64(limit) {
		return "", in.fail(ETOOLARGE, "%s of %d bytes exceeds the limit of %d bytes", what, n, limit)
	}
	if n == 0 && !prefix {
		return "", in.fail(EINVAL, "%s is empty", what)
	}
	b, e := in.read(what, ptr, n)
	if e != OK {
		return "", e
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", in.fail(EINVAL, "%s %q contains a NUL byte", what, b)
	}
	if !utf8.Valid(b) {
		return "", in.fail(EINVAL, "%s %q is not valid UTF-8", what, b)
	}
	return string(b), OK
}

// storeFailed records the failure of a KV operation: ECANCELED when the run
// has ended, EIO otherwise.
func (in *invocation) storeFailed(err error, format string, args ...any) Errno {
	op := fmt.Sprintf(format, args...)
	if in.ctx.Err() != nil {
		return in.fail(ECANCELED, "the run was stopped while %s: %v", op, err)
	}
	return in.fail(EIO, "%s: %v", op, err)
}

// kvArg is a string argument of a KV host function: a key, a key prefix
// (which may be empty) or the value.
type kvArg struct {
	what   string
	ptr, n uint32
	prefix bool
}

// kvOut is the output buffer of a KV host function.
type kvOut struct{ ptr, cap, lenPtr uint32 }

// kvBegin is what every KV host function does before it calls the KV, in
// the order that decides which error a guest gets: the ranges of its keys,
// of its value (if any) and of its output buffer (if any); the app's kv
// permission; each key read and checked; the value held to its limit and
// read; and the run's end. It returns the KV, the keys in the order given
// and the value, whose bytes are held for the run: the caller releases
// len(value) when it is done with it.
func (in *invocation) kvBegin(keys []kvArg, value *kvArg, out *kvOut) (KV, []string, []byte, Errno) {
	args := keys
	if value != nil {
		args = append(args[:len(args):len(args)], *value)
	}
	for _, a := range args {
		if !in.inRange(a.ptr, a.n) {
			return nil, nil, nil, in.fault(a.what, a.ptr, a.n)
		}
	}
	if out != nil {
		if e := in.checkOut(out.ptr, out.cap, out.lenPtr); e != OK {
			return nil, nil, nil, e
		}
	}
	kv, e := in.kvOrDenied()
	if e != OK {
		return nil, nil, nil, e
	}
	strs := make([]string, len(keys))
	for i, a := range keys {
		if strs[i], e = in.readKey(a.what, a.ptr, a.n, a.prefix); e != OK {
			return nil, nil, nil, e
		}
	}
	var val []byte
	if value != nil {
		if limit := in.call.Limits.maxValue(); uint64(value.n) > uint64(limit) {
			return nil, nil, nil, in.fail(ETOOLARGE, "value of %d bytes exceeds the limit of %d bytes", value.n, limit)
		}
		if e := in.hold("a value", int64(value.n)); e != OK {
			return nil, nil, nil, e
		}
		if val, e = in.read(value.what, value.ptr, value.n); e != OK {
			in.call.release(int64(value.n))
			return nil, nil, nil, e
		}
	}
	if e, stop := in.canceled(); stop {
		in.call.release(int64(len(val)))
		return nil, nil, nil, e
	}
	return kv, strs, val, OK
}

// kvKey is the key argument at p[0], p[1].
func kvKey(p []uint64) []kvArg {
	return []kvArg{{what: "key", ptr: api.DecodeU32(p[0]), n: api.DecodeU32(p[1])}}
}

// kvOutAt is the output buffer whose arguments start at p[i].
func kvOutAt(p []uint64, i int) *kvOut {
	return &kvOut{ptr: api.DecodeU32(p[i]), cap: api.DecodeU32(p[i+1]), lenPtr: api.DecodeU32(p[i+2])}
}

func kvGet(in *invocation, p []uint64) Errno {
	out := kvOutAt(p, 2)
	kv, keys, _, e := in.kvBegin(kvKey(p), nil, out)
	if e != OK {
		return e
	}
	key := keys[0]
	v, ok, err := kv.Get(in.ctx, key)
	if err != nil {
		return in.storeFailed(err, "getting key %q", key)
	}
	if !ok {
		return in.fail(ENOTFOUND, "key %q not found", key)
	}
	// The store has allocated the value already; it is held until written.
	if e := in.hold("a value", int64(len(v))); e != OK {
		return e
	}
	defer in.call.release(int64(len(v)))
	return in.write(out.ptr, out.cap, out.lenPtr, v)
}

func kvSet(in *invocation, p []uint64) Errno {
	kv, keys, val, e := in.kvBegin(kvKey(p), &kvArg{what: "value", ptr: api.DecodeU32(p[2]), n: api.DecodeU32(p[3])}, nil)
	if e != OK {
		return e
	}
	defer in.call.release(int64(len(val)))
	key := keys[0]
	if err := kv.Set(in.ctx, key, val); err != nil {
		if errors.Is(err, ErrQuota) {
			return in.fail(ELIMIT, "setting key %q: %v", key, err)
		}
		return in.storeFailed(err, "setting key %q", key)
	}
	if a := in.call.Account; a != nil {
		a.AddKV(int64(len(key) + len(val)))
	}
	return OK
}

func kvDelete(in *invocation, p []uint64) Errno {
	kv, keys, _, e := in.kvBegin(kvKey(p), nil, nil)
	if e != OK {
		return e
	}
	if err := kv.Delete(in.ctx, keys[0]); err != nil {
		return in.storeFailed(err, "deleting key %q", keys[0])
	}
	return OK
}

func kvList(in *invocation, p []uint64) Errno {
	out := kvOutAt(p, 4)
	kv, keys, _, e := in.kvBegin([]kvArg{
		{what: "prefix", ptr: api.DecodeU32(p[0]), n: api.DecodeU32(p[1]), prefix: true},
		{what: "after", ptr: api.DecodeU32(p[2]), n: api.DecodeU32(p[3]), prefix: true},
	}, nil, out)
	if e != OK {
		return e
	}
	prefix, after := keys[0], keys[1]
	outPtr, outCap, lenPtr := out.ptr, out.cap, out.lenPtr
	// Every key takes at least 2 bytes, so out_cap/2 keys always suffice.
	batch := max(1, int(min(outCap/2, kvListBatch)))
	var buf []byte
	held := int64(0) // the capacity of buf, reserved as it grows
	defer func() { in.call.release(held) }()
	for cursor := after; ; {
		keys, err := kv.List(in.ctx, prefix, cursor, batch)
		if err != nil {
			return in.storeFailed(err, "listing keys")
		}
		for _, k := range keys {
			if k <= cursor || !strings.HasPrefix(k, prefix) || strings.IndexByte(k, 0) >= 0 {
				return in.fail(EIO, "listing keys: the store returned key %q out of order or out of range", k)
			}
			if uint64(len(buf))+uint64(len(k))+1 > uint64(outCap) {
				if len(buf) == 0 {
					need := uint32(len(k) + 1)
					if !in.mem.WriteUint32Le(lenPtr, need) {
						return in.fault("length pointer", lenPtr, 4)
					}
					return in.fail(ERANGE, "the output buffer (%d bytes) is too small for key %q: %d bytes needed", outCap, k, need)
				}
				return in.commit(outPtr, lenPtr, buf)
			}
			if need := len(buf) + len(k) + 1; need > cap(buf) {
				size := int64(min(max(2*cap(buf), need, 512), int(outCap)))
				if e := in.hold("the list of keys", size-held); e != OK {
					return e
				}
				held = size
				buf = append(make([]byte, 0, size), buf...)
			}
			buf = append(append(buf, k...), 0)
			cursor = k
		}
		if len(keys) < batch {
			return in.commit(outPtr, lenPtr, buf)
		}
	}
}
