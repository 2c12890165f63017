package web

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/runtime"
)

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	s := f.openStream(t, "viewer", 0)
	greet := f.trigger("hello", "greet", "")
	s.until(finished(greet))
	job := f.trigger("other", "job", "")
	s.until(finished(job))
	// A scheduled fire: greet runs every 5 minutes (H/5), so within 5
	// minutes of simulated time it fires once.
	f.clock.Advance(5 * time.Minute)
	f.idle()
	s.until(func(ev sse) bool {
		return ev.event == "run.finished" && ev.data.Task == "greet" && ev.data.Run != greet
	})

	resp := f.send(req{method: "GET", path: "/metrics", token: "viewer"})
	if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s", resp.status, resp.header.Get("Content-Type"))
	}
	body := string(resp.body)
	for _, want := range []string{
		`cronbox_runs_total{app="hello",task="greet",status="succeeded"} 2`,
		`cronbox_runs_total{app="other",task="job",status="succeeded"} 1`,
		`cronbox_run_duration_seconds_count{app="hello",task="greet"} 2`,
		`cronbox_run_duration_seconds_bucket{app="hello",task="greet",le="+Inf"} 2`,
		`cronbox_scheduler_lateness_seconds_count 1`,
		`cronbox_tasks{app="hello",state="enabled"} 3`,
		"# TYPE cronbox_runs_running gauge",
		"# TYPE cronbox_instances_live gauge",
		"# TYPE cronbox_instance_memory_bytes gauge",
		"cronbox_modules_compiled ",
		`cronbox_module_loads_total{result="compiled"} `,
		`cronbox_module_loads_total{result="hit"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// Every sample line is well-formed.
	sample := regexp.MustCompile(`^[a-z_]+(\{([a-z]+="[^"]*",?)*\})? [0-9.e+Inf-]+$`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "#") && !sample.MatchString(line) {
			t.Errorf("malformed line %q", line)
		}
	}

	scoped := string(f.send(req{method: "GET", path: "/metrics", token: "scoped"}).body)
	if strings.Contains(scoped, `app="other"`) || strings.Contains(scoped, "cronbox_modules_compiled ") || strings.Contains(scoped, "cronbox_scheduler_lateness_seconds_count") {
		t.Errorf("scoped metrics show other apps or process-wide series:\n%s", scoped)
	}
	if !strings.Contains(scoped, `cronbox_runs_total{app="hello",task="greet",status="succeeded"} 2`) {
		t.Errorf("scoped metrics lack the token's app:\n%s", scoped)
	}
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/metrics"}, status: 401},
		{name: "revoked token", req: req{method: "GET", path: "/metrics", token: "revoked"}, status: 401},
	})
}

func TestMetricsOpen(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MetricsOpen = true })
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/metrics"}, status: 200, contains: []string{"# TYPE cronbox_runs_total counter"}},
	})
}

func TestHistogramBuckets(t *testing.T) {
	h := newHistogram([]float64{1, 2})
	for _, v := range []float64{0.5, 1, 1.5, 3} {
		h.observe(v)
	}
	var b strings.Builder
	pw := promWriter{w: bufioWriter(&b)}
	pw.histogram("x", []string{"a", `q"\` + "\n"}, h)
	pw.w.Flush()
	want := `x_bucket{a="q\"\\\n",le="1"} 2
x_bucket{a="q\"\\\n",le="2"} 3
x_bucket{a="q\"\\\n",le="+Inf"} 4
x_sum{a="q\"\\\n"} 6
x_count{a="q\"\\\n"} 4
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestMetricsProcess checks the process-wide gauges: the goroutines, and
// the open descriptors where /proc lists them, which a descriptor opened
// meanwhile raises; a token scoped to some apps sees neither.
func TestMetricsProcess(t *testing.T) {
	f := newFixture(t)
	gauge := func(body, name string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		return v, err == nil
	}
	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	if !strings.Contains(body, "# TYPE go_goroutines gauge\n") {
		t.Errorf("metrics lack the type of go_goroutines:\n%s", body)
	}
	if n, ok := gauge(body, "go_goroutines"); !ok || n < 1 {
		t.Errorf("go_goroutines = %v (found %v), want at least 1", n, ok)
	}
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		before, ok := gauge(body, "process_open_fds")
		if !ok || before < 1 {
			t.Fatalf("process_open_fds = %v (found %v), want at least 1:\n%s", before, ok, body)
		}
		var held []*os.File
		for range 20 {
			fh, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, fh)
		}
		after, _ := gauge(string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body), "process_open_fds")
		for _, fh := range held {
			fh.Close()
		}
		// Other goroutines of the test may open and close a few.
		if after < before+15 {
			t.Errorf("process_open_fds went from %v to %v with 20 more files open", before, after)
		}
	}
	scoped := string(f.send(req{method: "GET", path: "/metrics", token: "scoped"}).body)
	if strings.Contains(scoped, "go_goroutines") || strings.Contains(scoped, "process_open_fds") {
		t.Errorf("scoped metrics show process-wide gauges:\n%s", scoped)
	}
}

// TestLatenessFromStartEvent checks that a run's lateness is read from its
// start event alone: the hub reads nothing from the store or the engine
// for it, and a run over before its start event is seen still counts.
func TestLatenessFromStartEvent(t *testing.T) {
	// An engine that knows no run: nothing is read from it but the module.
	eng, err := engine.New(engine.Config{Store: engine.SQLiteStore(&store.SQLite{}), Runtime: &runtime.Runtime{}})
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	m.observe(eng, engine.Event{Type: engine.EventRunStarted, RunID: 1, Time: at.Add(3 * time.Second), Trigger: store.TriggerSchedule, Scheduled: at})
	m.observe(eng, engine.Event{Type: engine.EventRunStarted, RunID: 2, Time: at.Add(time.Hour), Trigger: store.TriggerManual})
	var n uint64
	for _, c := range m.lateness.counts {
		n += c
	}
	if n != 1 || m.lateness.sum != 3 {
		t.Errorf("lateness: %d runs, %vs in all; want the scheduled run's 3s alone", n, m.lateness.sum)
	}
}

// TestMetricsCountCatchUpSkips checks that the missed fire times the
// engine records as skipped when it starts count in cronbox_runs_total.
func TestMetricsCountCatchUpSkips(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		// greet last fired an hour before the engine starts: the fire
		// times since are missed, and its misfire policy skips them.
		st := c.Store.Runs.(*store.SQLite)
		last := t0.Add(-time.Hour)
		if _, err := st.RecordSkipped(context.Background(), store.Run{App: "hello", Task: "greet", Trigger: store.TriggerSchedule,
			StartTime: last, ScheduledTime: last, Reason: "earlier"}); err != nil {
			t.Fatal(err)
		}
	})
	caughtUp, err := f.st.ListRuns(context.Background(), store.RunFilter{Apps: []string{"hello"}, Task: "greet", Statuses: []store.Status{store.StatusSkipped}})
	if err != nil || len(caughtUp) != 2 || caughtUp[0].Trigger != store.TriggerCatchUp {
		t.Fatalf("skipped runs of greet: %+v, %v; want the catch-up's and the earlier one", caughtUp, err)
	}
	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	if want := `cronbox_runs_total{app="hello",task="greet",status="skipped"} 1`; !strings.Contains(body, want) {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
}
