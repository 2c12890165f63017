// Command cronbox-bench measures Cronbox against baselines measured in the
// same run, on the same machine, and prints the ratios.
//
//	go run ./cmd/cronbox-bench runtime [-runs 300] [-rounds 5] [-loop 100000000] [-loop-rounds 9]
//	go run ./cmd/cronbox-bench engine [-tasks 10000,100000] [-fire 1000,10000] [-runs 2000] [-drops 3]
//	go run ./cmd/cronbox-bench web [-tasks 10000] [-requests 1000] [-clients 200] [-runs 500] [-rate 100]
//	go run ./cmd/cronbox-bench soak [-minutes 10] [-interval 5s] [-conns 5000] [-disk-cap 4GiB] [-keep]
//	go run ./cmd/cronbox-bench cluster [-nodes 1,2,3] [-fire 1000] [-runs 3000] [-postgres URL]
//
// runtime: per-run latency of a fresh instance through Cronbox's runtime,
// against bare wazero with its default configuration and against Node.js's
// built-in WASI, for the trivial task of each SDK (Go, C, Rust,
// AssemblyScript; a language whose toolchain is missing is skipped) with
// its module's size, and a minimal module assembled by hand; and the cost
// of timeout enforcement on a tight loop.
//
// engine: time to start and heap per task with many scheduled tasks, firing
// lateness of tasks due in the same second on the real clock, the
// throughput of trivial runs with history recorded against the bare
// runtime, and the time from dropping a Go task's app folder into a
// watching engine to its first run, against the bare runtime's cold
// compile.
//
// web: API latency over loopback HTTP with many tasks, delivery latency of
// events to many concurrent event streams while runs fire, and the heap.
//
// cluster: nodes sharing one PostgreSQL database (engines in this
// process, each with its own home, runtime and connection pool) against
// one node on SQLite, measured in the same run: trivial runs per second
// with history, the database round trips per run, the lateness of
// tasks due in the same second spread over the nodes, and the time until
// a killed node's run is taken over by another; with its targets, met or
// not.
//
// soak: a real `cronbox serve` runs normal and hostile tasks (log flood,
// memory bomb, HTTP hog, tight loop, file filler) for minutes, with
// thousands of idle connections and an event stream that never reads; its
// memory, descriptors, goroutines and database are sampled, the normal
// runs counted, and a verdict says whether the server stayed flat, within
// its quotas and without failed normal runs (exit status 1 when not).
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/cputime"
	"github.com/cronbox/cronbox/internal/gcfloor"
	"github.com/cronbox/cronbox/internal/gobuild"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

//go:embed node.js
var nodeScript string

