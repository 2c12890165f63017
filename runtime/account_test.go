package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// logSink keeps a run's log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) Log(level hostapi.Level, msg string) {
	s.mu.Lock()
	s.lines = append(s.lines, level.String()+": "+msg)
	s.mu.Unlock()
}

func (s *logSink) Progress(int, string) {}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// abiFixture is a runtime with the cronbox host functions and the hostapi
// test guest, which calls them without an SDK.
func abiFixture(t *testing.T, tier runtime.Tier) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{
		CacheDir:    wasmtest.CompilationCacheDir(),
		Tier:        tier,
		HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	m, _, err := rt.Load(ctx, wasmtest.Build(t, "../hostapi/testdata/abi"))
	if err != nil {
		t.Fatal(err)
	}
	return rt, m
}

// bigServer serves bodies of size bytes, with their length announced or,
// chunked, without.
func bigServer(t *testing.T, size int, chunked bool) string {
	t.Helper()
	body := []byte(strings.Repeat("x", size))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(size))
		}
		for b := body; len(b) > 0; {
			n := min(len(b), 256<<10)
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
			if chunked {
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// holdRun runs the guest's httphold scenario against srvURL under a memory
// limit, with an account, and returns the result, the account, the
// guest's observations and the run's log.
func holdRun(t *testing.T, rt *runtime.Runtime, m *runtime.Module, srvURL string, limit int64, args ...string) (*runtime.Result, *runtime.Account, map[string]string, string) {
	t.Helper()
	u, _ := url.Parse(srvURL)
	acct := runtime.NewAccount()
	sink := &logSink{}
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{u.Host}}, Sink: sink, Account: acct}
	defer call.Close()
	res, err := rt.Run(hostapi.WithCall(context.Background(), call), m, runtime.Spec{
		Args:    append([]string{"abi", "httphold", srvURL}, args...),
		Limits:  runtime.Limits{Memory: limit},
		Account: acct,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	return res, acct, got, sink.text()
}

// A guest that opens many large responses under a small memory limit gets
// ELIMIT once what the host holds for it would pass the limit beside its
// own memory: the host never holds more than the limit, and the run's
// peak counts the held bytes.
func TestHostHeldMemoryIsBoundedByTheLimit(t *testing.T) {
	// The host's accounting is the same whatever runs the guest.
	tier := runtime.TierNative
	rt, m := abiFixture(t, tier)
	const limit = 32 << 20
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			srv := bigServer(t, 11<<20, chunked)
			res, acct, got, logs := holdRun(t, rt, m, srv, limit, "0", "keep")
			if res.Status != runtime.StatusSucceeded {
				t.Fatalf("status %s (%s); stderr:\n%s", res.Status, res.Error, res.Stderr)
			}
			t.Logf("the guest saw: %s", got["error"])
			if got["errno"] != "10" || !strings.Contains(got["error"], "memory limit of 32 MiB") {
				t.Fatalf("the guest saw errno %q, %q; want 10 (ELIMIT) naming the memory limit\nstdout:\n%s", got["errno"], got["error"], res.Stdout)
			}
			if got["opened"] == "0" || got["opened"] == "64" {
				t.Fatalf("opened %s responses; want some, then a refusal", got["opened"])
			}
			if peak := acct.PeakHeld(); peak > limit || peak < 10<<20 {
				t.Fatalf("the host held at most %d bytes; want a 10 MiB body or more, and no more than the %d limit", peak, limit)
			}
			if res.PeakMemory > limit || res.PeakMemory < acct.PeakHeld() {
				t.Fatalf("peak memory %d; want the host's %d held bytes counted in it, and within the %d limit", res.PeakMemory, acct.PeakHeld(), limit)
			}
			if res.Usage.PeakMemory != res.PeakMemory {
				t.Fatalf("usage peak %d, result peak %d", res.Usage.PeakMemory, res.PeakMemory)
			}
			if acct.Refusals() == 0 || !strings.Contains(logs, "warn: http: the host refused to hold a response body") || !strings.Contains(logs, "memory limit of 32 MiB") {
				t.Fatalf("refusals %d, log:\n%s\nwant one line naming the limit", acct.Refusals(), logs)
			}
		})
	}
}

// The guest's memory cannot grow into what the host holds for it; once
// the responses are closed, it can.
func TestGuestGrowthCountsHostHeldMemory(t *testing.T) {
	// The host's accounting is the same whatever runs the guest.
	tier := runtime.TierNative
	rt, m := abiFixture(t, tier)
	const limit = 32 << 20
	srv := bigServer(t, 10<<20, false)
	res, acct, got, _ := holdRun(t, rt, m, srv, limit, "12", "keep")
	if res.Status != runtime.StatusOutOfMemory {
		t.Fatalf("holding %s responses then growing by 12 MiB: status %s (%s), peak held %d; want out_of_memory", got["opened"], res.Status, res.Error, acct.PeakHeld())
	}
	if res.PeakMemory > limit {
		t.Fatalf("peak memory %d passes the %d limit", res.PeakMemory, limit)
	}

	res, _, got, _ = holdRun(t, rt, m, srv, limit, "12", "close")
	if res.Status != runtime.StatusSucceeded || got["allocated"] != "12" || got["reopen"] != "0" {
		t.Fatalf("closing the responses first: status %s (%s), reopen %q, allocated %q; want success\nstderr:\n%s", res.Status, res.Error, got["reopen"], got["allocated"], res.Stderr)
	}
}

// A run's usage counts exactly the bytes a known guest moves through each
// metered path.
func TestUsageMetersWhatTheGuestMoves(t *testing.T) {
	// The host's accounting is the same whatever runs the guest.
	tier := runtime.TierNative
	rt, m := abiFixture(t, tier)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("pong!"))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	acct := runtime.NewAccount()
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{u.Host}}, KV: hostapi.NewMemoryKV(), Account: acct}
	defer call.Close()
	res, err := rt.Run(hostapi.WithCall(context.Background(), call), m, runtime.Spec{
		Args:    []string{"abi", "usage", srv.URL},
		Mounts:  []runtime.Mount{{HostDir: t.TempDir(), GuestPath: "/data"}},
		Account: acct,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runtime.StatusSucceeded {
		t.Fatalf("status %s (%s)\n%s%s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	if want := "log=0\nprogress=0\nkv_set=0\nrequest=0\nwrite=<nil>\n"; string(res.Stdout) != want {
		t.Fatalf("stdout %q; want %q", res.Stdout, want)
	}
	u2 := res.Usage
	want := runtime.Usage{
		CPUTime:      u2.CPUTime,
		PeakMemory:   res.PeakMemory,
		OutputBytes:  int64(len(res.Stdout) + len(res.Stderr)),
		LogBytes:     len64("hello") + len64("half"),
		HTTPSent:     len64("ping"),
		HTTPReceived: len64("pong!"),
		KVWritten:    len64("key") + len64("value"),
		FilesWritten: 1000,
	}
	if u2 != want {
		t.Fatalf("usage %+v\nwant  %+v", u2, want)
	}
	if u2.CPUTime <= 0 || u2.CPUTime > res.Duration+time.Second {
		t.Fatalf("CPU time %v for a run of %v", u2.CPUTime, res.Duration)
	}
	if res.PeakMemory < int64(len(res.Stdout)) {
		t.Fatalf("peak memory %d", res.PeakMemory)
	}
}

func len64(s string) int64 { return int64(len(s)) }
