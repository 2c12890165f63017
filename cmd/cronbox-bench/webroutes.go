package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/internal/cputime"
)

// nativePath is the path of the native Go handler the route is measured
// against, served by the same http.Server.
const nativePath = "/bench-native"

// withNative serves nativePath with a trivial native handler, the rest
// with h.
func withNative(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == nativePath {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "ok")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// routeLoad is what clients concurrent clients measured of n requests.
type routeLoad struct {
	perSec   float64
	p50, p99 time.Duration
	// cpu is the process's CPU time per request, client and server
	// together, or 0 where it is not known.
	cpu time.Duration
	// sleeps is how often the process's threads went to sleep per
	// request (cputime.Sleeps), or -1 where it is not known: the
	// hand-offs between threads a request costs, which the machine's
	// load disturbs less than the latency.
	sleeps float64
	// gcs is how many garbage collections ended per 1,000 requests.
	gcs float64
}

// load sends n GETs of path from clients concurrent clients, after a
// warm-up, and measures each.
func (w *webBench) load(path string, clients, n int) (routeLoad, error) {
	get := func() (time.Duration, error) {
		start := time.Now()
		resp, err := w.client.Get(w.base + path)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return time.Since(start), nil
	}
	for range min(n, 50) {
		if _, err := get(); err != nil {
			return routeLoad{}, err
		}
	}
	lat := make([]time.Duration, n)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	cpu0, cpuKnown := cputime.Process()
	sleeps0, sleepsKnown := cputime.Sleeps()
	gcs0 := gcCycles()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += clients {
				d, err := get()
				if err != nil {
					errs[c] = err
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var cpu time.Duration
	if cpu1, ok := cputime.Process(); ok && cpuKnown {
		cpu = (cpu1 - cpu0) / time.Duration(n)
	}
	gcs := float64(gcCycles()-gcs0) * 1000 / float64(n)
	sleeps := -1.0
	if sleeps1, ok := cputime.Sleeps(); ok && sleepsKnown {
		sleeps = float64(sleeps1-sleeps0) / float64(n)
	}
	for _, err := range errs {
		if err != nil {
			return routeLoad{}, err
		}
	}
	return routeLoad{perSec: float64(n) / took.Seconds(), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpu: cpu, sleeps: sleeps, gcs: gcs}, nil
}

// benchRoutes measures a trivial Go handler route of an app against the
// native handler, with 1 and 32 clients, and returns the route's p99 at
// one client.
func (w *webBench) benchRoutes(ctx context.Context, out io.Writer, requests int) (time.Duration, error) {
	wasm, err := buildGoGuest(ctx, "route")
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(w.home, "apps", "bench-routes")
	if err := os.MkdirAll(filepath.Join(dir, "routes"), 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "routes", "trivial.wasm"), wasm, 0o644); err != nil {
		return 0, err
	}
	manifest := "name: bench-routes\nquotas: {concurrency: 64}\nroutes:\n  - {path: /trivial, module: routes/trivial.wasm, roles: [public]}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(manifest), 0o644); err != nil {
		return 0, err
	}
	if err := w.eng.ReloadApp(ctx, "bench-routes"); err != nil {
		return 0, err
	}

	route := "route, warm"
	if w.routeWarm < 0 {
		route = "route, cold"
	}
	fmt.Fprintf(out, "\nApp route: a trivial Go handler (a fresh sandbox per request; warm: started ahead of its request, cold: started by it, -route-warm -1ns) against a native Go handler on the same server, %d requests each:\n\n", requests)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "handler\tclients\treq/s\tp50\tp99\tCPU per request\tthread sleeps per request\tGCs per 1,000\t")
	var p99 time.Duration
	for _, clients := range []int{1, 32} {
		for _, h := range []struct{ name, path string }{{route, "/apps/bench-routes/trivial"}, {"native Go", nativePath}} {
			l, err := w.load(h.path, clients, requests)
			if err != nil {
				return 0, err
			}
			if clients == 1 && h.path != nativePath {
				p99 = l.p99
			}
			cpu := "—"
			if l.cpu > 0 {
				cpu = ms(l.cpu)
			}
			sleeps := "—"
			if l.sleeps >= 0 {
				sleeps = fmt.Sprintf("%.1f", l.sleeps)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.1f\t\n", h.name, clients, l.perSec, ms(l.p50), ms(l.p99), cpu, sleeps, l.gcs)
		}
	}
	tw.Flush()
	return p99, nil
}

// gcCycles returns how many garbage collections the process has done.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
