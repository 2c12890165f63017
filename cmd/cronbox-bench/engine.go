package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/cputime"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
	"github.com/cronbox/cronbox/web"
)

// mainEngine runs `cronbox-bench engine`.
func mainEngine(args []string) {
	fs := flag.NewFlagSet("engine", flag.ExitOnError)
	tasksFlag := fs.String("tasks", "10000,100000", "comma-separated task counts for the load and memory measurement")
	fireFlag := fs.String("fire", "1000,10000", "comma-separated counts of tasks due in the same second for the lateness measurement")
	runs := fs.Int("runs", 2000, "trivial runs for the throughput measurement, engine and bare runtime each")
	drops := fs.Int("drops", 3, "hot drops of a Go task into a watching engine, each on a fresh engine and runtime")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole benchmark to `FILE`")
	fs.StringVar(&memProfile, "memprofile", "", "write a heap profile, taken after the largest -tasks count has started, to `FILE`")
	_ = fs.Parse(args)
	counts := parseCounts("-tasks", *tasksFlag)
	fires := parseCounts("-fire", *fireFlag)
	if *runs < 1 || *drops < 1 {
		fmt.Fprintln(os.Stderr, "cronbox-bench: -runs and -drops must be positive")
		os.Exit(2)
	}
	stop := startCPUProfile(*profile)
	defer stop()
	if err := benchEngine(context.Background(), os.Stdout, counts, fires, *runs, *drops); err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// startCPUProfile writes a CPU profile of what follows to path, if path is
// not empty, until the returned function is called.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		os.Exit(1)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// parseCounts parses a comma-separated list of positive counts given to
// flag name, or exits.
func parseCounts(name, list string) []int {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "cronbox-bench: bad %s value %q\n", name, s)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	return counts
}

// target is one line of the summary: a measure against its target.
type target struct {
	name     string
	got      string
	want     string
	met      bool
	measured bool
}

func (t target) String() string {
	verdict := "not met"
	switch {
	case !t.measured:
		verdict = "not measured"
	case t.met:
		verdict = "met"
	}
	return fmt.Sprintf("%s %s (target %s: %s)", t.name, t.got, t.want, verdict)
}

