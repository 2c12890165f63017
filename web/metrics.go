package web

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// durationBuckets are the upper bounds of cronbox_run_duration_seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}

// latenessBuckets are the upper bounds of cronbox_scheduler_lateness_seconds.
var latenessBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10, 60}

// histogram is a Prometheus histogram: counts per bucket, not cumulative.
type histogram struct {
	bounds []float64
	counts []uint64 // len(bounds)+1, the last for +Inf
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	h.sum += v
}

type taskKey struct{ app, task string }

// moduleApp is a module (the runtime's hash) and an app that runs it.
type moduleApp struct{ module, app string }

// metrics counts what the hub sees of the engine's events. The runs that
// ended are counted by the engine (Engine.RunCounts), which a node of a
// cluster reports to the others.
type metrics struct {
	mu sync.Mutex
	// moduleRuns counts the runs started of each module by app: a token
	// scoped to some apps sees only its apps' runs of a shared module.
	moduleRuns map[moduleApp]int64
	durations  map[taskKey]*histogram
	started    map[int64]time.Time // runs started and not finished
	lateness   *histogram
}

func newMetrics() *metrics {
	return &metrics{
		moduleRuns: map[moduleApp]int64{}, durations: map[taskKey]*histogram{},
		started: map[int64]time.Time{}, lateness: newHistogram(latenessBuckets),
	}
}

// observe counts one event. A run's duration is the time between its
// started and finished events; the lateness of a run fired by the
// schedule is how long after its scheduled time it started (took its slot).
func (m *metrics) observe(eng *engine.Engine, ev engine.Event) {
	switch ev.Type {
	case engine.EventRunStarted:
		late := -1.0
		if ev.Trigger == store.TriggerSchedule && !ev.Scheduled.IsZero() {
			late = max(ev.Time.Sub(ev.Scheduled).Seconds(), 0)
		}
		module := runModule(eng, ev)
		m.mu.Lock()
		m.started[ev.RunID] = ev.Time
		if module != "" {
			m.moduleRuns[moduleApp{module, ev.App}]++
		}
		if late >= 0 {
			m.lateness.observe(late)
		}
		m.mu.Unlock()
	case engine.EventRunFinished, engine.EventRunSkipped:
		k := taskKey{ev.App, ev.Task}
		m.mu.Lock()
		if start, ok := m.started[ev.RunID]; ok {
			delete(m.started, ev.RunID)
			h := m.durations[k]
			if h == nil {
				h = newHistogram(durationBuckets)
				m.durations[k] = h
			}
			h.observe(max(ev.Time.Sub(start).Seconds(), 0))
		}
		m.mu.Unlock()
	}
}

// runModule returns the module a started run uses: from the engine while
// the run executes, else its task's module (the same unless the app was
// reloaded with another module in between); "" if neither is known.
func runModule(eng *engine.Engine, ev engine.Event) string {
	if d, ok := eng.Run(ev.RunID); ok && d.Module != "" {
		return d.Module
	}
	if ti, ok := eng.Task(ev.App, ev.Task); ok {
		return ti.Module
	}
	return ""
}

// moduleRunsOf returns how many runs of module the apps sees allows have
// started.
func (m *metrics) moduleRunsOf(module string, sees func(app string) bool) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, c := range m.moduleRuns {
		if k.module == module && sees(k.app) {
			n += c
		}
	}
	return n
}

// openFDs counts the process's open descriptors where /proc lists them.
func openFDs() (int, bool) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, false
	}
	return len(names) - 1, true // without d itself
}

// promWriter writes the Prometheus text format.
type promWriter struct {
	w *bufio.Writer
}

