package web

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A finished run's JSON carries its usage, the apps listing sums it per
// app over the last day and in total, and /metrics counts it per app.
func TestUsage(t *testing.T) {
	f := newFixture(t)
	echo := f.trigger("hello", "echo", `{"n":42}`)
	f.idle()

	run := f.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", echo), token: "viewer"}).json(t)
	u, ok := run["usage"].(map[string]any)
	if !ok {
		t.Fatalf("run without usage: %v", run)
	}
	logs := run["logs"].([]any)
	logged := len(logs[0].(map[string]any)["message"].(string)) + len("halfway") // its log line and progress message
	want := map[string]float64{
		"outputBytes":       float64(len("greeting: hi\n")),
		"logBytes":          float64(logged),
		"kvWrittenBytes":    float64(len("last") + len(`{"n":42}`)),
		"httpSentBytes":     0,
		"httpReceivedBytes": 0,
		"filesWrittenBytes": 0,
	}
	for k, w := range want {
		if u[k] != w {
			t.Errorf("usage.%s = %v; want %v", k, u[k], w)
		}
	}
	if peak, _ := u["peakMemory"].(float64); peak <= 0 || peak != run["peakMemory"] {
		t.Errorf("usage.peakMemory %v, run peakMemory %v", u["peakMemory"], run["peakMemory"])
	}
	if cpu, _ := u["cpuSeconds"].(float64); cpu <= 0 {
		t.Errorf("usage.cpuSeconds %v; want some", u["cpuSeconds"])
	}

	// A second run; a day later both fall out of the last day.
	f.trigger("hello", "echo", `{"n":42}`)
	f.idle()
	apps := f.send(req{method: "GET", path: "/api/v1/apps", token: "viewer"}).json(t)["apps"].([]any)
	hello := apps[0].(map[string]any)["usage"].(map[string]any)
	day, total := hello["last24h"].(map[string]any), hello["total"].(map[string]any)
	if day["runs"] != 2.0 || total["runs"] != 2.0 || total["kvWrittenBytes"] != 24.0 || day["kvWrittenBytes"] != 24.0 {
		t.Fatalf("hello's usage %v; want 2 runs and 24 KV bytes, in the day and in total", hello)
	}
	body := string(f.send(req{method: "GET", path: "/metrics", token: "viewer"}).body)
	for _, line := range []string{
		"# TYPE cronbox_usage_cpu_seconds_total counter",
		`cronbox_usage_kv_written_bytes_total{app="hello"} 24`,
		fmt.Sprintf(`cronbox_usage_log_bytes_total{app="hello"} %d`, 2*logged),
		`cronbox_usage_output_bytes_total{app="hello"} 26`,
		`cronbox_usage_http_bytes_total{app="hello",direction="sent"} 0`,
		`cronbox_usage_http_bytes_total{app="hello",direction="received"} 0`,
		`cronbox_usage_files_written_bytes_total{app="hello"} 0`,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if !strings.Contains(body, `cronbox_usage_runs_total{app="hello"} `) {
		t.Errorf("metrics lack the runs counter:\n%s", body)
	}
	scoped := string(f.send(req{method: "GET", path: "/metrics", token: "scoped"}).body)
	if strings.Contains(scoped, `cronbox_usage_runs_total{app="other"}`) {
		t.Errorf("scoped metrics show another app's usage")
	}
	f.clock.Advance(25 * time.Hour)
	f.idle()
	apps = f.send(req{method: "GET", path: "/api/v1/apps", token: "viewer"}).json(t)["apps"].([]any)
	hello = apps[0].(map[string]any)["usage"].(map[string]any)
	// Scheduled runs of greet may have run meanwhile; they store nothing.
	if day, total := hello["last24h"].(map[string]any), hello["total"].(map[string]any); day["kvWrittenBytes"] != 0.0 || total["kvWrittenBytes"] != 24.0 {
		t.Fatalf("a day later, hello's usage %v; want the echo runs out of the last day, not out of the total", hello)
	}

}
