package hostapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// guest is the test guest testdata/abi, compiled once per test binary into
// a runtime that has the cronbox host module. Its instances share the
// runtime and differ only in the Call of their context.
var guest struct {
	once     sync.Once
	err      error
	r        wazero.Runtime
	compiled wazero.CompiledModule
}

func TestMain(m *testing.M) {
	code := m.Run()
	if guest.r != nil {
		guest.r.Close(context.Background())
	}
	os.Exit(code)
}

func loadGuest(t *testing.T) (wazero.Runtime, wazero.CompiledModule) {
	t.Helper()
	guest.once.Do(func() {
		guest.err = errors.New("building the test guest failed; see the first test that tried")
		wasm := wasmtest.Build(t, "testdata/abi")
		ctx := context.Background()
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compilationCache()))
		wasi_snapshot_preview1.MustInstantiate(ctx, r)
		if err := hostapi.Instantiate(ctx, r); err != nil {
			guest.err = err
			return
		}
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			guest.err = fmt.Errorf("compiling the test guest: %w", err)
			return
		}
		guest.r, guest.compiled, guest.err = r, compiled, nil
	})
	if guest.err != nil {
		t.Fatal(guest.err)
	}
	return guest.r, guest.compiled
}

// compilationCache keeps the guest's machine code between test runs.
func compilationCache() wazero.CompilationCache {
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CompilationCacheDir())
	if err != nil {
		return wazero.NewCompilationCache()
	}
	return cache
}

// execGuest runs the guest with args (scenario first) and call in ctx, and
// returns what it printed. It may run on any goroutine once loadGuest has.
func execGuest(ctx context.Context, call *hostapi.Call, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs(append([]string{"abi"}, args...)...).
		WithStdout(&stdout).
		WithStderr(&stderr).
		WithName("")
	mod, err := guest.r.InstantiateModule(hostapi.WithCall(ctx, call), guest.compiled, cfg)
	if mod != nil {
		mod.Close(context.Background())
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("running guest %q: %w\nstderr:\n%s", args, err, stderr.String())
	}
	return stdout.String(), nil
}

// runGuest runs the guest and fails the test if it does not exit cleanly.
func runGuest(t *testing.T, call *hostapi.Call, args ...string) string {
	t.Helper()
	loadGuest(t)
	out, err := execGuest(context.Background(), call, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fields parses the guest's "name=value" lines; later lines win.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// checkFields compares the fields of out named in want.
func checkFields(t *testing.T, out string, want map[string]string) {
	t.Helper()
	got := fields(out)
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %q, want %q", k, g, w)
		}
	}
	if t.Failed() {
		t.Logf("guest output:\n%s", out)
	}
}

// checkTranscript compares the guest's whole output with want.
func checkTranscript(t *testing.T, out, want string) {
	t.Helper()
	if strings.TrimSpace(out) != strings.TrimSpace(want) {
		t.Errorf("guest output:\n%s\nwant:\n%s", out, want)
	}
}

// recorder is a Sink that keeps what it receives.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Log(level hostapi.Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("log %s %q", level, msg))
}

func (r *recorder) Progress(percent int, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("progress %d %q", percent, msg))
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	checkTranscript(t, runGuest(t, &hostapi.Call{}, "version"), "version=1")
}

func TestInputConfigResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		input, config []byte
		want          string
	}{
		{
			name:   "given",
			input:  []byte(`{"a":[1,2]}`),
			config: []byte(`{"k":"v"}`),
			want: `input_get.first=2 need 11
input_get=0
input={"a":[1,2]}
config_get.first=2 need 9
config_get=0
config={"k":"v"}
result_set=0`,
		},
		{
			name: "defaults",
			want: `input_get.first=2 need 4
input_get=0
input=null
config_get.first=2 need 2
config_get=0
config={}
result_set=0`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			call := &hostapi.Call{Input: tt.input, Config: tt.config}
			checkTranscript(t, runGuest(t, call, "io"), tt.want)
			wantResult := string(tt.input)
			if tt.input == nil {
				wantResult = "null"
			}
			if got := string(call.Result()); got != wantResult {
				t.Errorf("Result() = %q, want %q", got, wantResult)
			}
		})
	}
}

func TestResult(t *testing.T) {
	t.Parallel()
	call := &hostapi.Call{Limits: hostapi.Limits{MaxResult: 100}}
	out := runGuest(t, call, "result", `[1, "two"]`)
	checkTranscript(t, out, `invalid=6
error=result: payload is not valid JSON: invalid character 'n' looking for beginning of object key string
empty=6
large=5
error=result: payload of 202 bytes exceeds the limit of 100 bytes
object=0
final=0`)
	if got := string(call.Result()); got != `[1, "two"]` {
		t.Errorf("Result() = %q, want the last payload", got)
	}
	if got := (&hostapi.Call{}).Result(); got != nil {
		t.Errorf("Result() of a call without result_set = %q, want nil", got)
	}
}

