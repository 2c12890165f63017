package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/runtime"
)

// Errors of ServeRoute.
var (
	// ErrNoRoute: the app is not loaded, or is switched off, or has no
	// route for the request's method and path.
	ErrNoRoute = errors.New("no such route")
	// ErrRouteBusy: the app's concurrency quota stayed taken by other
	// requests of its routes for all of Config.RouteWait.
	ErrRouteBusy = errors.New("the app's routes are busy")
)

// maxFailedRequests is how many failed requests an app's log keeps.
const maxFailedRequests = 20

// RouteResult is how a route's handler answered one request.
type RouteResult struct {
	// Status, Header and Body are the response to send.
	Status int
	Header http.Header
	Body   []byte
	// RunStatus is how the handler's run ended.
	RunStatus runtime.Status
	// Error says why the run failed, for a status of 500 or more; the
	// response of a failed run is then empty.
	Error string
	// Duration is how long the run took.
	Duration time.Duration
	// Warm reports that the request ran in an instance started ahead for
	// it (see Config.RouteWarm).
	Warm bool
}

// RouteStats are the counts of one route since the engine started.
type RouteStats struct {
	Route app.Route
	// Requests and Errors (5xx answers) count the requests served.
	Requests, Errors int64
	// Total is the time the served requests took, summed; Buckets counts
	// them by duration, each bucket holding those no longer than the
	// matching RouteBuckets entry (the last: all).
	Total   time.Duration
	Buckets []int64
}

// RouteBuckets are the upper bounds of RouteStats.Buckets.
var RouteBuckets = []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second}

// FailedRequest is a request a route's handler failed: a 5xx answer, a
// time limit, a trap.
type FailedRequest struct {
	Time     time.Time
	Method   string
	Path     string
	Status   int
	Error    string
	Duration time.Duration
	// Logs are the handler's last log lines.
	Logs []string
}

// loadedRoute is a route with its compiled module and its counts.
type loadedRoute struct {
	route  app.Route
	module *runtime.Module
	stats  RouteStats // guarded by the engine's lock
}

// routeSet is what an app's routes share: the slots of its concurrency
// quota, the log of its failed requests, its requests in flight, the
// instances started ahead for its routes' next requests.
type routeSet struct {
	slots  chan struct{}
	failed []FailedRequest
	// running cancels the requests in flight and the instances started
	// ahead, when the engine stops, and keeps their modules loaded.
	running map[*routeRun]struct{}
	// warm is the instance started ahead for each route (warm.go).
	warm map[*loadedRoute]*warmRoute
	// waiting counts the requests waiting for a slot: no instance is
	// started ahead while one does. inflight counts the requests that
	// have a slot, until they have started the next instance: one is
	// started ahead only for a request alone in flight.
	waiting, inflight int
}

type routeRun struct {
	cancel context.CancelCauseFunc
	module *runtime.Module
}

// loadRoutes compiles the modules of a's routes. A route whose module does
// not compile is left out, with its error.
func (e *Engine) loadRoutes(ctx context.Context, a *app.App) ([]*loadedRoute, []error) {
	var out []*loadedRoute
	var errs []error
	for i, r := range a.Manifest.Routes {
		if len(r.Errors) > 0 {
			continue // among the app's errors
		}
		m, err := e.loadModule(ctx, r.Module)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes[%d] (%s %s): %w", i, r.Method, r.Path, err))
			continue
		}
		out = append(out, &loadedRoute{route: r, module: m, stats: RouteStats{Route: r, Buckets: make([]int64, len(RouteBuckets)+1)}})
	}
	return out, errs
}

// installRoutesLocked makes routes the app's, keeping the counts of those
// that stay. The engine's lock is held.
func (as *appState) installRoutesLocked(routes []*loadedRoute) {
	for _, r := range routes {
		for _, old := range as.routes {
			if old.route.Method == r.route.Method && old.route.Path == r.route.Path {
				r.stats.Requests, r.stats.Errors, r.stats.Total = old.stats.Requests, old.stats.Errors, old.stats.Total
				copy(r.stats.Buckets, old.stats.Buckets)
			}
		}
	}
	as.routes = routes
	as.discardWarmLocked()
}

// Route returns the route of app that answers method and path (under the
// app's prefix), or ErrNoRoute.
func (e *Engine) Route(appName, method, path string) (app.Route, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	lr, err := e.routeLocked(appName, method, path)
	if err != nil {
		return app.Route{}, err
	}
	return lr.route, nil
}

// AppLoaded reports whether app has a good version loaded and is on.
func (e *Engine) AppLoaded(appName string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	as := e.apps[appName]
	return as != nil && as.enabled()
}

func (e *Engine) routeLocked(appName, method, path string) (*loadedRoute, error) {
	as := e.apps[appName]
	if as == nil || !as.enabled() {
		return nil, ErrNoRoute
	}
	for _, lr := range as.routes {
		if lr.route.Matches(method, path) {
			return lr, nil
		}
	}
	return nil, ErrNoRoute
}

