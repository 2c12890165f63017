package web

import (
	"regexp"
	"strings"
	"testing"
	"time"
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