func main() {
	// The garbage collector paced as `cronbox serve` paces it; GOGC=100
	// measures without the floor.
	stopGC := gcfloor.Keep(gcfloor.Floor)
	defer stopGC()
	if len(os.Args) >= 2 && os.Args[1] == "engine" {
		mainEngine(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "web" {
		mainWeb(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "cluster" {
		mainCluster(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "soak" {
		mainSoak(os.Args[2:])
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "runtime" {
		fmt.Fprintln(os.Stderr, "usage: cronbox-bench runtime [-runs N] [-rounds R] [-loop N] [-loop-rounds R]")
		fmt.Fprintln(os.Stderr, "       cronbox-bench engine [-tasks 10000,100000] [-fire 1000,10000] [-runs 2000] [-drops 3]")
		fmt.Fprintln(os.Stderr, "       cronbox-bench web [-tasks 10000] [-requests 1000] [-clients 200] [-runs 500] [-rate 100]")
		fmt.Fprintln(os.Stderr, "       cronbox-bench soak [-minutes 10] [-interval 5s] [-conns 5000] [-disk-cap 4GiB] [-keep]")
		fmt.Fprintln(os.Stderr, "       cronbox-bench cluster [-nodes 1,2,3] [-fire 1000] [-runs 3000] [-postgres URL]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("runtime", flag.ExitOnError)
	runs := fs.Int("runs", 300, "measured runs per module and runner")
	rounds := fs.Int("rounds", 5, "rounds the runs are split into, interleaving the runners")
	loop := fs.Int("loop", 100_000_000, "iterations of the tight loop")
	loopRounds := fs.Int("loop-rounds", 9, "interleaved rounds of the tight loop")
	_ = fs.Parse(os.Args[2:])
	if *runs < *rounds || *rounds < 1 || *loop < 1 || *loopRounds < 1 {
		fmt.Fprintln(os.Stderr, "cronbox-bench: -runs must be at least -rounds, and both, -loop and -loop-rounds positive")
		os.Exit(2)
	}
	if err := benchRuntime(context.Background(), os.Stdout, *runs, *rounds, int32(min(*loop, 1<<31-1)), *loopRounds); err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		os.Exit(1)
	}
}

// buildGoTask builds the benchmark's Go SDK task (testdata/trivial) and
// returns its module.
func buildGoTask(ctx context.Context) ([]byte, error) { return buildGoGuest(ctx, "trivial") }

// buildGoGuest builds the Go guest in testdata/dir and returns its module.
func buildGoGuest(ctx context.Context, dir string) ([]byte, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	cache := &gobuild.Cache{Dir: filepath.Join(cacheDir, "cronbox", "bench")}
	goTask, err := cache.Build(ctx, filepath.Join(root, "cmd", "cronbox-bench", "testdata", dir))
	if err != nil {
		return nil, err
	}
	return os.ReadFile(goTask)
}

// sdkTasks are the benchmark's trivial tasks of the other SDKs, in
// testdata.
var sdkTasks = []struct{ name, dir string }{
	{"C SDK task", "trivial-c"},
	{"Rust SDK task", "trivial-rust"},
	{"AssemblyScript SDK task", "trivial-as"},
}

// buildSDKTask builds the trivial task in testdata/dir with package build,
// or says why it cannot.
func buildSDKTask(ctx context.Context, dir string) ([]byte, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	src := filepath.Join(root, "cmd", "cronbox-bench", "testdata", dir)
	lang := build.Detect(src)
	if err := build.Toolchain(lang, src); err != nil {
		return nil, err
	}
	out := filepath.Join(cacheDir, "cronbox", "bench", dir+".wasm")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	t := build.Target{Dir: src, Lang: lang, Out: out}
	if err := build.Build(ctx, t, build.Options{CacheDir: filepath.Join(cacheDir, "cronbox", "bench", "build")}); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// runner runs a module once per call to run.
type runner struct {
	name  string
	setup func(wasm []byte) (run func() error, closeFn func(), err error)
	// batch, if set, replaces run: it measures n runs itself (Node).
	batch func(wasm []byte, n int) ([]time.Duration, error)
	// threadCPU, if set, gets the CPU time of each run's own thread
	// (Result.Usage.CPUTime): a tail that other processes on the machine
	// disturb less than the latency's.
	threadCPU *[]time.Duration
}

func benchRuntime(ctx context.Context, w io.Writer, runs, rounds int, loopN int32, loopRounds int) error {
	goWasm, err := buildGoTask(ctx)
	if err != nil {
		return err
	}
	nodePath, nodeErr := exec.LookPath("node")
	nodeVersion := "absent"
	if nodeErr == nil {
		if out, err := exec.Command(nodePath, "--version").Output(); err == nil {
			nodeVersion = strings.TrimSpace(string(out))
		}
	}
	fmt.Fprintf(w, "Cronbox runtime benchmark: %s %s/%s, %d CPUs, node %s\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU(), nodeVersion)
	fmt.Fprintf(w, "Per-run latency of a fresh instance, %d runs each in %d interleaved rounds (after warm-up):\n\n", runs, rounds)

	runners := []runner{cronboxRunner(ctx), wazeroRunner(ctx)}
	if nodeErr == nil {
		runners = append(runners, nodeRunner(nodePath))
	}
	type module struct {
		name string
		wasm []byte
	}
	modules := []module{{"Go SDK task", goWasm}}
	var skipped []string
	for _, st := range sdkTasks {
		wasm, err := buildSDKTask(ctx, st.dir)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: skipped: %v", st.name, err))
			continue
		}
		modules = append(modules, module{st.name, wasm})
	}
	modules = append(modules, module{"minimal by hand", wasmtest.Hello()})

	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "module\tsize\trunner\tmedian\tp99\tprocess CPU per run\trun's thread CPU p50/p99\t")
	medians := map[string]map[string]time.Duration{}
	cpus := map[string]map[string]time.Duration{}
	var targets []target
	for _, m := range modules {
		times, cpu, err := measure(runners, m.wasm, runs, rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		medians[m.name] = map[string]time.Duration{}
		cpus[m.name] = cpu
		for _, r := range runners {
			med, p99 := percentile(times[r.name], 0.5), percentile(times[r.name], 0.99)
			medians[m.name][r.name] = med
			cpuCol := "—"
			if c, ok := cpu[r.name]; ok {
				cpuCol = ms(c)
			}
			threadCol := "—"
			if r.threadCPU != nil && len(*r.threadCPU) >= runs {
				own := (*r.threadCPU)[len(*r.threadCPU)-runs:] // after the warm-up
				if p99 := percentile(own, 0.99); p99 > 0 {
					threadCol = ms(percentile(own, 0.5)) + " / " + ms(p99)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.name, bytesize.Format(int64(len(m.wasm))), r.name, ms(med), ms(p99), cpuCol, threadCol)
			if r.name != "cronbox" {
				continue
			}
			switch m.name {
			case "Go SDK task":
				targets = append(targets,
					target{name: "Go SDK task p50", got: ms(med), want: "≤ 0.5 ms", met: med <= 500*time.Microsecond, measured: true},
					target{name: "Go SDK task p99", got: ms(p99), want: "≤ 1.5 ms", met: p99 <= 1500*time.Microsecond, measured: true})
			case "minimal by hand":
				targets = append(targets, target{name: "minimal module p50", got: ms(med), want: "≤ 0.005 ms", met: med <= 5*time.Microsecond, measured: true})
			}
		}
	}
	if nodeErr != nil {
		fmt.Fprintln(tw, "(node)\t\t\tskipped: node is not on PATH\t\t")
	}
	tw.Flush()
	for _, s := range skipped {
		fmt.Fprintln(w, s)
	}

	fmt.Fprintf(w, "\nTimeout enforcement on a tight loop of %d iterations (%s, medians of %d interleaved rounds):\n\n", loopN, cpuClock, loopRounds)
	loop, err := benchLoop(ctx, loopN, loopRounds)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "enforcement\tper 1M iterations\tslowdown\t")
	for _, l := range loop {
		fmt.Fprintf(tw, "%s\t%s\t%.2fx\t\n", l.name, ms(l.perOp), l.ratio)
	}
	tw.Flush()
	slowdown := loop[1].ratio
	targets = append(targets, target{name: "timeout enforcement", got: fmt.Sprintf("%.2fx", slowdown), want: "≤ 1.10x", met: slowdown <= 1.10, measured: true})

	g := medians["Go SDK task"]
	fmt.Fprintf(w, "\nspeedup (Go SDK task, median per run): %.2fx vs bare wazero", float64(g["wazero (default)"])/float64(g["cronbox"]))
	if gc := cpus["Go SDK task"]; gc["cronbox"] > 0 {
		fmt.Fprintf(w, " (CPU per run: %.2fx)", float64(gc["wazero (default)"])/float64(gc["cronbox"]))
	}
	if nodeErr == nil {
		fmt.Fprintf(w, ", %.2fx vs node", float64(g["node (WASI)"])/float64(g["cronbox"]))
	} else {
		fmt.Fprint(w, ", node skipped (not on PATH)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "summary: %s\n", joinTargets(targets))
	return nil
}

// measure runs every runner on wasm, interleaved in rounds. It returns
// the latency of each run and, for runners that run in this process, the
// CPU time the process spent per run (processCPU, where it is known): the
// garbage collector's and background work's share counts too.
func measure(runners []runner, wasm []byte, runs, rounds int) (map[string][]time.Duration, map[string]time.Duration, error) {
	times := map[string][]time.Duration{}
	cpu := map[string]time.Duration{}
	type live struct {
		run     func() error
		closeFn func()
	}
	lives := map[string]live{}
	defer func() {
		for _, l := range lives {
			l.closeFn()
		}
	}()
	for _, r := range runners {
		if r.setup == nil {
			continue
		}
		run, closeFn, err := r.setup(wasm)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.name, err)
		}
		lives[r.name] = live{run, closeFn}
		for range 20 { // warm-up: caches, pools, the Go heap
			if err := run(); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.name, err)
			}
		}
	}
	per := runs / rounds
	for range rounds {
		for _, r := range runners {
			if r.batch != nil {
				ts, err := r.batch(wasm, per)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", r.name, err)
				}
				times[r.name] = append(times[r.name], ts...)
				continue
			}
			run := lives[r.name].run
			cpu0, cpuKnown := cputime.Process()
			for range per {
				start := time.Now()
				if err := run(); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", r.name, err)
				}
				times[r.name] = append(times[r.name], time.Since(start))
			}
			if cpu1, ok := cputime.Process(); ok && cpuKnown {
				cpu[r.name] += cpu1 - cpu0
			}
		}
	}
	for name := range cpu {
		cpu[name] /= time.Duration(per * rounds)
	}
	return times, cpu, nil
}

// cronboxRunner runs through Cronbox's runtime, as the engine does.
func cronboxRunner(ctx context.Context) runner {
	threadCPU := &[]time.Duration{}
	return runner{name: "cronbox", threadCPU: threadCPU, setup: func(wasm []byte) (func() error, func(), error) {
		*threadCPU = (*threadCPU)[:0]
		rt, err := newRuntime(ctx, runtime.TierNative) // runs as machine code, as wazero's runner's do
		if err != nil {
			return nil, nil, err
		}
		m, _, err := rt.Load(ctx, wasm)
		if err != nil {
			rt.Close(ctx)
			return nil, nil, err
		}
		run := func() error {
			call := &hostapi.Call{}
			defer call.Close()
			res, err := rt.Run(hostapi.WithCall(ctx, call), m, runtime.Spec{})
			if err != nil {
				return err
			}
			if res.Status != runtime.StatusSucceeded {
				return fmt.Errorf("run %s: %s", res.Status, res.Error)
			}
			*threadCPU = append(*threadCPU, res.Usage.CPUTime)
			return nil
		}
		return run, func() { rt.Close(ctx) }, nil
	}}
}

// wazeroRunner instantiates the module with wazero's default configuration.
func wazeroRunner(ctx context.Context) runner {
	return runner{name: "wazero (default)", setup: func(wasm []byte) (func() error, func(), error) {
		r := wazero.NewRuntime(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, r)
		if err := hostapi.Instantiate(ctx, r); err != nil {
			r.Close(ctx)
			return nil, nil, err
		}
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			r.Close(ctx)
			return nil, nil, err
		}
		run := func() error {
			call := &hostapi.Call{}
			defer call.Close()
			mod, err := r.InstantiateModule(hostapi.WithCall(ctx, call), compiled, wazero.NewModuleConfig().WithName("").WithArgs("task"))
			if err != nil {
				return err
			}
			return mod.Close(ctx)
		}
		return run, func() { r.Close(ctx) }, nil
	}}
}

// nodeRunner runs the module in Node's WASI, timed inside Node.
func nodeRunner(node string) runner {
	return runner{name: "node (WASI)", batch: func(wasm []byte, n int) ([]time.Duration, error) {
		dir, err := os.MkdirTemp("", "cronbox-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		script, mod, out := filepath.Join(dir, "node.js"), filepath.Join(dir, "m.wasm"), filepath.Join(dir, "out.json")
		if err := os.WriteFile(script, []byte(nodeScript), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(mod, wasm, 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(node, "--no-warnings", script, mod, fmt.Sprint(n), "20", out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("node: %v: %s", err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		var msTimes []float64
		if err := json.Unmarshal(b, &msTimes); err != nil {
			return nil, err
		}
		ts := make([]time.Duration, len(msTimes))
		for i, v := range msTimes {
			ts[i] = time.Duration(v * float64(time.Millisecond))
		}
		return ts, nil
	}}
}

type loopResult struct {
	name  string
	perOp time.Duration // median time of one iteration, × loopScale
	ratio float64       // median over rounds of perOp against the first's in the same round
}

// loopScale is how many iterations loopResult.perOp is the time of.
const loopScale = 1_000_000

// benchLoop times a tight loop of n iterations without enforcement (bare
// wazero) and with Cronbox's enforcement, and a loop of n/20 with wazero's
// WithCloseOnContextDone (18 times slower), in rounds that alternate
// which goes first. Each is timed by the CPU time of its thread, which
// other processes on the machine do not inflate; each round's slowdowns are
// against the bare loop of that round, and the medians are reported.
func benchLoop(ctx context.Context, n int32, rounds int) ([]loopResult, error) {
	bare := func(wasm []byte, closeOnDone bool) (func() error, func(), error) {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			r.Close(ctx)
			return nil, nil, err
		}
		return func() error {
			ctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				return err
			}
			return mod.Close(ctx)
		}, func() { r.Close(ctx) }, nil
	}
	slowN := max(n/20, 1)
	cb := cronboxRunner(ctx)
	setups := []struct {
		name  string
		iters int32
		setup func() (func() error, func(), error)
	}{
		{"none (bare wazero)", n, func() (func() error, func(), error) { return bare(wasmtest.Loop(n), false) }},
		{"cronbox (instrumented loops)", n, func() (func() error, func(), error) { return cb.setup(wasmtest.Loop(n)) }},
		{"wazero WithCloseOnContextDone", slowN, func() (func() error, func(), error) { return bare(wasmtest.Loop(slowN), true) }},
	}
	runs := make([]func() error, len(setups))
	for i, s := range setups {
		run, closeFn, err := s.setup()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		defer closeFn()
		runs[i] = run
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	perOp := make([][]time.Duration, len(setups))
	ratios := make([][]float64, len(setups))
	for round := range rounds + 1 { // round 0 warms up
		t := make([]time.Duration, len(setups))
		for k := range setups {
			i := k
			if round%2 == 1 {
				i = (len(setups) - 1 - k) % len(setups)
			}
			start := threadClock()
			if err := runs[i](); err != nil {
				return nil, fmt.Errorf("%s: %w", setups[i].name, err)
			}
			t[i] = (threadClock() - start) * loopScale / time.Duration(setups[i].iters)
		}
		if round == 0 {
			continue
		}
		for i := range setups {
			perOp[i] = append(perOp[i], t[i])
			ratios[i] = append(ratios[i], float64(t[i])/float64(t[0]))
		}
	}
	out := make([]loopResult, len(setups))
	for i, s := range setups {
		slices.Sort(ratios[i])
		out[i] = loopResult{s.name, percentile(perOp[i], 0.5), ratios[i][len(ratios[i])/2]}
	}
	return out, nil
}

func percentile(ts []time.Duration, p float64) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// repoRoot finds the Cronbox repository from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/cronbox/cronbox\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run cronbox-bench inside the Cronbox repository (no go.mod of github.com/cronbox/cronbox at or above %s)", dir)
		}
	}
}