// ServeRoute serves req, a request for the app's route that answers its
// method and path, as a run of a task goes: a fresh instance of the
// route's module with the app's permissions (KV, HTTP allow-list, files)
// and the route's limits (time, memory). At most quotas.concurrency
// requests of the app's routes run at once; one that finds none free for
// Config.RouteWait fails with ErrRouteBusy. The request's body must have
// been read already, within the route's MaxBody.
//
// The instance is the one started ahead for the route's next request, if
// there is one still good (see Config.RouteWarm); the next one starts
// during the request, or after it when no slot is free.
func (e *Engine) ServeRoute(ctx context.Context, appName string, req *hostapi.Request) (RouteResult, error) {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return RouteResult{}, ErrNoRoute
	}
	lr, err := e.routeLocked(appName, req.Method, req.Path)
	if err != nil {
		e.mu.Unlock()
		return RouteResult{}, err
	}
	as := e.apps[appName]
	rs := as.routeSetLocked()
	ga := e.routeGuestAppLocked(as)
	w := rs.adoptLocked(lr)
	slots, wait := rs.slotLocked(w)
	if !wait {
		rs.inflight++
	}
	e.mu.Unlock()

	if wait {
		err := acquireSlot(ctx, slots, e.cfg.RouteWait)
		e.mu.Lock()
		rs.waiting--
		if err == nil {
			rs.inflight++
		}
		e.mu.Unlock()
		if err != nil {
			return RouteResult{}, err
		}
	}
	// The next request's instance starts now if a slot is free, so that
	// it has this request's time to start in; else once this request
	// gives its slot back.
	e.warmUp(appName, lr)
	res, sink := e.serveInSlot(ctx, appName, rs, lr, ga, req, w, slots)
	e.countRoute(as, lr, req, res, sink)
	e.warmUp(appName, lr) // still counted in flight, as at its start
	e.mu.Lock()
	rs.inflight--
	e.mu.Unlock()
	return res, nil
}

// serveInSlot runs the handler of lr for req, in a slot of slots, which
// it gives back: in w, the instance started ahead, if it is still good,
// else in an instance of its own.
func (e *Engine) serveInSlot(ctx context.Context, appName string, rs *routeSet, lr *loadedRoute, ga guestApp, req *hostapi.Request, w *warmRoute, slots chan struct{}) (RouteResult, *routeSink) {
	defer func() { <-slots }()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run := &routeRun{cancel: cancel, module: lr.module}
	e.mu.Lock()
	rs.running[run] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(rs.running, run)
		e.mu.Unlock()
	}()

	started := time.Now()
	var res RouteResult
	var sink *routeSink
	if w != nil {
		if r, ok := w.serve(runCtx, req); ok {
			res, sink = r, w.sink
			res.Warm = true
		}
	}
	if sink == nil {
		sink = &routeSink{}
		res = e.runRoute(runCtx, appName, lr, ga, req, sink)
	}
	res.Duration = time.Since(started)
	return res, sink
}

