//go:build wasip1

package sdk

import "unsafe"

// The functions the module imports from the host, as ABI.md specifies them.
// A string parameter is passed as its (pointer, length) pair, a *byte or
// *uint32 as a pointer into linear memory. The Go objects they point to stay
// alive during a call: they are its arguments, and the garbage collector does
// not run while the host executes.

//go:wasmimport cronbox abi_version
func wasmABIVersion() int32

//go:wasmimport cronbox last_error
func wasmLastError(out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox log
func wasmLog(level Level, msg string) Errno

//go:wasmimport cronbox progress
func wasmProgress(percent int32, msg string) Errno

//go:wasmimport cronbox result_set
func wasmResultSet(b *byte, bLen uint32) Errno

//go:wasmimport cronbox input_get
func wasmInputGet(out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox config_get
func wasmConfigGet(out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox kv_get
func wasmKVGet(key string, out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox kv_set
func wasmKVSet(key string, val *byte, valLen uint32) Errno

//go:wasmimport cronbox kv_delete
func wasmKVDelete(key string) Errno

//go:wasmimport cronbox kv_list
func wasmKVList(prefix, after string, out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox http_request
func wasmHTTPRequest(req *byte, reqLen uint32, body *byte, bodyLen uint32, handle *uint32) Errno

//go:wasmimport cronbox http_response_meta
func wasmHTTPResponseMeta(handle uint32, out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox http_response_body
func wasmHTTPResponseBody(handle, offset uint32, out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox http_response_close
func wasmHTTPResponseClose(handle uint32) Errno

// The ABI with slices in place of pointer/length pairs; host_other.go has
// the same functions for the fake. A function with an output buffer returns
// the length written or, with ErrRange, the length needed.

func hostABIVersion() int32 { return wasmABIVersion() }

func hostLastError(out []byte) (n uint32, code Errno) {
	code = wasmLastError(ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostLog(level Level, msg string) Errno { return wasmLog(level, msg) }

func hostProgress(percent int32, msg string) Errno { return wasmProgress(percent, msg) }

func hostResultSet(b []byte) Errno { return wasmResultSet(ptr(b), uint32(len(b))) }

func hostInputGet(out []byte) (n uint32, code Errno) {
	code = wasmInputGet(ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostConfigGet(out []byte) (n uint32, code Errno) {
	code = wasmConfigGet(ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostKVGet(key string, out []byte) (n uint32, code Errno) {
	code = wasmKVGet(key, ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostKVSet(key string, val []byte) Errno { return wasmKVSet(key, ptr(val), uint32(len(val))) }

func hostKVDelete(key string) Errno { return wasmKVDelete(key) }

func hostKVList(prefix, after string, out []byte) (n uint32, code Errno) {
	code = wasmKVList(prefix, after, ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostHTTPRequest(req, body []byte) (handle uint32, code Errno) {
	code = wasmHTTPRequest(ptr(req), uint32(len(req)), ptr(body), uint32(len(body)), &handle)
	return handle, code
}

func hostHTTPResponseMeta(handle uint32, out []byte) (n uint32, code Errno) {
	code = wasmHTTPResponseMeta(handle, ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostHTTPResponseBody(handle, offset uint32, out []byte) (n uint32, code Errno) {
	code = wasmHTTPResponseBody(handle, offset, ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostHTTPResponseClose(handle uint32) Errno { return wasmHTTPResponseClose(handle) }

// ptr returns the address of b's first byte (nil for a nil b).
func ptr(b []byte) *byte { return unsafe.SliceData(b) }

//go:wasmimport cronbox request_get
func wasmRequestGet(out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox request_body
func wasmRequestBody(offset uint32, out *byte, outCap uint32, n *uint32) Errno

//go:wasmimport cronbox response_set
func wasmResponseSet(meta *byte, metaLen uint32, body *byte, bodyLen uint32) Errno

func hostRequestGet(out []byte) (n uint32, code Errno) {
	code = wasmRequestGet(ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostRequestBody(offset uint32, out []byte) (n uint32, code Errno) {
	code = wasmRequestBody(offset, ptr(out), uint32(len(out)), &n)
	return n, code
}

func hostResponseSet(meta, body []byte) Errno {
	return wasmResponseSet(ptr(meta), uint32(len(meta)), ptr(body), uint32(len(body)))
}
