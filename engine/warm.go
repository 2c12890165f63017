package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/runtime"
)

// A route's instance started ahead: when a request of a route starts,
// if a slot is free, else when it ends, the engine starts the instance of
// the route's next request, a run held at its first effect (runtime.Hold). The guest's language
// runtime and initialisers run then, off the request's path; the request
// that comes sets its Request on the instance's Call and releases it. Each
// request still has a fresh instance of its own, which serves it alone.
//
// An instance started ahead holds a slot of the app's concurrency quota,
// taken only if one was free and no request was waiting for one; the
// request that adopts it inherits the slot, and a request of another
// route that finds no slot free takes it (and the instance is discarded)
// instead of waiting. So the app's instances never pass its quota, and an
// instance started ahead never delays a request.
//
// An instance is started ahead only while the request is the app's only
// one in flight: it is a use of the cores a lone request leaves idle.
// Under concurrent requests the cores are busy, and starting ahead would
// only move the work and hand each request over between threads.

var (
	// errWarmDiscarded ends an instance started ahead that no request
	// will take: its app was reloaded or removed, its route set changed,
	// it idled for Config.RouteWarm, or its slot went to a request.
	errWarmDiscarded = errors.New("the instance started ahead was discarded")
)

// warmRoute is an instance started ahead for the next request of route.
type warmRoute struct {
	route  *loadedRoute
	g      *guest
	sink   *routeSink
	hold   *runtime.Hold
	cancel context.CancelCauseFunc
	slots  chan struct{} // what its slot is of
	idle   Timer         // discards it after Config.RouteWarm
	// done is closed when its run ended; res and err are set then.
	done chan struct{}
	res  *runtime.Result
	err  error

	// Guarded by the engine's lock. adopted: a request took it, and with
	// it its slot and its guest. slot: it holds its slot still (a request
	// of another route may take the slot).
	adopted, slot bool
}

// adoptLocked takes the instance started ahead for lr, if there is one:
// the caller owns its slot and its guest.
func (rs *routeSet) adoptLocked(lr *loadedRoute) *warmRoute {
	w := rs.warm[lr]
	if w == nil {
		return nil
	}
	delete(rs.warm, lr)
	w.idle.Stop()
	w.adopted = true
	return w
}

// slotLocked finds a request its slot: w's if it adopted w, a free one,
// or the slot of an instance started ahead for another route, which is
// discarded. Otherwise the request must wait for one of slots (wait), and
// counts among those waiting until it is done waiting.
func (rs *routeSet) slotLocked(w *warmRoute) (slots chan struct{}, wait bool) {
	if w != nil {
		return w.slots, false
	}
	select {
	case rs.slots <- struct{}{}:
		return rs.slots, false
	default:
	}
	for lr, v := range rs.warm {
		delete(rs.warm, lr)
		v.idle.Stop()
		v.slot = false
		v.cancel(errWarmDiscarded)
		return v.slots, false
	}
	rs.waiting++
	return rs.slots, true
}

// discardWarmLocked discards the app's instances started ahead.
func (as *appState) discardWarmLocked() {
	if as.routeSet == nil {
		return
	}
	for lr, w := range as.routeSet.warm {
		delete(as.routeSet.warm, lr)
		w.idle.Stop()
		w.cancel(errWarmDiscarded)
	}
}

// warmUp starts an instance ahead for the next request of lr, unless
// Config.RouteWarm is negative, the route is no longer the app's, one is
// started already, or no slot of the app's quota is free.
func (e *Engine) warmUp(appName string, lr *loadedRoute) {
	if e.cfg.RouteWarm < 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	as := e.apps[appName]
	if e.stopping || as == nil || !as.enabled() || !slices.Contains(as.routes, lr) {
		return
	}
	rs := as.routeSetLocked()
	// Starting ahead uses a core the requests leave idle. With other
	// requests in flight the cores are busy: an instance started ahead
	// would only move the work, and add a hand-over between threads to
	// every request.
	if rs.warm[lr] != nil || rs.waiting > 0 || rs.inflight > 1 {
		return
	}
	select {
	case rs.slots <- struct{}{}:
	default:
		return
	}
	w := &warmRoute{route: lr, sink: &routeSink{}, hold: runtime.NewHold(), slots: rs.slots, slot: true, done: make(chan struct{})}
	g, err := e.routeGuest(appName, lr, e.routeGuestAppLocked(as), w.sink)
	if err != nil { // the request's own run will say why
		<-rs.slots
		return
	}
	w.g = g
	w.g.Spec.Hold = w.hold
	ctx, cancel := context.WithCancelCause(context.Background())
	w.cancel = cancel
	run := &routeRun{cancel: cancel, module: lr.module}
	rs.running[run] = struct{}{}
	rs.warm[lr] = w
	w.idle = e.cfg.Clock.AfterFunc(e.cfg.RouteWarm, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if rs.warm[lr] == w {
			delete(rs.warm, lr)
			w.cancel(errWarmDiscarded)
		}
	})
	e.warm.Add(1)
	go func() {
		defer e.warm.Done()
		e.runWarm(ctx, rs, run, w)
	}()
}

// runWarm runs w until it ends, and lets go of what no request took.
func (e *Engine) runWarm(ctx context.Context, rs *routeSet, run *routeRun, w *warmRoute) {
	defer w.cancel(nil)
	w.res, w.err = e.cfg.Runtime.Run(hostapi.WithCall(ctx, w.g.Call), w.route.module, w.g.Spec)
	close(w.done)
	e.mu.Lock()
	delete(rs.running, run)
	if rs.warm[w.route] == w { // it ended before its request came
		delete(rs.warm, w.route)
		w.idle.Stop()
	}
	adopted, slot := w.adopted, w.slot
	e.mu.Unlock()
	if adopted {
		return // its request lets go of its guest and its slot
	}
	w.g.Call.Close()
	if slot {
		<-w.slots
	}
}

// serve serves req in w, the instance started ahead that the caller
// adopted, if it is still waiting; it reports false if not, after letting
// go of it: the request then runs in an instance of its own. Cancelling
// ctx cancels the run.
func (w *warmRoute) serve(ctx context.Context, req *hostapi.Request) (RouteResult, bool) {
	w.g.Call.Request = req // read by the guest after Release only
	if !w.hold.Release() {
		w.cancel(errWarmDiscarded)
		<-w.done
		w.g.Call.Close()
		return RouteResult{}, false
	}
	defer context.AfterFunc(ctx, func() { w.cancel(context.Cause(ctx)) })()
	<-w.done
	defer w.g.Call.Close()
	return routeResult(w.route.route, w.g, w.res, w.err), true
}