func benchEngine(ctx context.Context, w io.Writer, counts, fires []int, runs, drops int) error {
	fmt.Fprintf(w, "Cronbox engine benchmark: %s %s/%s, %d CPUs\n\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU())

	// 1. Load time and memory per task.
	fmt.Fprintln(w, "Scheduled tasks (\"H H * * *\", nothing fires): time to Start (load + schedule), heap per task after GC:")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "tasks\tstart\tCPU time of start\theap total\theap per task\treading the apps alone (YAML, checks; engine.LoadDefinitions)\t")
	var largest, largestHeap uint64
	var largestStart time.Duration
	for _, n := range counts {
		d, cpu, heap, defs, err := benchLoad(ctx, n)
		if err != nil {
			return fmt.Errorf("load %d tasks: %w", n, err)
		}
		cpuText := "unknown"
		if cpu > 0 {
			cpuText = ms(cpu)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f MB\t%.0f B\t%s\t\n", n, ms(d), cpuText, float64(heap)/1e6, float64(heap)/float64(n), ms(defs))
		if uint64(n) >= largest {
			largest, largestHeap, largestStart = uint64(n), heap, d
		}
	}
	tw.Flush()

	var targets []target
	if largest >= 100_000 {
		perLakh := float64(largestHeap) / float64(largest) * 1e5 / 1e6
		targets = append(targets,
			target{name: "heap of 100,000 tasks", got: fmt.Sprintf("%.1f MB", perLakh), want: "≤ 100 MB", met: perLakh <= 100, measured: true},
			target{name: "start of 100,000 tasks", got: ms(largestStart), want: "≤ 2 s", met: largestStart <= 2*time.Second, measured: true})
	}

	// 2. Firing lateness.
	for _, fire := range fires {
		fmt.Fprintf(w, "\nFiring lateness, %d tasks due in the same second (real clock), event arrival - scheduled instant:\n\n", fire)
		floor, err := benchRecordFloor(ctx, fire)
		if err != nil {
			return fmt.Errorf("recording %d runs at once: %w", fire, err)
		}
		batch, err := benchRecordBatch(ctx, fire)
		if err != nil {
			return fmt.Errorf("recording %d runs in one call: %w", fire, err)
		}
		late, err := benchLateness(ctx, fire)
		if err != nil {
			return fmt.Errorf("lateness: %w", err)
		}
		tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "event\tcount\tp50\tp99\tmax\t")
		for _, l := range late {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", l.name, len(l.times), ms(percentile(l.times, 0.5)), ms(percentile(l.times, 0.99)), ms(percentile(l.times, 1)))
		}
		fmt.Fprintf(tw, "baseline: the store alone, %d StartRun at once\t%d\t%s\t%s\t%s\t\n", fire, len(floor), ms(percentile(floor, 0.5)), ms(percentile(floor, 0.99)), ms(percentile(floor, 1)))
		fmt.Fprintf(tw, "baseline: the store alone, %d runs in one RecordRuns\t%d\t%s\t%s\t%s\t\n", fire, fire, ms(batch), ms(batch), ms(batch))
		tw.Flush()
		want := 20 * time.Millisecond
		if fire >= 10_000 {
			want = 100 * time.Millisecond
		}
		p99 := percentile(late[0].times, 0.99)
		targets = append(targets, target{name: fmt.Sprintf("fire lateness p99 of %d", fire), got: ms(p99), want: "≤ " + ms(want), met: p99 <= want, measured: true})
	}

	// 3. Throughput.
	goWasm, err := buildGoTask(ctx)
	if err != nil {
		return err
	}
	conc := 4 * goruntime.GOMAXPROCS(0)
	modules := []struct {
		name string
		wasm []byte
		runs int
	}{{"minimal module", wasmtest.Hello(), runs}, {"Go SDK task", goWasm, max(1, runs/4)}}
	for _, m := range modules {
		fmt.Fprintf(w, "\nThroughput of %s runs, %d runs each, concurrency %d:\n\n", m.name, m.runs, conc)
		eng, bare, err := benchThroughput(ctx, m.wasm, m.runs, conc)
		if err != nil {
			return fmt.Errorf("throughput of %s: %w", m.name, err)
		}
		tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "runner\truns/s\tCPU time per run (process)\t")
		for _, r := range []struct {
			name string
			t    throughput
		}{{"bare runtime (runtime.Run loop)", bare}, {"engine (triggered, history in SQLite on disk)", eng}} {
			cpu := "unknown"
			if r.t.cpuPerRun > 0 {
				cpu = fmt.Sprintf("%.0f µs", float64(r.t.cpuPerRun)/float64(time.Microsecond))
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t\n", r.name, r.t.perSecond, cpu)
		}
		tw.Flush()
		want := 0.5
		if m.name == "Go SDK task" {
			want = 0.9
		}
		ratio := eng.perSecond / bare.perSecond
		targets = append(targets, target{name: "engine/bare of " + m.name, got: fmt.Sprintf("%.2f", ratio), want: fmt.Sprintf("≥ %.1f", want), met: ratio >= want, measured: true})
	}

	// 4. Hot drop.
	fmt.Fprintf(w, "\nHot drop of a %.1f MB Go task (its app folder renamed into apps/ of a watching engine, default WatchConfig, cold compilation cache), %d drops, median:\n\n", float64(len(goWasm))/1e6, drops)
	var drop hotDrop
	var times []hotDrop
	for range drops {
		d, err := benchHotDrop(ctx, goWasm)
		if err != nil {
			return fmt.Errorf("hot drop: %w", err)
		}
		times = append(times, d)
	}
	drop = medianDrop(times)
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "from the rename to\tafter\t")
	fmt.Fprintf(tw, "app loaded (watch settled, module compiled)\t%s\t\n", ms(drop.loaded))
	fmt.Fprintf(tw, "its first run started (triggered when loaded)\t%s\t\n", ms(drop.started))
	fmt.Fprintf(tw, "its first run finished\t%s\t\n", ms(drop.finished))
	fmt.Fprintf(tw, "baseline: bare runtime, cold compile of the module to machine code\t%s\t\n", ms(drop.compile))
	fmt.Fprintf(tw, "baseline: bare runtime, cold compile to machine code and first run\t%s\t\n", ms(drop.bare))
	fmt.Fprintf(tw, "baseline: bare runtime, compile of the module for the interpreter\t%s\t\n", ms(drop.interp))
	tw.Flush()
	targets = append(targets, target{name: "hot drop to first run", got: ms(drop.started), want: "≤ 1 s", met: drop.started <= time.Second, measured: true})

	fmt.Fprintf(w, "\nsummary: %s\n", joinTargets(targets))
	return nil
}

