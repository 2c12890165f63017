//go:build wasip1

// Command abi is the test guest of package hostapi. It declares the cronbox
// imports itself, without an SDK, so that it can pass any pointer and
// length, and runs the scenario named by its first argument, printing one
// "name=value" line per observation for the test to compare.
//
// Built by the tests with internal/wasmtest (GOOS=wasip1 GOARCH=wasm).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

//go:wasmimport cronbox abi_version
func abiVersion() uint32

//go:wasmimport cronbox last_error
func lastError(outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox log
func logMsg(level, msgPtr, msgLen uint32) uint32

//go:wasmimport cronbox progress
func progress(percent, msgPtr, msgLen uint32) uint32

//go:wasmimport cronbox result_set
func resultSet(ptr, n uint32) uint32

//go:wasmimport cronbox input_get
func inputGet(outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox config_get
func configGet(outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox kv_get
func kvGet(keyPtr, keyLen, outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox kv_set
func kvSet(keyPtr, keyLen, valPtr, valLen uint32) uint32

//go:wasmimport cronbox kv_delete
func kvDelete(keyPtr, keyLen uint32) uint32

//go:wasmimport cronbox kv_list
func kvList(prefixPtr, prefixLen, afterPtr, afterLen, outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox http_request
func httpRequest(reqPtr, reqLen, bodyPtr, bodyLen, handlePtr uint32) uint32

//go:wasmimport cronbox http_response_meta
func httpResponseMeta(handle, outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox http_response_body
func httpResponseBody(handle, offset, outPtr, outCap, lenPtr uint32) uint32

//go:wasmimport cronbox http_response_close
func httpResponseClose(handle uint32) uint32

const (
	errRange = 2
	bad      = 0xFFFFFFF0 // with a length of 100, wraps around 2^32
	far      = 0xFFFF0000 // beyond any memory a Go guest has
	edge     = 0xFFFFFFFE // a u32 there would cross 2^32
)

// The memory of the guest's buffers is not moved by Go's garbage collector;
// the scratch variables below stay reachable, so their addresses stay valid.
var (
	scratch [4096]byte
	length  uint32
	handle  uint32
)

func p(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

func ps(s string) (uint32, uint32) {
	if s == "" {
		return 0, 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.StringData(s)))), uint32(len(s))
}

func lenPtr() uint32    { return uint32(uintptr(unsafe.Pointer(&length))) }
func handlePtr() uint32 { return uint32(uintptr(unsafe.Pointer(&handle))) }
func buf() (uint32, uint32) {
	return p(scratch[:]), uint32(len(scratch))
}

func say(name string, v any) { fmt.Printf("%s=%v\n", name, v) }

// get runs the ERANGE protocol: first with no buffer, then with the length
// the host asked for. Unless name is "", it prints the need.
func get(name string, call func(out, cap, lenp uint32) uint32) ([]byte, uint32) {
	e := call(0, 0, lenPtr())
	if e != errRange {
		return nil, e
	}
	if name != "" {
		say(name+".first", fmt.Sprintf("%d need %d", e, length))
	}
	b := make([]byte, length)
	e = call(p(b), uint32(len(b)), lenPtr())
	runtime.KeepAlive(b)
	return b[:length], e
}

func lastErr() string {
	b, e := get("", lastError)
	if e != 0 {
		return fmt.Sprintf("<errno %d>", e)
	}
	return string(b)
}

func sayErr() { say("error", lastErr()) }

func logS(level uint32, s string) uint32 {
	ptr, n := ps(s)
	e := logMsg(level, ptr, n)
	runtime.KeepAlive(s)
	return e
}

func progressS(percent uint32, s string) uint32 {
	ptr, n := ps(s)
	e := progress(percent, ptr, n)
	runtime.KeepAlive(s)
	return e
}

func resultS(s string) uint32 {
	ptr, n := ps(s)
	e := resultSet(ptr, n)
	runtime.KeepAlive(s)
	return e
}

func kvSetS(k, v string) uint32 {
	kp, kn := ps(k)
	vp, vn := ps(v)
	e := kvSet(kp, kn, vp, vn)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	return e
}

func kvGetS(k string) (string, uint32) {
	kp, kn := ps(k)
	b, e := get("kv_get", func(out, cap, lenp uint32) uint32 { return kvGet(kp, kn, out, cap, lenp) })
	runtime.KeepAlive(k)
	return string(b), e
}

func kvDeleteS(k string) uint32 {
	kp, kn := ps(k)
	e := kvDelete(kp, kn)
	runtime.KeepAlive(k)
	return e
}

// kvListS lists one page into a buffer of size n.
func kvListS(prefix, after string, n int) ([]string, uint32) {
	pp, pn := ps(prefix)
	ap, an := ps(after)
	out := make([]byte, n)
	e := kvList(pp, pn, ap, an, p(out), uint32(n), lenPtr())
	runtime.KeepAlive(prefix)
	runtime.KeepAlive(after)
	if e != 0 || length == 0 {
		return nil, e
	}
	return strings.Split(strings.TrimSuffix(string(out[:length]), "\x00"), "\x00"), 0
}

func request(req, body string) uint32 {
	rp, rn := ps(req)
	bp, bn := ps(body)
	e := httpRequest(rp, rn, bp, bn, handlePtr())
	runtime.KeepAlive(req)
	runtime.KeepAlive(body)
	return e
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: abi scenario [args]")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "version":
		say("version", abiVersion())
	case "io":
		scenarioIO()
	case "result":
		scenarioResult(args)
	case "log":
		scenarioLog()
	case "lasterror":
		scenarioLastError()
	case "kv":
		scenarioKV()
	case "kvdenied":
		scenarioKVDenied()
	case "kvlist":
		n, _ := strconv.Atoi(args[1])
		scenarioKVList(args[0], n)
	case "faults":
		scenarioFaults()
	case "http":
		body := ""
		if len(args) > 1 {
			body = args[1]
		}
		scenarioHTTP(args[0], body)
	case "httplimit":
		scenarioHTTPLimit(args[0])
	case "usage":
		scenarioUsage(args[0])
	case "httphold":
		mib, _ := strconv.Atoi(args[1])
		scenarioHTTPHold(args[0], mib, args[2] == "close")
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", os.Args[1])
		os.Exit(2)
	}
}

func scenarioIO() {
	in, e := get("input_get", inputGet)
	say("input_get", e)
	say("input", string(in))
	cfg, e := get("config_get", configGet)
	say("config_get", e)
	say("config", string(cfg))
	say("result_set", resultS(string(in)))
}

func scenarioResult(args []string) {
	say("invalid", resultS("{not json"))
	sayErr()
	say("empty", resultS(""))
	say("large", resultS(`"`+strings.Repeat("x", 200)+`"`))
	sayErr()
	say("object", resultS(`{"ok":true}`))
	say("final", resultS(args[0]))
}

func scenarioLog() {
	for level := range uint32(4) {
		say(fmt.Sprintf("log%d", level), logS(level, fmt.Sprintf("message %d", level)))
	}
	say("log4", logS(4, "bad level"))
	say("log-1", logS(0xFFFFFFFF, "bad level"))
	say("log_empty", logS(1, ""))
	say("log_utf8", logS(1, "a\xffb"))
	say("log_long", logS(2, strings.Repeat("é", 20)))
	say("progress0", progressS(0, "start"))
	say("progress50", progressS(50, ""))
	say("progress100", progressS(100, "done"))
	say("progress101", progressS(101, "too far"))
	say("progress-1", progressS(0xFFFFFFFF, ""))
	sayErr()
}

func scenarioLastError() {
	say("none", lastError(0, 0, lenPtr()))
	say("kv_delete", kvDeleteS("k"))
	say("sized", lastError(0, 0, lenPtr()))
	need := length
	say("need_positive", need > 0)
	out := make([]byte, need)
	say("full", lastError(p(out), need, lenPtr()))
	first := string(out[:length])
	say("message", first)
	say("again", lastError(p(out), need, lenPtr()))
	say("same", string(out[:length]) == first)
	say("faulty", lastError(far, 16, lenPtr()))
	say("unchanged", lastErr() == first)
}

func scenarioKV() {
	_, e := kvGetS("a")
	say("get_absent", e)
	say("set", kvSetS("a", "hello"))
	v, e := kvGetS("a")
	say("get", fmt.Sprintf("%d %q", e, v))
	say("set_empty", kvSetS("a", ""))
	v, e = kvGetS("a")
	say("get_empty", fmt.Sprintf("%d %q", e, v))
	say("delete", kvDeleteS("a"))
	say("delete_again", kvDeleteS("a"))
	_, e = kvGetS("a")
	say("get_deleted", e)
	say("set_empty_key", kvSetS("", "x"))
	say("set_long_key", kvSetS(strings.Repeat("k", 17), "x"))
	say("set_nul_key", kvSetS("a\x00b", "x"))
	say("set_bad_utf8", kvSetS("\xff", "x"))
	say("set_large_value", kvSetS("b", strings.Repeat("v", 33)))
	sayErr()
	_, e = kvGetS("")
	say("get_empty_key", e)
	say("delete_empty_key", kvDeleteS(""))
	_, e = kvListS(strings.Repeat("p", 17), "", 100)
	say("list_long_prefix", e)
	_, e = kvListS("", "\xff", 100)
	say("list_bad_after", e)
	for _, k := range []string{"x/2", "y", "x/1"} {
		say("set_"+k, kvSetS(k, k))
	}
	keys, e := kvListS("x/", "", 100)
	say("list", fmt.Sprintf("%d %q", e, keys))
	keys, e = kvListS("x/", "x/1", 100)
	say("list_after", fmt.Sprintf("%d %q", e, keys))
	keys, e = kvListS("", "", 100)
	say("list_all", fmt.Sprintf("%d %q", e, keys))
	keys, e = kvListS("x/", "x/2", 100)
	say("list_end", fmt.Sprintf("%d %q %d", e, keys, length))
	_, e = kvListS("x/", "", 3)
	say("list_small", fmt.Sprintf("%d need %d", e, length))
	keys, e = kvListS("", "", 4)
	say("list_one", fmt.Sprintf("%d %q", e, keys))
	keys, e = kvListS("", "", 0)
	say("list_zero", fmt.Sprintf("%d %q %d", e, keys, length))
}

func scenarioKVDenied() {
	_, e := kvGetS("a")
	say("get", e)
	say("set", kvSetS("a", "b"))
	say("delete", kvDeleteS("a"))
	_, e = kvListS("", "", 10)
	say("list", e)
	sayErr()
}

func scenarioKVList(prefix string, size int) {
	var (
		all   []string
		calls int
		after string
	)
	for {
		keys, e := kvListS(prefix, after, size)
		calls++
		if e != 0 {
			say("errno", e)
			return
		}
		if len(keys) == 0 {
			break
		}
		all = append(all, keys...)
		after = keys[len(keys)-1]
	}
	sorted := true
	for i := 1; i < len(all); i++ {
		sorted = sorted && all[i-1] < all[i]
	}
	say("count", len(all))
	say("first", all[0])
	say("last", all[len(all)-1])
	say("sorted", sorted)
	say("calls", calls)
}

func scenarioFaults() {
	out, outCap := buf()
	key, keyLen := ps("key")
	say("log", logMsg(1, bad, 100))
	say("log_far", logMsg(1, far, 16))
	say("log_empty_bad_ptr", logMsg(1, far, 0))
	say("progress", progress(1, far, 16))
	say("result_set", resultSet(bad, 100))
	say("input_get_out", inputGet(far, 16, lenPtr()))
	say("input_get_len", inputGet(out, outCap, edge))
	say("config_get_len", configGet(out, outCap, far))
	say("last_error", lastError(bad, 100, lenPtr()))
	say("kv_get_key", kvGet(bad, 100, out, outCap, lenPtr()))
	say("kv_get_out", kvGet(key, keyLen, bad, 100, lenPtr()))
	say("kv_get_len", kvGet(key, keyLen, out, outCap, edge))
	say("kv_set_key", kvSet(far, 16, key, keyLen))
	say("kv_set_value", kvSet(key, keyLen, bad, 100))
	say("kv_delete", kvDelete(bad, 100))
	say("kv_list_prefix", kvList(bad, 100, 0, 0, out, outCap, lenPtr()))
	say("kv_list_after", kvList(0, 0, far, 16, out, outCap, lenPtr()))
	say("kv_list_out", kvList(0, 0, 0, 0, far, 16, lenPtr()))
	say("kv_list_len", kvList(0, 0, 0, 0, out, outCap, edge))
	req, reqLen := ps(`{"url":"http://127.0.0.1:1/"}`)
	say("http_request_req", httpRequest(bad, 100, 0, 0, handlePtr()))
	say("http_request_body", httpRequest(req, reqLen, far, 16, handlePtr()))
	say("http_request_handle", httpRequest(req, reqLen, 0, 0, edge))
	say("http_response_meta", httpResponseMeta(1, bad, 100, lenPtr()))
	say("http_response_body", httpResponseBody(1, 0, out, outCap, far))
	sayErr()
}

func scenarioHTTP(req, body string) {
	e := request(req, body)
	say("request", e)
	if e != 0 {
		sayErr()
		return
	}
	h := handle
	say("handle", h)
	meta, e := get("meta", func(out, cap, lenp uint32) uint32 { return httpResponseMeta(h, out, cap, lenp) })
	say("meta_errno", e)
	say("meta", string(meta))
	var got []byte
	chunk := make([]byte, 5)
	calls := 0
	for {
		e := httpResponseBody(h, uint32(len(got)), p(chunk), uint32(len(chunk)), lenPtr())
		calls++
		if e != 0 {
			say("body_errno", e)
			return
		}
		if length == 0 {
			break
		}
		got = append(got, chunk[:length]...)
	}
	say("body", strconv.Quote(string(got)))
	say("body_calls", calls)
	say("past_end", fmt.Sprintf("%d %d", httpResponseBody(h, 1<<30, p(chunk), 5, lenPtr()), length))
	say("close", httpResponseClose(h))
	say("close_again", httpResponseClose(h))
	say("meta_closed", httpResponseMeta(h, p(chunk), 5, lenPtr()))
	say("body_closed", httpResponseBody(h, 0, p(chunk), 5, lenPtr()))
}

func scenarioHTTPLimit(url string) {
	req := `{"url":"` + url + `"}`
	var handles []uint32
	for {
		e := request(req, "")
		if e != 0 {
			say("opened", len(handles))
			say("errno", e)
			sayErr()
			break
		}
		handles = append(handles, handle)
	}
	say("handles", fmt.Sprint(handles))
	say("close_first", httpResponseClose(handles[0]))
	say("reopen", request(req, ""))
	say("new_handle", handle)
	out, outCap := buf()
	say("meta_zero", httpResponseMeta(0, out, outCap, lenPtr()))
	say("body_unknown", httpResponseBody(9999, 0, out, outCap, lenPtr()))
	say("close_zero", httpResponseClose(0))
	say("meta_closed", httpResponseMeta(handles[0], out, outCap, lenPtr()))
}

// scenarioHTTPHold opens responses of url and holds them until the host
// refuses one (at most 64), then, with closeAll, closes them and opens one
// more; then it grows its own memory by mib MiB, touching every page.
func scenarioHTTPHold(url string, mib int, closeAll bool) {
	req := `{"url":"` + url + `"}`
	var handles []uint32
	for len(handles) < 64 {
		e := request(req, "")
		if e != 0 {
			say("errno", e)
			sayErr()
			break
		}
		handles = append(handles, handle)
	}
	say("opened", len(handles))
	if closeAll {
		for _, h := range handles {
			httpResponseClose(h)
		}
		say("reopen", request(req, ""))
		httpResponseClose(handle)
	}
	if mib > 0 {
		b := make([]byte, mib<<20)
		for i := range b {
			b[i] = 1
		}
		say("allocated", len(b)>>20)
	}
}

// scenarioUsage moves known amounts of bytes through every metered path:
// 9 bytes of messages, 8 of KV, 4 HTTP body bytes sent to url (whose reply
// the test knows), 1000 bytes written to /data/f, and its own output.
func scenarioUsage(url string) {
	say("log", logS(1, "hello"))
	say("progress", progressS(50, "half"))
	say("kv_set", kvSetS("key", "value"))
	e := request(`{"method":"POST","url":"`+url+`"}`, "ping")
	say("request", e)
	if e == 0 {
		httpResponseClose(handle)
	}
	say("write", os.WriteFile("/data/f", make([]byte, 1000), 0o600))
}
