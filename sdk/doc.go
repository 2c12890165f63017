// Package sdk is the Go SDK for Cronbox tasks.
//
// A task is a Go main package compiled to a WASI command module
// (GOOS=wasip1 GOARCH=wasm). Its main function does the work and returns;
// exiting with a non-zero status or panicking marks the run as failed.
// Through this package a task talks to the Cronbox host: it logs, reports
// progress, reads its input and configuration, sets its result, uses the
// app's key-value store and makes HTTP requests to the hosts its app is
// allowed to reach.
//
//	func main() {
//		if err := run(); err != nil {
//			sdk.Error("cleanup failed", "err", err)
//			os.Exit(1)
//		}
//	}
//
// # Two builds
//
// Built for wasip1, every function calls the host through the functions the
// module imports from "cronbox" (see hostapi/ABI.md in the Cronbox
// repository). Built for any other target, the same API runs against an
// in-process [Fake], so a task is unit-tested natively with go test: a test
// installs a fresh fake with [NewFake], sets the input, configuration, KV
// data and HTTP handlers, runs the task's code and inspects the logs,
// progress and result the fake recorded. Outside tests, when no fake is
// installed, native builds use a fallback fake that writes log lines,
// progress and the result to standard error, has the input null, the
// configuration {}, an empty in-memory KV store, and allows no HTTP host.
//
// # Key-value store
//
// The app's key-value store is shared by all its tasks and runs. Keys are 1
// to 512 bytes of UTF-8 without a NUL byte; values are any bytes, at most
// 1 MiB. The KV functions fail with [ErrDenied] when the app does not have
// the kv permission.
//
// # HTTP
//
// [HTTP] makes a request through the host, which requests only the hosts
// in the app's allow-list, follows redirects itself and keeps the response
// until its body is closed:
//
//	resp, err := sdk.HTTPGet("https://api.example.com/v1/items")
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//
// This package does not import net/http, which would make every task
// larger and slower to start. For code and libraries written for net/http,
// package github.com/cronbox/cronbox/sdk/sdkhttp provides an
// http.RoundTripper and an http.Client built on HTTP.
//
// # Errors
//
// A failed host call returns a [*CallError] holding the ABI function, its
// [Errno] and the host's explanation. The Errno values are errors themselves,
// so errors.Is(err, sdk.ErrNotFound) tests for a kind of failure.
//
// # Concurrency
//
// The functions of this package may be called from several goroutines.
package sdk