// hotDrop is when a dropped app reached each step, from its rename, and
// what the bare runtime takes for the same module in the same process.
type hotDrop struct {
	loaded, started, finished time.Duration
	compile, bare             time.Duration // natively
	interp                    time.Duration // compile for the interpreter
}

// medianDrop returns the median of each time of ds.
func medianDrop(ds []hotDrop) hotDrop {
	pick := func(f func(hotDrop) time.Duration) time.Duration {
		ts := make([]time.Duration, len(ds))
		for i, d := range ds {
			ts[i] = f(d)
		}
		return percentile(ts, 0.5)
	}
	return hotDrop{
		loaded:   pick(func(d hotDrop) time.Duration { return d.loaded }),
		started:  pick(func(d hotDrop) time.Duration { return d.started }),
		finished: pick(func(d hotDrop) time.Duration { return d.finished }),
		compile:  pick(func(d hotDrop) time.Duration { return d.compile }),
		bare:     pick(func(d hotDrop) time.Duration { return d.bare }),
		interp:   pick(func(d hotDrop) time.Duration { return d.interp }),
	}
}

// benchHotDrop starts a fresh engine watching its apps folder, drops a
// probe app and waits for it to load (so the watch is running), then
// renames an app folder with wasm as its one task into apps/, triggers
// the task when the app has loaded, and times each step from the rename.
// Its baselines compile and run wasm in a fresh bare runtime natively,
// and compile it for the interpreter in another.
func benchHotDrop(ctx context.Context, wasm []byte) (hotDrop, error) {
	var d hotDrop
	it, err := newRuntime(ctx, runtime.TierInterpreter)
	if err != nil {
		return d, err
	}
	start := time.Now()
	_, _, err = it.Load(ctx, wasm)
	d.interp = time.Since(start)
	it.Close(ctx)
	if err != nil {
		return d, err
	}
	rt, err := newRuntime(ctx, runtime.TierNative)
	if err != nil {
		return d, err
	}
	start = time.Now()
	m, _, err := rt.Load(ctx, wasm)
	d.compile = time.Since(start)
	if err == nil {
		call := &hostapi.Call{}
		var res *runtime.Result
		res, err = rt.Run(hostapi.WithCall(ctx, call), m, runtime.Spec{})
		call.Close()
		if err == nil && res.Status != runtime.StatusSucceeded {
			err = fmt.Errorf("run %s: %s", res.Status, res.Error)
		}
	}
	d.bare = time.Since(start)
	rt.Close(ctx)
	if err != nil {
		return d, err
	}

	var home string
	// The runtime's default tiers: what a user's hot drop gets.
	ns, err := newNodes(ctx, 1, sqliteStore, 0, func(_ int, h string) error {
		home = h
		return os.MkdirAll(homedir.Home(h).Apps(), 0o755)
	}, engine.Config{})
	if err != nil {
		return d, err
	}
	defer ns.close(ctx)
	e := ns.engines[0]
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	if err := ns.start(ctx); err != nil {
		return d, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	wg.Go(func() { e.Watch(watchCtx, engine.WatchConfig{}) })

	// drop writes app name with module wasm outside apps/ and renames it in.
	drop := func(name string, wasm []byte) error {
		staging := filepath.Join(home, "staging")
		if err := writeApps(staging, wasm, 1, 1, 1, func(a, i int) string {
			return "  - name: t\n    module: tasks/t.wasm\n"
		}); err != nil {
			return err
		}
		dir := homedir.Home(staging).App("a000")
		manifest := fmt.Sprintf("name: %s\nquotas:\n  concurrency: 1\n", name)
		if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(manifest), 0o644); err != nil {
			return err
		}
		return os.Rename(dir, homedir.Home(home).App(name))
	}
	// A deadline generous enough for a compile on a busy machine.
	const patience = 5 * time.Minute
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	// await waits for the event of app name that match reports.
	await := func(name string, match func(engine.Event) (bool, error)) error {
		for {
			select {
			case ev := <-events:
				if ev.App != name {
					continue
				}
				if ok, err := match(ev); ok || err != nil {
					return err
				}
			case <-timeout.C:
				return fmt.Errorf("app %s: no event within %s", name, patience)
			}
		}
	}
	reloaded := func(ev engine.Event) (bool, error) {
		if ev.Type == engine.EventAppReloaded && ev.Message != "" {
			return false, fmt.Errorf("app %s failed to load: %s", ev.App, ev.Message)
		}
		return ev.Type == engine.EventAppReloaded, nil
	}
	if err := drop("probe", wasmtest.Hello()); err != nil {
		return d, err
	}
	// Watch takes what it first sees as loaded, and it may first look
	// after the probe is there: the probe's app.yaml is rewritten until a
	// reload of the probe shows the watch running.
	nudge := time.NewTicker(2 * time.Second)
	defer nudge.Stop()
	for n, probed := 0, false; !probed; {
		select {
		case ev := <-events:
			if ev.App != "probe" {
				continue
			}
			ok, err := reloaded(ev)
			if err != nil {
				return d, err
			}
			probed = ok
		case <-nudge.C:
			n++
			manifest := fmt.Sprintf("name: probe\ndescription: rewritten %d times\n", n)
			if err := os.WriteFile(filepath.Join(homedir.Home(home).App("probe"), "app.yaml"), []byte(manifest), 0o644); err != nil {
				return d, err
			}
		case <-timeout.C:
			return d, fmt.Errorf("app probe: not loaded within %s", patience)
		}
	}

	start = time.Now()
	if err := drop("dropped", wasm); err != nil {
		return d, err
	}
	if err := await("dropped", reloaded); err != nil {
		return d, err
	}
	d.loaded = time.Since(start)
	if _, err := e.Trigger(ctx, "dropped", "t", nil, "bench"); err != nil {
		return d, err
	}
	err = await("dropped", func(ev engine.Event) (bool, error) {
		switch ev.Type {
		case engine.EventRunStarted:
			d.started = time.Since(start)
		case engine.EventRunFinished:
			d.finished = time.Since(start)
			if ev.Status != store.StatusSucceeded {
				return false, fmt.Errorf("first run of the dropped task %s: %s", ev.Status, ev.Message)
			}
			return true, nil
		}
		return false, nil
	})
	return d, err
}

