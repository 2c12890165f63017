package web

import (
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
)

// routeJSON is a route of an app with its counts.
type routeJSON struct {
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	URL      string   `json:"url"`
	Roles    []string `json:"roles"`
	Requests int64    `json:"requests"`
	Errors   int64    `json:"errors"`
	// MeanMs is the mean latency of the requests served; P99Ms the
	// upper bound of the latency bucket that holds the 99th percentile.
	MeanMs float64 `json:"meanMs"`
	P99Ms  float64 `json:"p99Ms"`
}

type failedRequestJSON struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	Error      string    `json:"error"`
	DurationMs int64     `json:"durationMs"`
	Logs       []string  `json:"logs"`
}

type appRoutesJSON struct {
	// Page is the path of the app's page, or null without public/.
	Page   *string             `json:"page"`
	Routes []routeJSON         `json:"routes"`
	Failed []failedRequestJSON `json:"failed"`
}

// appPage returns the path of the page of the app in dir, or nil when it
// has no public/index.html.
func appPage(appName, dir string) *string {
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(filepath.Join(dir, "public", "index.html")); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	p := appPrefix(appName)
	return &p
}

// listAppRoutes serves GET /api/v1/apps/{app}/routes.
func (s *Server) listAppRoutes(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "app")
	info, ok := s.eng.App(name)
	if !ok || !principalFrom(r.Context()).sees(name) {
		return notFound("app")
	}
	stats, failed := s.eng.Routes(name)
	out := appRoutesJSON{Page: appPage(name, info.Dir), Routes: make([]routeJSON, 0, len(stats)), Failed: make([]failedRequestJSON, 0, len(failed))}
	for _, st := range stats {
		rj := routeJSON{Method: st.Route.Method, Path: st.Route.Path, URL: "/apps/" + name + st.Route.Path, Roles: st.Route.Roles, Requests: st.Requests, Errors: st.Errors}
		if st.Requests > 0 {
			rj.MeanMs = float64(st.Total.Microseconds()) / 1000 / float64(st.Requests)
			rj.P99Ms = p99(st)
		}
		out.Routes = append(out.Routes, rj)
	}
	for _, f := range failed {
		logs := f.Logs
		if logs == nil {
			logs = []string{}
		}
		out.Failed = append(out.Failed, failedRequestJSON{Time: f.Time.UTC(), Method: f.Method, Path: f.Path, Status: f.Status, Error: f.Error, DurationMs: f.Duration.Milliseconds(), Logs: logs})
	}
	return writeJSON(w, http.StatusOK, out)
}

// p99 is the upper bound, in milliseconds, of the bucket of st that holds
// the 99th percentile of its latencies; past the last bound, that bound.
func p99(st engine.RouteStats) float64 {
	want := (st.Requests*99 + 99) / 100
	var cum int64
	for i, n := range st.Buckets {
		cum += n
		if cum >= want {
			i = min(i, len(engine.RouteBuckets)-1)
			return float64(engine.RouteBuckets[i].Microseconds()) / 1000
		}
	}
	return float64(engine.RouteBuckets[len(engine.RouteBuckets)-1].Microseconds()) / 1000
}

// writeRouteMetrics writes the per-route series of the apps p sees.
func (s *Server) writeRouteMetrics(pw promWriter, sees func(string) bool) {
	bounds := make([]float64, len(engine.RouteBuckets))
	for i, b := range engine.RouteBuckets {
		bounds[i] = b.Seconds()
	}
	type series struct {
		labels []string
		st     engine.RouteStats
	}
	var all []series
	for _, info := range s.eng.Apps() {
		if !sees(info.Name) {
			continue
		}
		stats, _ := s.eng.Routes(info.Name)
		for _, st := range stats {
			all = append(all, series{[]string{"app", info.Name, "method", st.Route.Method, "path", st.Route.Path}, st})
		}
	}
	pw.header("cronbox_route_requests_total", "counter", "Requests an app's routes served since the server started, by app, method and path.")
	for _, x := range all {
		pw.sample("cronbox_route_requests_total", x.labels, float64(x.st.Requests))
	}
	pw.header("cronbox_route_errors_total", "counter", "Requests an app's routes answered with a 5xx (a failed handler, a time limit).")
	for _, x := range all {
		pw.sample("cronbox_route_errors_total", x.labels, float64(x.st.Errors))
	}
	pw.header("cronbox_route_duration_seconds", "histogram", "Wall time of the requests an app's routes served.")
	for _, x := range all {
		h := &histogram{bounds: bounds, counts: make([]uint64, len(x.st.Buckets)), sum: x.st.Total.Seconds()}
		for i, n := range x.st.Buckets {
			h.counts[i] = uint64(n)
		}
		pw.histogram("cronbox_route_duration_seconds", x.labels, h)
	}
}
