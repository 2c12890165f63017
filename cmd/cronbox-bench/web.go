package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
	"github.com/cronbox/cronbox/web"
)

// mainWeb runs `cronbox-bench web`.
func mainWeb(args []string) {
	fs := flag.NewFlagSet("web", flag.ExitOnError)
	tasks := fs.Int("tasks", 10_000, "tasks the server holds")
	requests := fs.Int("requests", 1000, "measured requests per API call")
	clients := fs.Int("clients", 200, "concurrent event-stream clients")
	runs := fs.Int("runs", 500, "runs triggered while the streams are open")
	rate := fs.Int("rate", 100, "runs triggered per second")
	routeWarm := fs.Duration("route-warm", 0, "the engine's RouteWarm: 0 its default; negative: routes start no instance ahead (the cold baseline)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole benchmark to `FILE`")
	_ = fs.Parse(args)
	if *tasks < 100 || *requests < 10 || *clients < 1 || *runs < 1 || *rate < 1 {
		fmt.Fprintln(os.Stderr, "cronbox-bench: -tasks must be at least 100, -requests 10, -clients, -runs and -rate positive")
		os.Exit(2)
	}
	stop := startCPUProfile(*profile)
	defer stop()
	if err := benchWeb(context.Background(), os.Stdout, *tasks, *requests, *clients, *runs, *rate, *routeWarm); err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// webBench is a running server over an engine with many tasks.
type webBench struct {
	*bundle
	eng    *engine.Engine
	srv    *web.Server
	http   *http.Server
	base   string
	token  string
	client *http.Client
	apps   int
	per    int
	// routeWarm is the engine's Config.RouteWarm.
	routeWarm time.Duration
}

func startWebBench(ctx context.Context, tasks int, routeWarm time.Duration) (*webBench, error) {
	home, err := os.MkdirTemp("", "cronbox-bench-web-")
	if err != nil {
		return nil, err
	}
	apps := 100
	per := tasks / apps
	// Once a year on January 1st: real schedules to describe, none firing.
	err = writeApps(home, wasmtest.Hello(), apps, per, 8, func(a, i int) string {
		return fmt.Sprintf("  - name: t%d\n    description: task %d of app %d\n    schedule: \"H H 1 1 *\"\n    module: tasks/t.wasm\n    concurrency: allow\n    tags: [bench]\n", i, i, a)
	})
	if err != nil {
		os.RemoveAll(home)
		return nil, err
	}
	// Machine code from the start: the benchmark measures serving, not
	// the interpreter's first runs of a module just loaded.
	b, err := openBundle(ctx, home, runtime.TierNative)
	if err != nil {
		os.RemoveAll(home)
		return nil, err
	}
	w := &webBench{bundle: b, apps: apps, per: per, routeWarm: routeWarm}
	if w.eng, err = engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(b.st), Runtime: b.rt, EventBuffer: 65536, RouteWarm: routeWarm}); err != nil {
		w.close(ctx)
		return nil, err
	}
	if w.srv, err = web.New(web.Config{Engine: w.eng, Store: web.SQLiteStore(b.st), Runtime: b.rt, StreamBuffer: 65536}); err != nil {
		w.close(ctx)
		return nil, err
	}
	if err := w.eng.Start(ctx); err != nil {
		w.close(ctx)
		return nil, err
	}
	w.token = web.NewToken()
	if _, err := b.st.CreateToken(ctx, store.Token{Name: "bench", Hash: store.HashToken(w.token), Role: web.RoleAdmin}); err != nil {
		w.close(ctx)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.close(ctx)
		return nil, err
	}
	w.base = "http://" + ln.Addr().String()
	w.http = &http.Server{Handler: withNative(w.srv.Handler())}
	w.http.RegisterOnShutdown(w.srv.CloseStreams)
	go w.http.Serve(ln)
	w.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	return w, nil
}

func (w *webBench) close(ctx context.Context) {
	if w.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w.http.Shutdown(sctx)
		cancel()
	}
	if w.eng != nil {
		w.eng.Stop(ctx)
	}
	if w.srv != nil {
		w.srv.Close()
	}
	home := w.home
	w.bundle.close(ctx)
	os.RemoveAll(home)
}