func joinTargets(ts []target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, "; ")
}

// newRuntime makes a runtime with the cronbox host functions, running
// modules on tier (0: tiered, as Cronbox runs).
func newRuntime(ctx context.Context, tier runtime.Tier) (*runtime.Runtime, error) {
	return runtime.New(ctx, runtime.Config{Tier: tier, HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}}})
}

// awaitNative waits until rt runs every module it holds as machine code.
func awaitNative(ctx context.Context, rt *runtime.Runtime) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for rt.Stats().Interpreted > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// writeApps writes apps apps under home/apps, each with wasm
// as tasks/t.wasm and perApp tasks given by taskYAML(app, i).
func writeApps(home string, wasm []byte, apps, perApp, quota int, taskYAML func(a, i int) string) error {
	for a := range apps {
		dir := homedir.Home(home).App(fmt.Sprintf("a%03d", a))
		for _, d := range []string{"config", "tasks"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		manifest := fmt.Sprintf("name: a%03d\nquotas:\n  concurrency: %d\n", a, quota)
		if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(manifest), 0o644); err != nil {
			return err
		}
		var y strings.Builder
		y.WriteString("tasks:\n")
		for i := range perApp {
			y.WriteString(taskYAML(a, i))
		}
		if err := os.WriteFile(filepath.Join(dir, "config", "tasks.yaml"), []byte(y.String()), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "tasks", "t.wasm"), wasm, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type bundle struct {
	home string
	st   *store.SQLite
	rt   *runtime.Runtime
}

// openBundle opens the store of home and a runtime whose modules run on
// tier (0: the runtime's tiers).
func openBundle(ctx context.Context, home string, tier runtime.Tier) (*bundle, error) {
	st, err := store.Open(ctx, homedir.Home(home).DB(), store.Options{})
	if err != nil {
		return nil, err
	}
	rt, err := newRuntime(ctx, tier)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &bundle{home, st, rt}, nil
}

func (b *bundle) close(ctx context.Context) {
	b.rt.Close(ctx)
	b.st.Close()
}

// memProfile is where benchLoad writes a heap profile of the engine it
// started, if set: the last count's profile is left.
var memProfile string

func heapAfterGC() uint64 {
	var m goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&m)
	return m.HeapAlloc
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchLoad starts an engine on n tasks in 100 apps (fewer when n < 100)
// and returns the time Start took and the CPU time the process used
// meanwhile (0 if unknown: on a shared machine the steadier of the two),
// the heap it keeps, and the time
// reading the same apps takes without an engine (the part of Start that
// decodes and checks the files).
func benchLoad(ctx context.Context, n int) (time.Duration, time.Duration, uint64, time.Duration, error) {
	home, err := os.MkdirTemp("", "cronbox-bench-engine-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(home)
	apps := min(100, n)
	per := n / apps
	n = apps * per
	err = writeApps(home, wasmtest.Hello(), apps, per, 4, func(a, i int) string {
		return fmt.Sprintf("  - name: t%d\n    schedule: \"H H * * *\"\n    module: tasks/t.wasm\n", i)
	})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	b, err := openBundle(ctx, home, 0)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer b.close(ctx)
	before := heapAfterGC()
	e, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(b.st), Runtime: b.rt})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	cpu0, cpuKnown := cputime.Process()
	start := time.Now()
	if err := e.Start(ctx); err != nil {
		return 0, 0, 0, 0, err
	}
	d := time.Since(start)
	var cpu time.Duration
	if cpu1, ok := cputime.Process(); ok && cpuKnown {
		cpu = cpu1 - cpu0
	}
	after := heapAfterGC()
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			e.Stop(ctx)
			return 0, 0, 0, 0, err
		}
	}
	if got := len(e.Tasks()); got != n {
		e.Stop(ctx)
		return 0, 0, 0, 0, fmt.Errorf("engine has %d tasks, want %d", got, n)
	}
	if err := e.Stop(ctx); err != nil {
		return 0, 0, 0, 0, err
	}
	var heap uint64
	if after > before {
		heap = after - before
	}
	start = time.Now()
	defs, err := engine.LoadDefinitions(ctx, home, b.st)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if len(defs.Tasks) != n {
		return 0, 0, 0, 0, fmt.Errorf("read %d tasks, want %d", len(defs.Tasks), n)
	}
	return d, cpu, heap, time.Since(start), nil
}

