package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// routeApp is an app whose routes all run the test handler
// (testdata/handler), which answers by path.
func routeApp(t *testing.T, name string, quota int, routes string) testApp {
	t.Helper()
	return testApp{
		name:     name,
		manifest: "name: " + name + "\nquotas: {concurrency: " + itoa(quota) + "}\nroutes:\n" + routes,
		modules:  map[string][]byte{"handler": wasmtest.Build(t, "testdata/handler")},
	}
}

const handlerRoutes = `  - {path: /echo, method: POST, module: tasks/handler.wasm, roles: [public]}
  - {path: /count, module: tasks/handler.wasm}
  - {path: /teapot, module: tasks/handler.wasm}
  - {path: /loop, module: tasks/handler.wasm, timeout: 300ms}
  - {path: /bomb, module: tasks/handler.wasm, memory: 16MiB, timeout: 2m}
  - {path: /huge, module: tasks/handler.wasm}
  - {path: /fail, module: tasks/handler.wasm}
`

func serve(t *testing.T, e *Engine, appName, method, path string, body string) RouteResult {
	t.Helper()
	res, err := e.ServeRoute(context.Background(), appName, &hostapi.Request{Method: method, Path: path, Body: []byte(body), Headers: map[string][]string{"X-Test": {"t"}}})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

func TestServeRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{}, routeApp(t, "web", 4, handlerRoutes))
	b.start()
	e := b.engine

	res := serve(t, e, "web", "POST", "/echo", "ping")
	if res.Status != 200 || !strings.Contains(string(res.Body), `"body":"ping"`) || !strings.Contains(string(res.Body), `"x_test":"t"`) {
		t.Errorf("echo: %d %s", res.Status, res.Body)
	}
	for want := range 3 {
		res := serve(t, e, "web", "GET", "/count", "")
		if string(res.Body) != itoa(want+1) {
			t.Errorf("count %d: %s, want %d (a fresh instance, the app's KV kept)", want, res.Body, want+1)
		}
	}
	if res := serve(t, e, "web", "HEAD", "/teapot", ""); res.Status != 418 || res.Header.Get("X-Kind") != "teapot" {
		t.Errorf("teapot: %d %v", res.Status, res.Header)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/echo"}, {"GET", "/nothing"}} {
		if _, err := e.ServeRoute(context.Background(), "web", &hostapi.Request{Method: c.method, Path: c.path}); !errors.Is(err, ErrNoRoute) {
			t.Errorf("%s %s: %v, want ErrNoRoute", c.method, c.path, err)
		}
	}
	if _, err := e.ServeRoute(context.Background(), "nosuch", &hostapi.Request{Method: "GET", Path: "/count"}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("an unknown app: %v, want ErrNoRoute", err)
	}
	stats, _ := e.Routes("web")
	if len(stats) != 7 || stats[1].Requests != 3 || stats[1].Errors != 0 {
		t.Errorf("stats = %+v", stats)
	}
}

// TestHostileRoutes runs handlers that loop, eat memory, answer too much
// and fail: each is stopped and answered for, and another app's routes
// serve on. The memory bomb has minutes to reach its limit: an
// interpreted guest under the race detector on a loaded machine may take
// more than the default 10 s.
func TestHostileRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{}, routeApp(t, "web", 4, handlerRoutes), routeApp(t, "other", 4, handlerRoutes))
	b.start()
	e := b.engine
	for _, c := range []struct {
		path      string
		status    int
		runStatus runtime.Status
	}{
		{"/loop", http.StatusGatewayTimeout, runtime.StatusTimedOut},
		{"/bomb", http.StatusInternalServerError, runtime.StatusOutOfMemory},
		{"/huge", http.StatusInternalServerError, runtime.StatusFailed},
		{"/fail", http.StatusInternalServerError, runtime.StatusFailed},
	} {
		res := serve(t, e, "web", "GET", c.path, "")
		if res.Status != c.status || res.RunStatus != c.runStatus || res.Error == "" {
			t.Errorf("%s: %d %s %q, want %d %s", c.path, res.Status, res.RunStatus, res.Error, c.status, c.runStatus)
		}
		if strings.Contains(string(res.Body), "set, then failed") {
			t.Errorf("%s: a failed handler's response was sent: %s", c.path, res.Body)
		}
	}
	if res := serve(t, e, "other", "POST", "/echo", "still here"); res.Status != 200 {
		t.Errorf("the other app: %d %s", res.Status, res.Body)
	}
	stats, failed := e.Routes("web")
	var errs int64
	for _, s := range stats {
		errs += s.Errors
	}
	if errs != 4 || len(failed) != 4 || failed[0].Path != "/fail" || failed[3].Path != "/loop" {
		t.Errorf("errors %d, failed requests %+v", errs, failed)
	}
	if !strings.Contains(strings.Join(failed[1].Logs, "\n"), "huge") {
		t.Errorf("the failed /huge keeps no log of why: %q", failed[1].Logs)
	}
}

// TestRouteQuota: a request beyond the app's concurrency quota waits for
// RouteWait, then is refused; the quota's slot comes back when the
// request that held it ends.
func TestRouteQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{RouteWait: 50 * time.Millisecond}, routeApp(t, "web", 1, "  - {path: /loop, module: tasks/handler.wasm, timeout: 1m}\n  - {path: /count, module: tasks/handler.wasm}\n"))
	b.start()
	e := b.engine
	cancel, done := loopInFlight(t, e, "web")
	if _, err := e.ServeRoute(context.Background(), "web", &hostapi.Request{Method: "GET", Path: "/count"}); !errors.Is(err, ErrRouteBusy) {
		t.Errorf("beyond the quota: %v, want ErrRouteBusy", err)
	}
	cancel()
	if res := <-done; res.Status < 500 {
		t.Errorf("the cancelled request: %d", res.Status)
	}
	if res := serve(t, e, "web", "GET", "/count", ""); res.Status != 200 {
		t.Errorf("after the slot came back: %d %s", res.Status, res.Body)
	}
}

// loopInFlight starts a request of app's route /loop, which runs until it
// is cancelled, and returns once the request holds a slot: cancel ends
// it, and done gives its result.
func loopInFlight(t *testing.T, e *Engine, appName string) (cancel func(), done <-chan RouteResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	results := make(chan RouteResult, 1)
	go func() {
		res, _ := e.ServeRoute(ctx, appName, &hostapi.Request{Method: "GET", Path: "/loop"})
		results <- res
	}()
	testenv.WaitFor(t, "the /loop request to be in flight", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		rs := e.apps[appName].routeSet
		return rs != nil && rs.inflight == 1
	})
	return cancel, results
}
