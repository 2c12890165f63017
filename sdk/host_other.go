//go:build !wasip1

package sdk

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The default limits of the ABI, which the fake enforces.
const (
	maxMessage = 64 << 10
	maxResult  = 1 << 20
	maxKey     = 512
	maxValue   = 1 << 20
)

// The ABI of host_wasip1.go, served by the active fake.

func hostABIVersion() int32 { return 1 }

func hostLastError(out []byte) (uint32, Errno) { return active().lastError(out) }

func hostLog(level Level, msg string) Errno { return active().log(level, msg) }

func hostProgress(percent int32, msg string) Errno { return active().reportProgress(percent, msg) }

func hostResultSet(b []byte) Errno { return active().resultSet(b) }

func hostInputGet(out []byte) (uint32, Errno) { return active().inputGet(out) }

func hostConfigGet(out []byte) (uint32, Errno) { return active().configGet(out) }

func hostKVGet(key string, out []byte) (uint32, Errno) { return active().kvGet(key, out) }

func hostKVSet(key string, val []byte) Errno { return active().kvSet(key, val) }

func hostKVDelete(key string) Errno { return active().kvDelete(key) }

func hostKVList(prefix, after string, out []byte) (uint32, Errno) {
	return active().kvList(prefix, after, out)
}

func hostHTTPRequest(req, body []byte) (uint32, Errno) { return active().httpRequest(req, body) }

func hostHTTPResponseMeta(handle uint32, out []byte) (uint32, Errno) {
	return active().httpResponseMeta(handle, out)
}

func hostHTTPResponseBody(handle, offset uint32, out []byte) (uint32, Errno) {
	return active().httpResponseBody(handle, offset, out)
}

func hostHTTPResponseClose(handle uint32) Errno { return active().httpResponseClose(handle) }

// The fake's implementation of the ABI. Its methods lock f.mu.

// failLocked records the message that last_error returns and returns code.
// f.mu must be locked.
func (f *Fake) failLocked(code Errno, format string, args ...any) Errno {
	f.lastErr = fmt.Sprintf(format, args...)
	return code
}

// copyOut copies data to out if it fits, following the ERANGE protocol.
func copyOut(out, data []byte) (uint32, Errno) {
	if len(data) > len(out) {
		return uint32(len(data)), ErrRange
	}
	return uint32(copy(out, data)), 0
}

// echof writes a line of what f recorded to f.echo, if set.
func (f *Fake) echof(format string, args ...any) {
	if f.echo != nil {
		fmt.Fprintf(f.echo, format+"\n", args...)
	}
}

func (f *Fake) lastError(out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastErr == "" {
		return 0, ErrNotFound
	}
	return copyOut(out, []byte(f.lastErr))
}

// message returns msg as the host keeps a log or progress message: valid
// UTF-8, cut after at most maxMessage bytes and then marked as truncated.
func message(msg string) string {
	msg = strings.ToValidUTF8(msg, string(utf8.RuneError))
	if len(msg) <= maxMessage {
		return msg
	}
	i := maxMessage
	for !utf8.RuneStart(msg[i]) {
		i--
	}
	return msg[:i] + " …[truncated]"
}

func (f *Fake) log(level Level, msg string) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if level < LevelDebug || level > LevelError {
		return f.failLocked(ErrInvalid, "unknown level %d (want 0 debug, 1 info, 2 warn or 3 error)", level)
	}
	e := LogEntry{Level: level, Msg: message(msg)}
	f.logs = append(f.logs, e)
	f.echof("%s: %s", e.Level, e.Msg)
	return 0
}

// reportProgress records a progress report; Progress has checked percent.
func (f *Fake) reportProgress(percent int32, msg string) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := ProgressEntry{Percent: int(percent), Msg: message(msg)}
	f.progress = append(f.progress, e)
	f.echof("progress: %d%% %s", e.Percent, e.Msg)
	return 0
}

func (f *Fake) resultSet(b []byte) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(b) > maxResult {
		return f.failLocked(ErrTooLarge, "payload of %d bytes exceeds the limit of %d bytes", len(b), maxResult)
	}
	if !json.Valid(b) {
		return f.failLocked(ErrInvalid, "payload is not a single JSON value")
	}
	f.result = slices.Clone(b)
	f.echof("result: %s", b)
	return 0
}

func (f *Fake) inputGet(out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyOut(out, f.input)
}

func (f *Fake) configGet(out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyOut(out, f.config)
}

// kvAllowed checks that the app may use the KV store.
func (f *Fake) kvAllowed() Errno {
	if f.KV == nil {
		return f.failLocked(ErrDenied, "this app has no kv permission")
	}
	return 0
}

// kvCheck checks that the app may use the KV store and that key is valid.
func (f *Fake) kvCheck(key string) Errno {
	if code := f.kvAllowed(); code != 0 {
		return code
	}
	if key == "" {
		return f.failLocked(ErrInvalid, "key is empty")
	}
	return f.keyCheck("key", key)
}

// keyCheck checks a key or key prefix named what.
func (f *Fake) keyCheck(what, key string) Errno {
	switch {
	case len(key) > maxKey:
		return f.failLocked(ErrTooLarge, "%s of %d bytes exceeds the limit of %d bytes", what, len(key), maxKey)
	case strings.IndexByte(key, 0) >= 0:
		return f.failLocked(ErrInvalid, "%s %q contains a NUL byte", what, key)
	case !utf8.ValidString(key):
		return f.failLocked(ErrInvalid, "%s %q is not valid UTF-8", what, key)
	}
	return 0
}

func (f *Fake) kvGet(key string, out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code := f.kvCheck(key); code != 0 {
		return 0, code
	}
	v, ok := f.KV[key]
	if !ok {
		return 0, f.failLocked(ErrNotFound, "key %q not found", key)
	}
	return copyOut(out, v)
}

func (f *Fake) kvSet(key string, val []byte) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code := f.kvCheck(key); code != 0 {
		return code
	}
	if len(val) > maxValue {
		return f.failLocked(ErrTooLarge, "value of %d bytes exceeds the limit of %d bytes", len(val), maxValue)
	}
	f.KV[key] = append([]byte{}, val...)
	return 0
}

func (f *Fake) kvDelete(key string) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code := f.kvCheck(key); code != 0 {
		return code
	}
	delete(f.KV, key)
	return 0
}

func (f *Fake) kvList(prefix, after string, out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code := f.kvAllowed(); code != 0 {
		return 0, code
	}
	if code := f.keyCheck("prefix", prefix); code != 0 {
		return 0, code
	}
	if code := f.keyCheck("after", after); code != 0 {
		return 0, code
	}
	var keys []string
	for k := range f.KV {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page []byte
	for _, k := range keys {
		if len(page)+len(k)+1 > len(out) {
			break
		}
		page = append(append(page, k...), 0)
	}
	if page == nil && len(keys) > 0 {
		return uint32(len(keys[0]) + 1), ErrRange
	}
	return uint32(copy(out, page)), 0
}