func TestLogAndProgress(t *testing.T) {
	t.Parallel()
	const transcript = `log0=0
log1=0
log2=0
log3=0
log4=6
log-1=6
log_empty=0
log_utf8=0
log_long=0
progress0=0
progress50=0
progress100=0
progress101=6
progress-1=6
error=progress: percent -1 is outside 0..100`
	t.Run("sink", func(t *testing.T) {
		t.Parallel()
		sink := &recorder{}
		call := &hostapi.Call{Sink: sink, Limits: hostapi.Limits{MaxMessage: 9}}
		checkTranscript(t, runGuest(t, call, "log"), transcript)
		want := `log debug "message 0"
log info "message 1"
log warn "message 2"
log error "message 3"
log info ""
log info "a` + "\uFFFD" + `b"
log warn "éééé …[truncated]"
progress 0 "start"
progress 50 ""
progress 100 "done"`
		if got := sink.String(); got != want {
			t.Errorf("sink received:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("no sink", func(t *testing.T) {
		t.Parallel()
		checkTranscript(t, runGuest(t, &hostapi.Call{}, "log"), transcript)
	})
}

func TestLastError(t *testing.T) {
	t.Parallel()
	call := &hostapi.Call{}
	checkTranscript(t, runGuest(t, call, "lasterror"), `none=3
kv_delete=4
sized=2
need_positive=true
full=0
message=kv: this app has no kv permission
again=0
same=true
faulty=1
unchanged=true`)
	if got, want := call.LastError(), "kv: this app has no kv permission"; got != want {
		t.Errorf("LastError() = %q, want %q", got, want)
	}
}

func TestKV(t *testing.T) {
	t.Parallel()
	const transcript = `get_absent=3
set=0
kv_get.first=2 need 5
get=0 "hello"
set_empty=0
get_empty=0 ""
delete=0
delete_again=0
get_deleted=3
set_empty_key=6
set_long_key=5
set_nul_key=6
set_bad_utf8=6
set_large_value=5
error=kv: value of 33 bytes exceeds the limit of 32 bytes
get_empty_key=6
delete_empty_key=6
list_long_prefix=5
list_bad_after=6
set_x/2=0
set_y=0
set_x/1=0
list=0 ["x/1" "x/2"]
list_after=0 ["x/2"]
list_all=0 ["x/1" "x/2" "y"]
list_end=0 [] 0
list_small=2 need 4
list_one=0 ["x/1"]
list_zero=2 [] 4`
	for _, tt := range kvImplementations(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			call := &hostapi.Call{KV: tt.kv, Limits: hostapi.Limits{MaxKey: 16, MaxValue: 32}}
			checkTranscript(t, runGuest(t, call, "kv"), transcript)
			keys, err := tt.kv.List(context.Background(), "", "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%q", keys); got != `["x/1" "x/2" "y"]` {
				t.Errorf("keys after the run = %s", got)
			}
		})
	}
}

type namedKV struct {
	name string
	kv   hostapi.KV
}

func kvImplementations(t *testing.T) []namedKV {
	t.Helper()
	fkv, err := hostapi.OpenFileKV(filepath.Join(t.TempDir(), "kv.json"))
	if err != nil {
		t.Fatal(err)
	}
	return []namedKV{{"memory", hostapi.NewMemoryKV()}, {"file", fkv}}
}

func TestKVDenied(t *testing.T) {
	t.Parallel()
	checkTranscript(t, runGuest(t, &hostapi.Call{}, "kvdenied"), `get=4
set=4
delete=4
list=4
error=kv: this app has no kv permission`)
}

func TestKVListPaging(t *testing.T) {
	t.Parallel()
	entries := map[string][]byte{"j/x": nil, "k": nil, "l/y": nil}
	for i := range 1000 {
		entries[fmt.Sprintf("k/%04d", i)] = []byte{1}
	}
	mem := hostapi.NewMemoryKV()
	for k, v := range entries {
		if err := mem.Set(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	// The FileKV reads a file written beforehand, rather than rewriting
	// it a thousand times.
	path := filepath.Join(t.TempDir(), "kv.json")
	b, err := json.Marshal(map[string]any{"format": 1, "entries": entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := hostapi.OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []namedKV{{"memory", mem}, {"file", file}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Each key takes 7 bytes with its NUL: 9 per page of 64 bytes.
			out := runGuest(t, &hostapi.Call{KV: tt.kv}, "kvlist", "k/", "64")
			checkTranscript(t, out, `count=1000
first=k/0000
last=k/0999
sorted=true
calls=113`)
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	call := &hostapi.Call{
		KV:   hostapi.NewMemoryKV(),
		HTTP: &hostapi.HTTP{Allow: []string{"127.0.0.1:1"}},
	}
	out := runGuest(t, call, "faults")
	want := map[string]string{"log_empty_bad_ptr": "0"}
	for _, name := range []string{
		"log", "log_far", "progress", "result_set", "input_get_out", "input_get_len",
		"config_get_len", "last_error", "kv_get_key", "kv_get_out", "kv_get_len",
		"kv_set_key", "kv_set_value", "kv_delete", "kv_list_prefix", "kv_list_after",
		"kv_list_out", "kv_list_len", "http_request_req", "http_request_body",
		"http_request_handle", "http_response_meta", "http_response_body",
	} {
		want[name] = "1"
	}
	checkFields(t, out, want)
	if msg := fields(out)["error"]; !strings.HasPrefix(msg, "http: length pointer at 0xffff0000 (4 bytes) lies outside guest memory") {
		t.Errorf("last error = %q, want the fault of http_response_body's length pointer", msg)
	}
}
