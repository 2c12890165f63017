package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/runtime"
)

const warmRoutes = `  - {path: /init, module: tasks/handler.wasm}
  - {path: /count, module: tasks/handler.wasm}
  - {path: /loop, module: tasks/handler.wasm, timeout: 300ms}
`

// warmOf returns the instance started ahead for the route of app at path,
// once it waits at its first effect.
func warmOf(t *testing.T, e *Engine, appName, path string) *warmRoute {
	t.Helper()
	var w *warmRoute
	testenv.WaitFor(t, "an instance started ahead for "+path, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		as := e.apps[appName]
		if as == nil || as.routeSet == nil {
			return false
		}
		for lr, v := range as.routeSet.warm {
			if lr.route.Path == path {
				w = v
				return true
			}
		}
		return false
	})
	select {
	case <-w.hold.Waiting():
	case <-w.done:
		t.Fatalf("the instance started ahead for %s ended before its first effect: %+v %v", path, w.res, w.err)
	}
	return w
}

// nativeRoutes waits until the modules of app's routes run as machine
// code: started on the interpreter under the race detector, a Go guest's
// start-up can take longer than a short time limit.
func nativeRoutes(t *testing.T, e *Engine, appName string) {
	t.Helper()
	testenv.WaitFor(t, "the routes of "+appName+" to run as machine code", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, lr := range e.apps[appName].routes {
			if lr.module.Tier() != runtime.TierNative {
				return false
			}
		}
		return true
	})
}

// kvValue returns the value of key in app's KV store.
func kvValue(t *testing.T, b *bundle, appName, key string) string {
	t.Helper()
	v, _, err := b.store.KV(appName).Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// TestWarmRouteHasNoEffectBeforeItsRequest: the instance started ahead
// runs its start-up up to its first effect (a log line, a KV write) and
// stops there until its request comes; the request then finds it ready.
func TestWarmRouteHasNoEffectBeforeItsRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{}, routeApp(t, "web", 4, warmRoutes))
	b.start()
	e := b.engine
	nativeRoutes(t, e, "web")

	if res := serve(t, e, "web", "GET", "/init", ""); res.Status != 200 || string(res.Body) != "1" || res.Warm {
		t.Fatalf("first request: %d %q warm %t, want 200 \"1\" in an instance of its own", res.Status, res.Body, res.Warm)
	}
	w := warmOf(t, e, "web", "/init")
	if got := kvValue(t, b, "web", "inits"); got != "1" {
		t.Fatalf("inits = %s with an instance started ahead waiting: its start-up wrote before its request", got)
	}
	var waiting int
	for _, in := range b.rt.Instances() {
		if in.Waiting {
			waiting++
		}
	}
	if waiting != 1 {
		t.Errorf("%d instances waiting, want the one started ahead", waiting)
	}
	for n := 2; n <= 4; n++ {
		res := serve(t, e, "web", "GET", "/init", "")
		if res.Status != 200 || string(res.Body) != itoa(n) || !res.Warm {
			t.Fatalf("request %d: %d %q warm %t, want 200 %q in the instance started ahead", n, res.Status, res.Body, res.Warm, itoa(n))
		}
		if n == 2 && !w.adopted {
			t.Error("the instance started ahead was not the one that served")
		}
		warmOf(t, e, "web", "/init")
	}
}

// TestWarmRouteTimeLimit: the time limit of an instance started ahead
// counts from its request, not from its start: it waits past the limit
// and still serves, until the limit stops it.
func TestWarmRouteTimeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{}, routeApp(t, "web", 4, warmRoutes), routeApp(t, "other", 4, warmRoutes))
	b.start()
	e := b.engine
	nativeRoutes(t, e, "web")
	nativeRoutes(t, e, "other")
	if res := serve(t, e, "web", "GET", "/loop", ""); res.Status != http.StatusGatewayTimeout || res.Warm {
		t.Fatalf("first /loop: %d warm %t", res.Status, res.Warm)
	}
	warmOf(t, e, "web", "/loop")
	// Another app's /loop, in an instance of its own, lets the limit pass.
	if res := serve(t, e, "other", "GET", "/loop", ""); res.Status != http.StatusGatewayTimeout || res.Warm {
		t.Fatalf("the other app's /loop: %d warm %t", res.Status, res.Warm)
	}
	res := serve(t, e, "web", "GET", "/loop", "")
	if res.Status != http.StatusGatewayTimeout || res.RunStatus != runtime.StatusTimedOut || !res.Warm || res.Duration < 300*time.Millisecond {
		t.Errorf("/loop in the instance started ahead: %d %s warm %t after %s, want it to time out 300ms after its request", res.Status, res.RunStatus, res.Warm, res.Duration)
	}
}