type lateness struct {
	name  string
	times []time.Duration
}

// benchLateness measures the lateness of fire tasks due in the same
// second on one engine with its history in SQLite.
func benchLateness(ctx context.Context, fire int) ([]lateness, error) {
	return measureLateness(ctx, fire, 1, sqliteStore)
}

// storeOpener opens the store of a node whose home is home, and returns
// it as the engine's and the server's, with the function that closes it.
type storeOpener func(ctx context.Context, home string) (engine.Store, web.Store, func(), error)

// sqliteStore opens the SQLite store of home.
func sqliteStore(ctx context.Context, home string) (engine.Store, web.Store, func(), error) {
	st, err := store.Open(ctx, homedir.Home(home).DB(), store.Options{})
	if err != nil {
		return engine.Store{}, web.Store{}, nil, err
	}
	return engine.SQLiteStore(st), web.SQLiteStore(st), func() { st.Close() }, nil
}

// nodes are engines, each with its home, runtime and store, made by
// newNodes and not yet started.
type nodes struct {
	engines  []*engine.Engine
	runtimes []*runtime.Runtime
	closers  []func()
}

// newNodes makes n engines: each with a home of its own, which write
// fills, a runtime of its own on tier and a store that open opens,
// configured as cfg (Home, Store, Runtime and Node set per node), and the
// server of each, not listening, whose hub records the engine's events as
// serve's does. Measures of running and recording take TierNative, as
// their bare baselines run, not the interpreted first runs of a module
// whose machine code is still compiling; a measure of a hot drop takes
// the default tiers, as Cronbox runs.
func newNodes(ctx context.Context, n int, open storeOpener, tier runtime.Tier, write func(node int, home string) error, cfg engine.Config) (*nodes, error) {
	ns := &nodes{}
	for i := range n {
		home, err := os.MkdirTemp("", "cronbox-bench-engine-")
		if err != nil {
			ns.close(ctx)
			return nil, err
		}
		ns.closers = append(ns.closers, func() { os.RemoveAll(home) })
		if err := write(i, home); err != nil {
			ns.close(ctx)
			return nil, err
		}
		st, wst, closeStore, err := open(ctx, home)
		if err != nil {
			ns.close(ctx)
			return nil, err
		}
		ns.closers = append(ns.closers, closeStore)
		rt, err := newRuntime(ctx, tier)
		if err != nil {
			ns.close(ctx)
			return nil, err
		}
		ns.runtimes = append(ns.runtimes, rt)
		ns.closers = append(ns.closers, func() { rt.Close(ctx) })
		c := cfg
		c.Home, c.Store, c.Runtime, c.Node = home, st, rt, fmt.Sprintf("node%d", i+1)
		e, err := engine.New(c)
		if err != nil {
			ns.close(ctx)
			return nil, err
		}
		ns.engines = append(ns.engines, e)
		srv, err := web.New(web.Config{Engine: e, Store: wst, Runtime: rt})
		if err != nil {
			ns.close(ctx)
			return nil, err
		}
		ns.closers = append(ns.closers, func() { srv.Close() })
	}
	return ns, nil
}