func (pw promWriter) header(name, typ, help string) {
	fmt.Fprintf(pw.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (pw promWriter) sample(name string, labels []string, v float64) {
	pw.w.WriteString(name)
	if len(labels) > 0 {
		pw.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				pw.w.WriteByte(',')
			}
			fmt.Fprintf(pw.w, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
		}
		pw.w.WriteByte('}')
	}
	pw.w.WriteByte(' ')
	pw.w.WriteString(formatFloat(v))
	pw.w.WriteByte('\n')
}

func (pw promWriter) histogram(name string, labels []string, h *histogram) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		pw.sample(name+"_bucket", append(slices.Clip(labels), "le", formatFloat(b)), float64(cum))
	}
	cum += h.counts[len(h.bounds)]
	pw.sample(name+"_bucket", append(slices.Clip(labels), "le", "+Inf"), float64(cum))
	pw.sample(name+"_sum", labels, h.sum)
	pw.sample(name+"_count", labels, float64(cum))
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// serveMetrics writes the metrics the principal may see: a token scoped to
// some apps gets only the series of those apps, and none of the
// process-wide ones.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	sees := func(app string) bool { return p == nil || p.sees(app) }
	global := p == nil || p.apps == nil
	totals, err := s.st.Usage.UsageTotals(r.Context())
	if err != nil {
		return err
	}

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	pw := promWriter{w: bw}
	m := s.metrics

	s.writeRunCounts(r.Context(), pw, sees)
	m.mu.Lock()
	durKeys := make([]taskKey, 0, len(m.durations))
	for k := range m.durations {
		if sees(k.app) {
			durKeys = append(durKeys, k)
		}
	}
	slices.SortFunc(durKeys, func(a, b taskKey) int { return strings.Compare(a.app+"/"+a.task, b.app+"/"+b.task) })
	pw.header("cronbox_run_duration_seconds", "histogram", "Wall time of the runs that started and ended since the server started.")
	for _, k := range durKeys {
		pw.histogram("cronbox_run_duration_seconds", []string{"app", k.app, "task", k.task}, m.durations[k])
	}
	if global {
		pw.header("cronbox_scheduler_lateness_seconds", "histogram", "How long after its scheduled time a run fired by the schedule took its slot.")
		pw.histogram("cronbox_scheduler_lateness_seconds", nil, m.lateness)
	}
	m.mu.Unlock()

	running := map[string]int{}
	for _, ri := range s.eng.Running() {
		running[ri.App]++
	}
	queued, enabled, disabled := map[string]int{}, map[string]int{}, map[string]int{}
	for _, ti := range s.eng.Tasks() {
		queued[ti.Task.App] += ti.Queued
		if ti.Task.Enabled {
			enabled[ti.Task.App]++
		} else {
			disabled[ti.Task.App]++
		}
	}
	live, memory := map[string]int{}, map[string]int64{}
	for _, in := range s.instances() {
		live[in.App]++
		memory[in.App] += in.Memory
	}
	perApp := func(name, help string, vals func(app string) float64, apps ...map[string]int) {
		set := map[string]bool{}
		for _, m := range apps {
			for a := range m {
				set[a] = true
			}
		}
		names := make([]string, 0, len(set))
		for a := range set {
			if sees(a) {
				names = append(names, a)
			}
		}
		slices.Sort(names)
		pw.header(name, "gauge", help)
		for _, a := range names {
			pw.sample(name, []string{"app", a}, vals(a))
		}
	}
	perApp("cronbox_runs_running", "Runs executing now.", func(a string) float64 { return float64(running[a]) }, running)
	perApp("cronbox_runs_queued", "Runs waiting for a slot.", func(a string) float64 { return float64(queued[a]) }, queued)
	perApp("cronbox_instances_live", "Live sandbox instances.", func(a string) float64 { return float64(live[a]) }, live)
	perApp("cronbox_instance_memory_bytes", "Linear memory of the live instances, summed.", func(a string) float64 { return float64(memory[a]) }, live)
	pw.header("cronbox_tasks", "gauge", "Tasks, by app and whether they are enabled.")
	apps := map[string]bool{}
	for a := range enabled {
		apps[a] = true
	}
	for a := range disabled {
		apps[a] = true
	}
	names := make([]string, 0, len(apps))
	for a := range apps {
		if sees(a) {
			names = append(names, a)
		}
	}
	slices.Sort(names)
	for _, a := range names {
		pw.sample("cronbox_tasks", []string{"app", a, "state", "enabled"}, float64(enabled[a]))
		pw.sample("cronbox_tasks", []string{"app", a, "state", "disabled"}, float64(disabled[a]))
	}
	writeUsageMetrics(pw, totals, sees)
	s.writeRouteMetrics(pw, sees)
	if global {
		stats := s.cfg.Runtime.Stats()
		pw.header("cronbox_modules_compiled", "gauge", "Compiled modules the runtime holds.")
		pw.sample("cronbox_modules_compiled", nil, float64(stats.Modules))
		pw.header("cronbox_module_loads_total", "counter", "Module loads: compiled, or found compiled already (a cache hit).")
		pw.sample("cronbox_module_loads_total", []string{"result", "compiled"}, float64(stats.Compiles))
		pw.sample("cronbox_module_loads_total", []string{"result", "hit"}, float64(stats.Hits))
		pw.header("cronbox_memory_pool_idle", "gauge", "Guest memory mappings kept for reuse.")
		pw.sample("cronbox_memory_pool_idle", nil, float64(stats.IdleMemories))
		pw.header("cronbox_events_dropped_total", "counter", "Engine events that slow subscribers missed.")
		pw.sample("cronbox_events_dropped_total", nil, float64(s.eng.DroppedEvents()))
		s.writeNodeMetrics(r.Context(), pw)
		pw.header("go_goroutines", "gauge", "Number of goroutines that currently exist.")
		pw.sample("go_goroutines", nil, float64(goruntime.NumGoroutine()))
		if n, ok := openFDs(); ok {
			pw.header("process_open_fds", "gauge", "Number of open file descriptors.")
			pw.sample("process_open_fds", nil, float64(n))
		}
	}
	return bw.Flush()
}