// TestWarmRouteDiscarded: an instance started ahead is discarded when the
// app is reloaded (the next request runs the new version), when it idles
// for RouteWarm, and when its slot is the last free one another route's
// request needs; one that ended before its request is replaced by a run
// of the request's own.
func TestWarmRouteDiscarded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	a := routeApp(t, "web", 1, warmRoutes)
	b := newBundle(t, Config{RouteWarm: time.Minute}, a)
	b.start()
	e := b.engine
	nativeRoutes(t, e, "web")
	ended := func(w *warmRoute) {
		t.Helper()
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			t.Fatal("the instance started ahead did not end")
		}
	}

	serve(t, e, "web", "GET", "/init", "")
	w := warmOf(t, e, "web", "/init")
	// The new version answers /count at /init too.
	a.manifest = strings.Replace(a.manifest, "{path: /count,", "{path: /init/*,", 1)
	writeApp(t, b.home, a)
	if err := e.ReloadApp(context.Background(), "web"); err != nil {
		t.Fatal(err)
	}
	ended(w)
	if res := serve(t, e, "web", "GET", "/init/x", ""); res.Status != 200 || res.Warm {
		t.Errorf("after the reload: %d %q warm %t, want the new version's route in an instance of its own", res.Status, res.Body, res.Warm)
	}

	serve(t, e, "web", "GET", "/init", "")
	w = warmOf(t, e, "web", "/init")
	b.clock.Advance(time.Minute)
	ended(w)
	if res := serve(t, e, "web", "GET", "/init", ""); res.Status != 200 || res.Warm {
		t.Errorf("after RouteWarm idle: %d warm %t, want an instance of its own", res.Status, res.Warm)
	}

	// The quota is 1: the instance started ahead for /init holds the slot
	// a request of /init/x takes.
	w = warmOf(t, e, "web", "/init")
	if res := serve(t, e, "web", "GET", "/init/x", ""); res.Status != 200 || res.Warm {
		t.Errorf("another route with the slot taken ahead: %d %q warm %t", res.Status, res.Body, res.Warm)
	}
	ended(w)

	w = warmOf(t, e, "web", "/init/*")
	w.cancel(errors.New("gone"))
	ended(w)
	if res := serve(t, e, "web", "GET", "/init/x", ""); res.Status != 200 || res.Warm {
		t.Errorf("after the instance started ahead ended: %d %q warm %t", res.Status, res.Body, res.Warm)
	}
}

// TestRouteWarmOff: a negative RouteWarm starts nothing ahead.
func TestRouteWarmOff(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{RouteWarm: -1}, routeApp(t, "web", 4, warmRoutes))
	b.start()
	e := b.engine
	for n := 1; n <= 2; n++ {
		if res := serve(t, e, "web", "GET", "/init", ""); string(res.Body) != itoa(n) || res.Warm {
			t.Errorf("request %d: %q warm %t", n, res.Body, res.Warm)
		}
	}
	if n := len(b.rt.Instances()); n != 0 {
		t.Errorf("%d instances after the requests, want none", n)
	}
}

// TestWarmRouteOnlyForALoneRequest: no instance is started ahead while
// another request of the app is in flight, whose work has the cores; one
// is once the request is alone.
func TestWarmRouteOnlyForALoneRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	b := newBundle(t, Config{}, routeApp(t, "web", 4, "  - {path: /loop, module: tasks/handler.wasm, timeout: 1m}\n  - {path: /count, module: tasks/handler.wasm}\n"))
	b.start()
	e := b.engine
	warm := func(path string) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for lr := range e.apps["web"].routeSet.warm {
			if lr.route.Path == path {
				return true
			}
		}
		return false
	}
	cancel, done := loopInFlight(t, e, "web")
	if res := serve(t, e, "web", "GET", "/count", ""); res.Status != 200 {
		t.Fatalf("/count beside /loop: %d %s", res.Status, res.Body)
	}
	if warm("/count") {
		t.Error("an instance was started ahead for /count while /loop was in flight")
	}
	cancel()
	<-done
	if res := serve(t, e, "web", "GET", "/count", ""); res.Status != 200 {
		t.Fatalf("/count alone: %d %s", res.Status, res.Body)
	}
	if !warm("/count") {
		t.Error("no instance was started ahead for /count, the app's only request")
	}
}
