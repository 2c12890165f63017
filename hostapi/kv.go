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

func kvGet(in *invocation, p []uint64) Errno {
	keyPtr, keyLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	outPtr, outCap, lenPtr := api.DecodeU32(p[2]), api.DecodeU32(p[3]), api.DecodeU32(p[4])
	if !in.inRange(keyPtr, keyLen) {
		return in.fault("key", keyPtr, keyLen)
	}
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	kv, e := in.kvOrDenied()
	if e != OK {
		return e
	}
	key, e := in.readKey("key", keyPtr, keyLen, false)
	if e != OK {
		return e
	}
	if e, stop := in.canceled(); stop {
		return e
	}
	v, ok, err := kv.Get(in.ctx, key)
	if err != nil {
		return in.storeFailed(err, "getting key %q", key)
	}
	if !ok {
		return in.fail(ENOTFOUND, "key %q not found", key)
	}
	return in.write(outPtr, outCap, lenPtr, v)
}

func kvSet(in *invocation, p []uint64) Errno {
	keyPtr, keyLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	valPtr, valLen := api.DecodeU32(p[2]), api.DecodeU32(p[3])
	if !in.inRange(keyPtr, keyLen) {
		return in.fault("key", keyPtr, keyLen)
	}
	if !in.inRange(valPtr, valLen) {
		return in.fault("value", valPtr, valLen)
	}
	kv, e := in.kvOrDenied()
	if e != OK {
		return e
	}
	key, e := in.readKey("key", keyPtr, keyLen, false)
	if e != OK {
		return e
	}
	if limit := in.call.Limits.maxValue(); uint64(valLen) > uint64(limit) {
		return in.fail(ETOOLARGE, "value of %d bytes exceeds the limit of %d bytes", valLen, limit)
	}
	val, e := in.read("value", valPtr, valLen)
	if e != OK {
		return e
	}
	if e, stop := in.canceled(); stop {
		return e
	}
	if err := kv.Set(in.ctx, key, val); err != nil {
		if errors.Is(err, ErrQuota) {
			return in.fail(ELIMIT, "setting key %q: %v", key, err)
		}
		return in.storeFailed(err, "setting key %q", key)
	}
	return OK
}

func kvDelete(in *invocation, p []uint64) Errno {
	keyPtr, keyLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	if !in.inRange(keyPtr, keyLen) {
		return in.fault("key", keyPtr, keyLen)
	}
	kv, e := in.kvOrDenied()
	if e != OK {
		return e
	}
	key, e := in.readKey("key", keyPtr, keyLen, false)
	if e != OK {
		return e
	}
	if e, stop := in.canceled(); stop {
		return e
	}
	if err := kv.Delete(in.ctx, key); err != nil {
		return in.storeFailed(err, "deleting key %q", key)
	}
	return OK
}

func kvList(in *invocation, p []uint64) Errno {
	prefixPtr, prefixLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	afterPtr, afterLen := api.DecodeU32(p[2]), api.DecodeU32(p[3])
	outPtr, outCap, lenPtr := api.DecodeU32(p[4]), api.DecodeU32(p[5]), api.DecodeU32(p[6])
	if !in.inRange(prefixPtr, prefixLen) {
		return in.fault("prefix", prefixPtr, prefixLen)
	}
	if !in.inRange(afterPtr, afterLen) {
		return in.fault("after", afterPtr, afterLen)
	}
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	kv, e := in.kvOrDenied()
	if e != OK {
		return e
	}
	prefix, e := in.readKey("prefix", prefixPtr, prefixLen, true)
	if e != OK {
		return e
	}
	after, e := in.readKey("after", afterPtr, afterLen, true)
	if e != OK {
		return e
	}
	if e, stop := in.canceled(); stop {
		return e
	}
	// Every key takes at least 2 bytes, so out_cap/2 keys always suffice.
	batch := max(1, int(min(outCap/2, kvListBatch)))
	var buf []byte
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
			buf = append(append(buf, k...), 0)
			cursor = k
		}
		if len(keys) < batch {
			return in.commit(outPtr, lenPtr, buf)
		}
	}
}