// acquireSlot takes a slot of slots, waiting at most wait for one: a free
// slot is taken without a timer.
func acquireSlot(ctx context.Context, slots chan struct{}, wait time.Duration) error {
	select {
	case slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrRouteBusy
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// routeGuestAppLocked is what a route's guest of the app may do.
func (e *Engine) routeGuestAppLocked(as *appState) guestApp {
	m := as.app.Manifest
	return guestApp{Permissions: m.Permissions, Quotas: m.Quotas, Files: as.filesQuotaLocked(), Secrets: e.secretsOf(context.Background(), as.name)}
}

// routeGuest makes the guest of a request of lr: its host state, and the
// Spec of its run.
func (e *Engine) routeGuest(appName string, lr *loadedRoute, ga guestApp, sink *routeSink) (*guest, error) {
	route := lr.route
	t := app.Task{App: appName, Name: "route", Limits: route.Limits}
	g, err := newGuest(e.cfg.Home, e.cfg.Store.KV, t, ga, 0, nil, sink)
	if err != nil {
		return nil, err
	}
	g.Spec.Args = []string{route.Method + " " + route.Path}
	g.Spec.ID = "route " + appName + " " + route.Path
	return g, nil
}

// runRoute runs the handler of lr for req in an instance of its own.
func (e *Engine) runRoute(ctx context.Context, appName string, lr *loadedRoute, ga guestApp, req *hostapi.Request, sink *routeSink) RouteResult {
	g, err := e.routeGuest(appName, lr, ga, sink)
	if err != nil {
		return failedRoute(http.StatusInternalServerError, "", err.Error())
	}
	defer g.Call.Close()
	g.Call.Request = req
	res, err := e.cfg.Runtime.Run(hostapi.WithCall(ctx, g.Call), lr.module, g.Spec)
	return routeResult(lr.route, g, res, err)
}

// routeResult is the answer of a handler's run, res, or err if it could
// not start.
func routeResult(route app.Route, g *guest, res *runtime.Result, err error) RouteResult {
	if err != nil {
		return failedRoute(http.StatusInternalServerError, "", err.Error())
	}
	switch res.Status {
	case runtime.StatusSucceeded:
		resp := g.Call.Response()
		if resp == nil {
			return RouteResult{Status: http.StatusNoContent, Header: http.Header{}, RunStatus: res.Status}
		}
		return RouteResult{Status: resp.Status, Header: resp.Headers, Body: resp.Body, RunStatus: res.Status}
	case runtime.StatusTimedOut:
		return failedRoute(http.StatusGatewayTimeout, res.Status, fmt.Sprintf("the handler ran past its time limit of %s", route.Limits.Timeout))
	case runtime.StatusCancelled:
		return failedRoute(http.StatusServiceUnavailable, res.Status, "the request was cancelled: "+res.Error)
	}
	msg := res.Error
	if last := g.Call.LastError(); last != "" {
		msg += " (last host call error: " + last + ")"
	}
	return failedRoute(http.StatusInternalServerError, res.Status, msg)
}

// failedRoute is the result of a handler that failed: no response of its
// own, and why, for the log (the caller chooses what to tell the client).
func failedRoute(status int, rs runtime.Status, msg string) RouteResult {
	return RouteResult{Status: status, Header: http.Header{}, RunStatus: rs, Error: msg}
}

// countRoute counts a served request, and logs it if it failed.
func (e *Engine) countRoute(as *appState, lr *loadedRoute, req *hostapi.Request, res RouteResult, sink *routeSink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := &lr.stats
	st.Requests++
	st.Total += res.Duration
	i, _ := slices.BinarySearch(RouteBuckets, res.Duration)
	st.Buckets[i]++
	if res.Status < 500 {
		return
	}
	st.Errors++
	rs := as.routeSetLocked()
	rs.failed = append(rs.failed, FailedRequest{Time: e.cfg.Clock.Now(), Method: req.Method, Path: req.Path, Status: res.Status, Error: res.Error, Duration: res.Duration, Logs: sink.lines()})
	if n := len(rs.failed); n > maxFailedRequests {
		rs.failed = slices.Delete(rs.failed, 0, n-maxFailedRequests)
	}
}

// routeSetLocked returns the app's route set, made at its first request,
// its slots sized again when quotas.concurrency changed.
func (as *appState) routeSetLocked() *routeSet {
	q := as.quota()
	if as.routeSet == nil {
		as.routeSet = &routeSet{running: map[*routeRun]struct{}{}, warm: map[*loadedRoute]*warmRoute{}}
	}
	if cap(as.routeSet.slots) != q {
		// Requests holding a slot of the old channel give it back there.
		as.routeSet.slots = make(chan struct{}, q)
	}
	return as.routeSet
}

// Routes returns the routes of app with their counts and the app's last
// failed requests, newest first.
func (e *Engine) Routes(appName string) ([]RouteStats, []FailedRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	as := e.apps[appName]
	if as == nil {
		return nil, nil
	}
	out := make([]RouteStats, 0, len(as.routes))
	for _, lr := range as.routes {
		st := lr.stats
		st.Buckets = slices.Clone(st.Buckets)
		out = append(out, st)
	}
	var failed []FailedRequest
	if as.routeSet != nil {
		failed = slices.Clone(as.routeSet.failed)
		slices.Reverse(failed)
	}
	return out, failed
}

// cancelRoutesLocked stops the requests in flight and the instances
// started ahead, when the engine stops.
func (e *Engine) cancelRoutesLocked() {
	for _, as := range e.apps {
		if as.routeSet == nil {
			continue
		}
		as.discardWarmLocked()
		for r := range as.routeSet.running {
			r.cancel(errShutdown)
		}
	}
}

// routeModulesLocked adds the modules of the routes and the requests in
// flight to used.
func (e *Engine) routeModulesLocked(used map[*runtime.Module]bool) {
	for _, as := range e.apps {
		for _, lr := range as.routes {
			used[lr.module] = true
		}
		if as.routeSet != nil {
			for r := range as.routeSet.running {
				used[r.module] = true
			}
		}
	}
}

// routeSink keeps a handler's last log lines, for the log of failed
// requests.
type routeSink struct {
	mu   sync.Mutex
	logs []string
}

const (
	routeLogLines = 8
	routeLogLine  = 512
)

func (s *routeSink) Log(level hostapi.Level, msg string) {
	if len(msg) > routeLogLine {
		msg = msg[:routeLogLine] + "…"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, level.String()+" "+msg)
	if len(s.logs) > routeLogLines {
		s.logs = slices.Delete(s.logs, 0, 1)
	}
}

func (s *routeSink) Progress(int, string) {}

func (s *routeSink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs)
}

// AppDir returns the folder of the loaded version of app, if it is loaded
// and on.
func (e *Engine) AppDir(appName string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	as := e.apps[appName]
	if as == nil || !as.enabled() {
		return "", false
	}
	return as.app.Dir, true
}