// start starts every engine.
func (ns *nodes) start(ctx context.Context) error {
	for _, e := range ns.engines {
		if err := e.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// close stops the engines and closes what newNodes opened, in reverse.
func (ns *nodes) close(ctx context.Context) {
	for _, e := range ns.engines {
		e.Stop(ctx)
	}
	for i := len(ns.closers) - 1; i >= 0; i-- {
		ns.closers[i]()
	}
}

// measureLateness schedules fire tasks at the same second, a few seconds
// ahead, with a seconds cron field, in 10 apps spread over n nodes, and
// measures when their run.queued and run.started events arrive after that
// instant.
func measureLateness(ctx context.Context, fire, n int, open storeOpener) ([]lateness, error) {
	// Far enough ahead for the engines to start on fire tasks; on a
	// machine too busy for that, twice as far, twice at most.
	lead := 6*time.Second + time.Duration(fire)*500*time.Microsecond
	for try := 1; ; try++ {
		late, err := measureLatenessAhead(ctx, fire, n, open, lead)
		if !errors.Is(err, errLateStart) || try == 3 {
			return late, err
		}
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v; again, %s ahead\n", err, 2*lead)
		lead *= 2
	}
}

// errLateStart is the error of a lateness measurement whose engines
// started after the instant their tasks were due.
var errLateStart = errors.New("the engines started after the tasks were due")

// measureLatenessAhead is measureLateness with the tasks due lead from
// now.
func measureLatenessAhead(ctx context.Context, fire, n int, open storeOpener, lead time.Duration) ([]lateness, error) {
	apps := min(10, fire)
	per := (fire + apps - 1) / apps
	fire = apps * per
	instant := time.Now().Add(lead).Truncate(time.Second)
	sec := instant.Second()
	write := func(node int, home string) error {
		if err := writeApps(home, wasmtest.Hello(), apps, per, per, func(a, i int) string {
			return fmt.Sprintf("  - name: t%d\n    schedule: \"%d * * * * *\"\n    module: tasks/t.wasm\n", i, sec)
		}); err != nil {
			return err
		}
		// The node keeps the apps it is given: a%n == node.
		for a := range apps {
			if a%n != node {
				if err := os.RemoveAll(homedir.Home(home).App(fmt.Sprintf("a%03d", a))); err != nil {
					return err
				}
			}
		}
		return nil
	}
	ns, err := newNodes(ctx, n, open, runtime.TierNative, write, engine.Config{EventBuffer: 4*fire + 256, MaxQueued: per + 1})
	if err != nil {
		return nil, err
	}
	defer ns.close(ctx)
	// The events of every node, in one channel; the forwarders end when
	// done is closed.
	events := make(chan engine.Event, 4*fire)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	for _, e := range ns.engines {
		ch, unsubscribe := e.Subscribe()
		defer unsubscribe()
		wg.Go(func() {
			for ev := range ch {
				select {
				case events <- ev:
				case <-done:
					return
				}
			}
		})
	}
	if err := ns.start(ctx); err != nil {
		return nil, err
	}
	if !time.Now().Before(instant) {
		return nil, fmt.Errorf("%w: they took until %s", errLateStart, time.Now().Format(time.TimeOnly))
	}
	// scheduled is the last instant at second sec at or before t.
	scheduled := func(t time.Time) time.Time {
		s := t.Truncate(time.Minute).Add(time.Duration(sec) * time.Second)
		if s.After(t) {
			s = s.Add(-time.Minute)
		}
		return s
	}
	queued, started := lateness{name: "run.queued (fired)"}, lateness{name: "run.started"}
	stamped := lateness{name: "run.queued, by the event's Time"}
	timeout := time.After(90 * time.Second)
	for len(started.times) < fire {
		select {
		case ev := <-events:
			now := time.Now()
			switch ev.Type {
			case engine.EventRunQueued:
				queued.times = append(queued.times, now.Sub(scheduled(now)))
				stamped.times = append(stamped.times, ev.Time.Sub(scheduled(ev.Time)))
			case engine.EventRunStarted:
				started.times = append(started.times, now.Sub(scheduled(now)))
			case engine.EventRunSkipped:
				return nil, fmt.Errorf("run of %s/%s skipped: %s", ev.App, ev.Task, ev.Message)
			}
		case <-timeout:
			return nil, fmt.Errorf("only %d of %d runs started within 90s", len(started.times), fire)
		}
	}
	for _, e := range ns.engines {
		if err := e.WaitIdle(ctx); err != nil {
			return nil, err
		}
		if d := e.DroppedEvents(); d > 0 {
			return nil, fmt.Errorf("%d events dropped", d)
		}
	}
	return []lateness{queued, started, stamped}, nil
}

// benchRecordFloor records n runs at once, each from a goroutine of its
// own, in a store alone, and returns when each was recorded: the least the
// engine's fire lateness can be.
func benchRecordFloor(ctx context.Context, n int) ([]time.Duration, error) {
	dir, err := os.MkdirTemp("", "cronbox-bench-store-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "cronbox.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	times := make([]time.Duration, n)
	errs := make(chan error, n)
	at := time.Now().Truncate(time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			_, err := st.StartRun(ctx, store.Run{App: fmt.Sprintf("a%03d", i%10), Task: fmt.Sprintf("t%d", i), Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: time.Now()})
			times[i] = time.Since(start)
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return times, nil
}

// benchRecordBatch records n runs in one RecordRuns call, in a store
// alone, and returns how long it took: the least the engine's fire
// lateness can be when it records the fires of an instant together.
func benchRecordBatch(ctx context.Context, n int) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "cronbox-bench-store-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "cronbox.db"), store.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	at := time.Now().Truncate(time.Second)
	runs := make([]store.Run, n)
	for i := range runs {
		runs[i] = store.Run{App: fmt.Sprintf("a%03d", i%10), Task: fmt.Sprintf("t%d", i), Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: time.Now()}
	}
	start := time.Now()
	for _, rec := range st.RecordRuns(ctx, runs) {
		if rec.Err != nil {
			return 0, rec.Err
		}
	}
	return time.Since(start), nil
}

// throughput is what a throughput measurement found of one runner: its
// runs a second (wall clock), and the CPU time of the process per run,
// which the other load of a shared machine disturbs less.
type throughput struct {
	perSecond float64
	cpuPerRun time.Duration // 0: unknown
}

// timed is a measured batch of runs: its wall time and the process's CPU
// time over it.
type timed struct{ wall, cpu time.Duration }

// timeRuns times run, with the process's CPU time if it is known.
func timeRuns(run func() error) (timed, error) {
	cpu0, known := cputime.Process()
	start := time.Now()
	if err := run(); err != nil {
		return timed{}, err
	}
	t := timed{wall: time.Since(start)}
	if cpu1, ok := cputime.Process(); ok && known {
		t.cpu = cpu1 - cpu0
	}
	return t, nil
}

// benchThroughput returns the throughput of the engine (manual triggers,
// every run recorded in the store on disk) and of the bare runtime with the
// same concurrency.
func benchThroughput(ctx context.Context, wasm []byte, runs, conc int) (throughput, throughput, error) {
	ns, err := newNodes(ctx, 1, sqliteStore, runtime.TierNative, throughputApp(wasm, conc, ""), engine.Config{MaxConcurrent: conc, MaxQueued: runs + 100})
	if err != nil {
		return throughput{}, throughput{}, err
	}
	defer ns.close(ctx)
	if err := ns.start(ctx); err != nil {
		return throughput{}, throughput{}, err
	}
	engineRuns := func(n int) (timed, error) {
		return timeRuns(func() error {
			_, err := triggerRuns(ctx, ns.engines, n, conc)
			return err
		})
	}
	rt, err := newRuntime(ctx, runtime.TierNative)
	if err != nil {
		return throughput{}, throughput{}, err
	}
	defer rt.Close(ctx)
	m, _, err := rt.Load(ctx, wasm)
	if err != nil {
		return throughput{}, throughput{}, err
	}
	bareRuns := func(n int) (timed, error) {
		return timeRuns(func() error {
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, conc)
			for range conc {
				wg.Go(func() {
					for next.Add(1) <= int64(n) {
						call := &hostapi.Call{}
						res, err := rt.Run(hostapi.WithCall(ctx, call), m, runtime.Spec{})
						call.Close()
						if err == nil && res.Status != runtime.StatusSucceeded {
							err = fmt.Errorf("run %s: %s", res.Status, res.Error)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			select {
			case err := <-errs:
				return err
			default:
				return nil
			}
		})
	}

	// Warm up both, then interleave two halves each.
	warm := min(100, runs)
	if _, err := bareRuns(warm); err != nil {
		return throughput{}, throughput{}, err
	}
	if _, err := engineRuns(warm); err != nil {
		return throughput{}, throughput{}, err
	}
	// Throughput is that of machine code, which the engine's runtime
	// compiles in the background.
	if err := awaitNative(ctx, ns.runtimes[0]); err != nil {
		return throughput{}, throughput{}, err
	}
	var engT, bareT timed
	half := []int{runs / 2, runs - runs/2}
	for _, h := range half {
		d, err := bareRuns(h)
		if err != nil {
			return throughput{}, throughput{}, err
		}
		bareT.wall, bareT.cpu = bareT.wall+d.wall, bareT.cpu+d.cpu
		d, err = engineRuns(h)
		if err != nil {
			return throughput{}, throughput{}, err
		}
		engT.wall, engT.cpu = engT.wall+d.wall, engT.cpu+d.cpu
	}
	of := func(t timed) throughput {
		return throughput{perSecond: float64(runs) / t.wall.Seconds(), cpuPerRun: t.cpu / time.Duration(runs)}
	}
	return of(engT), of(bareT), nil
}

// throughputApp writes the app of the throughput measurement: one task,
// triggered, any number of its runs at once up to quota, each with a
// memory limit of memory ("" for the default).
func throughputApp(wasm []byte, quota int, memory string) func(int, string) error {
	task := "  - name: t\n    module: tasks/t.wasm\n    concurrency: allow\n"
	if memory != "" {
		task += "    limits: { memory: " + memory + " }\n"
	}
	return func(_ int, home string) error {
		return writeApps(home, wasm, 1, 1, quota, func(a, i int) string { return task })
	}
}

// triggerRuns triggers n runs of a000/t over the engines, from conc
// goroutines an engine (a trigger waits for its run to be recorded, so
// one caller would measure the store's latency), and returns the time
// until every engine is idle again.
func triggerRuns(ctx context.Context, engines []*engine.Engine, n, conc int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc*len(engines))
	start := time.Now()
	for _, e := range engines {
		for range conc {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if _, err := e.Trigger(ctx, "a000", "t", nil, "bench"); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	for _, e := range engines {
		if err := e.WaitIdle(ctx); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