func (w *webBench) get(path string) error {
	req, err := http.NewRequest("GET", w.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// latencies measures n sequential requests of path, after a warm-up.
func (w *webBench) latencies(path string, n int) ([]time.Duration, error) {
	for range min(n, 50) {
		if err := w.get(path); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := w.get(path); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func benchWeb(ctx context.Context, out io.Writer, tasks, requests, clients, runs, rate int, routeWarm time.Duration) error {
	fmt.Fprintf(out, "Cronbox web benchmark: %s %s/%s, %d CPUs\n\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU())
	before := heapAfterGC()
	w, err := startWebBench(ctx, tasks, routeWarm)
	if err != nil {
		return err
	}
	defer w.close(ctx)
	tasks = w.apps * w.per
	idle := heapAfterGC()

	fmt.Fprintf(out, "API latency over loopback HTTP, %d tasks, %d sequential requests each (a tenth for limit=1000; admin token, keep-alive):\n\n", tasks, requests)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "request\tp50\tp99\tmax\t")
	var tasksP99 time.Duration
	for _, path := range []string{
		"/api/v1/tasks",
		"/api/v1/tasks?limit=1000",
		"/api/v1/tasks?q=task+7+of&limit=10",
		"/api/v1/tasks/a042/t7",
		"/api/v1/summary",
		"/api/v1/runs",
	} {
		n := requests
		if strings.Contains(path, "limit=1000") {
			n = requests / 10
		}
		lat, err := w.latencies(path, n)
		if err != nil {
			return err
		}
		if path == "/api/v1/tasks" {
			tasksP99 = percentile(lat, 0.99)
		}
		fmt.Fprintf(tw, "GET %s\t%s\t%s\t%s\t\n", path, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)))
	}
	tw.Flush()

	fmt.Fprintf(out, "\nEvent streams: %d clients on /api/v1/events while %d runs are triggered, %d a second; delivery = arrival at the client - the event's time:\n\n", clients, runs, rate)
	lat, delivered, err := w.streams(ctx, clients, runs, rate)
	if err != nil {
		return err
	}
	streaming := heapAfterGC()
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "events delivered\tp50\tp99\tmax\t")
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\n", delivered, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)))
	tw.Flush()

	routeP99, err := w.benchRoutes(ctx, out, requests)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\nHeap after GC: %.1f MB with %d tasks (engine + server), %.1f MB with %d streams open after %d runs\n",
		mb(idle-min(before, idle)), tasks, mb(streaming-min(before, streaming)), clients, runs)
	fmt.Fprintf(out, "\nsummary: %s; event delivery p99 %s to %d streams\n", joinTargets([]target{
		{name: fmt.Sprintf("GET /tasks p99 over %d tasks", tasks), got: ms(tasksP99), want: "≤ 5 ms", met: tasksP99 <= 5*time.Millisecond, measured: true},
		{name: "trivial route p99 at 1 client", got: ms(routeP99), want: "≤ 2 ms", met: routeP99 <= 2*time.Millisecond, measured: true},
	}), ms(percentile(lat, 0.99)), clients)
	return nil
}

func mb(b uint64) float64 { return float64(b) / 1e6 }

// streams opens clients event streams, triggers runs and returns the
// delivery latency of every run event that reached every client.
func (w *webBench) streams(ctx context.Context, clients, runs, rate int) ([]time.Duration, int, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		lat       []time.Duration
		connected sync.WaitGroup
		finished  sync.WaitGroup
		errs      = make(chan error, clients)
	)
	connected.Add(clients)
	finished.Add(clients)
	for range clients {
		go func() {
			defer finished.Done()
			once := sync.OnceFunc(connected.Done)
			defer once()
			req, _ := http.NewRequestWithContext(sctx, "GET", w.base+"/api/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+w.token)
			resp, err := w.client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("events: %s", resp.Status)
				return
			}
			once()
			sc := bufio.NewScanner(resp.Body)
			var mine []time.Duration
			done := 0
			for done < runs && sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				var ev struct {
					Type string    `json:"type"`
					Time time.Time `json:"time"`
				}
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Since(ev.Time))
				if ev.Type == "run.finished" {
					done++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
			if done < runs {
				errs <- fmt.Errorf("a stream ended after %d of %d runs: %v", done, runs, sc.Err())
			}
		}()
	}
	connected.Wait()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range runs {
		<-tick.C
		a, t := i%w.apps, (i/w.apps)%w.per
		if _, err := w.eng.Trigger(ctx, fmt.Sprintf("a%03d", a), fmt.Sprintf("t%d", t), nil, "bench"); err != nil {
			return nil, 0, err
		}
	}
	wait := make(chan struct{})
	go func() { finished.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-time.After(2 * time.Minute):
		cancel()
		<-wait
		return nil, 0, errors.New("the streams did not get every run's end within 2 minutes")
	}
	select {
	case err := <-errs:
		return nil, 0, err
	default:
	}
	return lat, len(lat), nil
}
