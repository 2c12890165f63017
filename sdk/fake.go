//go:build !wasip1

package sdk

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Fake stands in for the Cronbox host in native builds, so that a task's
// code runs and is tested without WebAssembly. It holds what the host would
// give the run (input, configuration, KV data, HTTP responses), records what
// the run reports (logs, progress, result), and checks every call as the
// host does, with the default limits of the ABI: a result that is not JSON,
// a KV key that is too long or a request to a host no handler was registered
// for fail natively as they would in production.
//
// The SDK uses one fake at a time, the installed one: tests that use
// [NewFake] must not run in parallel with each other. Its methods may be
// called from several goroutines.
type Fake struct {
	// KV is the app's key-value store. It starts empty; set entries before
	// the task's code runs and inspect them after it returned. A nil KV
	// stands for an app without the kv permission: KV calls then fail with
	// ErrDenied.
	KV map[string][]byte

	tb   testing.TB // fails the test on misuse; nil for InstallFake
	echo io.Writer  // where the fallback fake writes what it records

	mu        sync.Mutex
	input     []byte
	config    []byte
	result    []byte
	logs      []LogEntry
	progress  []ProgressEntry
	lastErr   string
	handlers  map[string]http.Handler
	responses map[uint32]*fakeResponse
	handles   uint32 // the last response handle given out
	route     fakeRoute
}

// LogEntry is a log line a [Fake] recorded.
type LogEntry struct {
	Level Level
	Msg   string
}

// ProgressEntry is a progress report a [Fake] recorded.
type ProgressEntry struct {
	Percent int
	Msg     string
}

// installed is the fake that NewFake or InstallFake installed, if any.
var installed atomic.Pointer[Fake]

// fallback is the fake the SDK uses when none is installed: it writes what
// it records to standard error.
var fallback = sync.OnceValue(func() *Fake {
	f := newFake(nil)
	f.echo = os.Stderr
	return f
})

// active returns the fake the SDK's calls go to.
func active() *Fake {
	if f := installed.Load(); f != nil {
		return f
	}
	return fallback()
}

// NewFake installs a fresh fake for the test tb and removes it when the test
// and its subtests end. The fake starts with the input null, the
// configuration {}, an empty KV store and no HTTP handler. Its setup methods
// fail tb when given a value they cannot use.
func NewFake(tb testing.TB) *Fake {
	tb.Helper()
	f := newFake(tb)
	tb.Cleanup(f.install())
	return f
}

// InstallFake installs a fresh fake, as [NewFake] does, for code that has no
// [testing.TB], such as examples. It returns the fake and the function that
// removes it. Where NewFake's fake fails the test, this one panics.
func InstallFake() (f *Fake, uninstall func()) {
	f = newFake(nil)
	return f, f.install()
}

func newFake(tb testing.TB) *Fake {
	return &Fake{
		KV:        map[string][]byte{},
		tb:        tb,
		input:     []byte("null"),
		config:    []byte("{}"),
		handlers:  map[string]http.Handler{},
		responses: map[uint32]*fakeResponse{},
	}
}

// install makes f the installed fake and returns the function that puts
// back the one it replaced.
func (f *Fake) install() (uninstall func()) {
	prev := installed.Swap(f)
	return func() {
		if installed.CompareAndSwap(f, prev) {
			return
		}
		const msg = "sdk: another fake was installed while this one was; tests that use NewFake must not run in parallel"
		if f.tb == nil {
			panic(msg)
		}
		f.tb.Error(msg)
	}
}

// fatalf fails the test of f, or panics when f has none.
func (f *Fake) fatalf(format string, args ...any) {
	if f.tb == nil {
		panic(fmt.Sprintf(format, args...))
	}
	f.tb.Helper()
	f.tb.Fatalf(format, args...)
}

// SetInput sets the run's input to v encoded as JSON; pass a
// [json.RawMessage] to set JSON text as it is.
func (f *Fake) SetInput(v any) {
	if f.tb != nil {
		f.tb.Helper()
	}
	b := f.marshal("input", v)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.input = b
}

// SetConfig sets the task's configuration to v encoded as JSON, which must
// be an object; pass a [json.RawMessage] to set JSON text as it is.
func (f *Fake) SetConfig(v any) {
	if f.tb != nil {
		f.tb.Helper()
	}
	b := f.marshal("config", v)
	if b[0] != '{' {
		f.fatalf("sdk: the config must be a JSON object, not %s", b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.config = b
}

func (f *Fake) marshal(what string, v any) []byte {
	if f.tb != nil {
		f.tb.Helper()
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.fatalf("sdk: encoding the %s: %v", what, err)
	}
	return b
}

// Logs returns the log lines the run recorded, oldest first.
func (f *Fake) Logs() []LogEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logs)
}

// Progress returns the progress reports the run made, oldest first.
func (f *Fake) Progress() []ProgressEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.progress)
}

// ResultRaw returns the run's result payload, or nil when it set none.
func (f *Fake) ResultRaw() json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.result)
}

// Result decodes the run's result payload into v, as json.Unmarshal does.
// It fails the test when the run set no result or it does not decode.
func (f *Fake) Result(v any) {
	if f.tb != nil {
		f.tb.Helper()
	}
	b := f.ResultRaw()
	if b == nil {
		f.fatalf("sdk: the run set no result")
	}
	if err := json.Unmarshal(b, v); err != nil {
		f.fatalf("sdk: decoding the result %s: %v", b, err)
	}
}
