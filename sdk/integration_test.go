//go:build !wasip1

package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// sink records what a run reports, as hostapi delivers it.
type sink struct {
	mu       sync.Mutex
	logs     []string
	progress []string
}

var _ hostapi.Sink = (*sink)(nil)

func (s *sink) Log(level hostapi.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, level.String()+" "+msg)
}

func (s *sink) Progress(percent int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress = append(s.progress, fmt.Sprintf("%d %s", percent, msg))
}

// guest runs a task of testdata, built for wasip1, in wazero with the real
// host module.
type guest struct {
	r   wazero.Runtime
	mod wazero.CompiledModule
}

// newGuest builds and compiles the task in srcDir.
func newGuest(tb testing.TB, srcDir string) *guest {
	tb.Helper()
	wasm := wasmtest.Build(tb, srcDir)
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CompilationCacheDir())
	if err != nil {
		tb.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	tb.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := hostapi.Instantiate(ctx, r); err != nil {
		tb.Fatal(err)
	}
	mod, err := r.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return &guest{r: r, mod: mod}
}

// run runs the task with args and call, failing t if it does not succeed,
// and returns what it reported and its decoded result.
func (g *guest) run(t *testing.T, call *hostapi.Call, args ...string) (*sink, map[string]any) {
	t.Helper()
	rec := &sink{}
	call.Sink = rec
	defer call.Close()
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").
		WithArgs(append([]string{"tour"}, args...)...).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mod, err := g.r.InstantiateModule(hostapi.WithCall(ctx, call), g.mod, cfg)
	if err != nil {
		t.Fatalf("running tour %v: %v\nlogs: %q\nstderr: %s", args, err, rec.logs, stderr.Bytes())
	}
	mod.Close(ctx)
	if want := fmt.Sprintf("tour %s done\n", args[0]); stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	var res map[string]any
	if err := json.Unmarshal(call.Result(), &res); err != nil {
		t.Fatalf("decoding result %s: %v", call.Result(), err)
	}
	return rec, res
}

// checkResult compares the fields of res with want; a string starting
// with "~" in want matches a value that contains the rest.
func checkResult(t *testing.T, res, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got := res[k]
		if ws, ok := w.(string); ok && strings.HasPrefix(ws, "~") {
			if gs, _ := got.(string); !strings.Contains(gs, ws[1:]) {
				t.Errorf("result %s = %#v, want it to contain %q", k, got, ws[1:])
			}
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("result %s = %#v, want %#v", k, got, w)
		}
	}
}

func TestGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a wasm module")
	}
	g := newGuest(t, "testdata/tour")

	t.Run("basics", func(t *testing.T) {
		big := strings.Repeat("b", 5000) // more than the SDK's first buffer
		call := &hostapi.Call{
			Input:  []byte(`{"days": 90, "big": "` + big + `"}`),
			Config: []byte(`{"greeting": "hi"}`),
		}
		rec, res := g.run(t, call, "basics")
		wantLogs := []string{
			"debug debug line",
			`info info line n=1 s="two words"`,
			"warn warn line",
			"error error line err=boom",
			"info grouped k=v g.a=1",
		}
		if !reflect.DeepEqual(rec.logs, wantLogs) {
			t.Errorf("logs = %q, want %q", rec.logs, wantLogs)
		}
		wantProgress := []string{"0 at 0", "50 at 50", "100 at 100"}
		if !reflect.DeepEqual(rec.progress, wantProgress) {
			t.Errorf("progress = %q, want %q", rec.progress, wantProgress)
		}
		checkResult(t, res, map[string]any{
			"abi":           1.0,
			"days":          90.0,
			"big":           5000.0,
			"config":        map[string]any{"greeting": "hi"},
			"bad_level":     true,
			"bad_level_msg": "~log 6 log: unknown level 9",
			"bad_progress":  true,
			"bad_result":    "~result_set 6 result: payload is not valid JSON",
		})
	})

	t.Run("input null", func(t *testing.T) {
		_, res := g.run(t, &hostapi.Call{}, "basics")
		checkResult(t, res, map[string]any{"days": 7.0, "config": map[string]any{}})
	})

	t.Run("kv", func(t *testing.T) {
		kv := hostapi.NewMemoryKV()
		_, res := g.run(t, &hostapi.Call{KV: kv}, "kv")
		pad := strings.Repeat("x", 40)
		checkResult(t, res, map[string]any{
			"keys":      299.0, // about 15 KB of keys: several pages
			"sorted":    true,
			"first":     "item/000/" + pad,
			"last":      "item/299/" + pad,
			"has_7":     false,
			"first_two": []any{"big", "item/000/" + pad},
			"value_42":  42.0,
			"big_ok":    true,
			"missing":   true,
			"empty_key": true,
		})
		if _, ok, err := kv.Get(context.Background(), "other"); !ok || err != nil {
			t.Errorf("the store lacks the key %q the task set (err %v)", "other", err)
		}
	})

	t.Run("kv denied", func(t *testing.T) {
		rec := &sink{}
		call := &hostapi.Call{Sink: rec}
		defer call.Close()
		cfg := wazero.NewModuleConfig().WithName("").WithArgs("tour", "kv")
		_, err := g.r.InstantiateModule(hostapi.WithCall(context.Background(), call), g.mod, cfg)
		var exit *sys.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("err = %v, want exit code 1", err)
		}
		want := []string{`error tour failed scenario=kv err="kv_set: permission denied: kv: this app has no kv permission"`}
		if !reflect.DeepEqual(rec.logs, want) {
			t.Errorf("logs = %q, want %q", rec.logs, want)
		}
	})

	t.Run("http", func(t *testing.T) {
		bigBody := bytes.Repeat([]byte("cronbox!"), 128<<10) // 1 MiB
		mux := http.NewServeMux()
		mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"hello":"world"}`)
		})
		mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Tour"), b)
		})
		mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { w.Write(bigBody) })
		mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/json", http.StatusFound)
		})
		mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		u, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{u.Host}}}
		_, res := g.run(t, call, "http", srv.URL)
		sum := sha256.Sum256(bigBody)
		checkResult(t, res, map[string]any{
			"json":       `200 application/json {"hello":"world"}`,
			"echo":       "POST yes ping",
			"big":        fmt.Sprintf("%d %d %s", len(bigBody), len(bigBody), hex.EncodeToString(sum[:])),
			"redirect":   200.0,
			"missing":    404.0,
			"denied":     true,
			"denied_msg": `~http_request 4 http: host "denied.example" is not in this app's allow-list`,
			"timeout":    true,
			"transport":  "200 OK 19 POST transport pong",
		})
	})
}

// BenchmarkTrivialTaskInstance measures a run of the smallest useful task,
// which logs a line and sets a result: instantiating its compiled module
// starts the Go runtime, runs the package initialisers and then main. Nearly
// all of it is the start-up that every run of every task pays, which grows
// with the size of the module and so with what the SDK imports.
func BenchmarkTrivialTaskInstance(b *testing.B) {
	g := newGuest(b, "testdata/trivial")
	ctx := context.Background()
	cfg := wazero.NewModuleConfig().WithName("")
	var call *hostapi.Call
	for b.Loop() {
		call = &hostapi.Call{}
		mod, err := g.r.InstantiateModule(hostapi.WithCall(ctx, call), g.mod, cfg)
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
		call.Close()
	}
	if got := string(call.Result()); got != `{"ticks":1}` {
		b.Errorf("result = %s, want {\"ticks\":1}", got)
	}
}
