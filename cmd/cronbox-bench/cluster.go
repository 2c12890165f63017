package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
	"github.com/cronbox/cronbox/web"
)

// mainCluster runs `cronbox-bench cluster`.
func mainCluster(args []string) {
	fs := flag.NewFlagSet("cluster", flag.ExitOnError)
	nodesFlag := fs.String("nodes", "1,2,3", "comma-separated node counts to measure on PostgreSQL")
	fire := fs.Int("fire", 1000, "tasks due in the same second for the lateness measurement")
	runs := fs.Int("runs", 3000, "minimal runs for the throughput measurement (the Go SDK task runs a quarter of them)")
	server := fs.String("postgres", pgtest.ServerURL(), "PostgreSQL server `URL`, as a user who may create databases (default $CRONBOX_TEST_POSTGRES or the local server); the benchmark's database is created on it and dropped after")
	_ = fs.Parse(args)
	var counts []int
	for _, s := range strings.Split(*nodesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 16 {
			fmt.Fprintf(os.Stderr, "cronbox-bench: bad -nodes value %q: node counts are 1 to 16\n", s)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if *fire < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "cronbox-bench: -fire and -runs must be positive")
		os.Exit(2)
	}
	if err := benchCluster(context.Background(), os.Stdout, *server, counts, *fire, *runs); err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		os.Exit(1)
	}
}

// clusterRow is what the cluster benchmark measured of one store and
// node count.
type clusterRow struct {
	store      string
	nodes      int
	minimal    float64 // runs/s
	goSDK      float64 // runs/s
	roundTrips float64 // per run; 0 for SQLite
	late       []lateness
}

// benchCluster measures nodes sharing one PostgreSQL database against one
// node on SQLite, measured in the same run. The nodes are engines in this
// process, each with its own home, runtime and connection pool, and the
// web server's hub that records its events: what a node sends to the
// database is what a serve process sends, without HTTP requests, which a
// cluster does not change. Real processes would add nothing to measure
// but their start, and would share the 2 cores with the benchmark.
func benchCluster(ctx context.Context, w io.Writer, server string, counts []int, fire, runs int) error {
	dbURL, drop, err := pgtest.Create(ctx, server, "cronbox_bench_")
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer func() {
		if err := drop(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		}
	}()
	// The schema first, so that the database can be emptied between
	// measurements.
	st, err := postgres.Open(ctx, dbURL, postgres.Options{})
	if err != nil {
		return err
	}
	st.Close()
	version := "?"
	if conn, err := pgx.Connect(ctx, dbURL); err == nil {
		_ = conn.QueryRow(ctx, `SHOW server_version`).Scan(&version)
		conn.Close(ctx)
	}
	fmt.Fprintf(w, "Cronbox cluster benchmark: %s %s/%s, %d CPUs, PostgreSQL %s (a database made for this run, dropped after)\n",
		goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU(), version)
	fmt.Fprintln(w, "Nodes are engines in this process, each with its own home, runtime, connection pool and server event hub, sharing the database;")
	fmt.Fprintln(w, "the baseline is one engine on SQLite. Node n runs the apps a%N == n of the lateness test; every node triggers runs of the same task.")
	fmt.Fprintln(w)

	goWasm, err := buildGoTask(ctx)
	if err != nil {
		return err
	}
	// A trigger returns once its run is recorded, a commit away (some
	// 20 ms on a disk that syncs): 4 callers a CPU, as the engine's
	// benchmark has, kept fewer runs in flight than a commit carries,
	// and measured that latency. The callers are as many as a node runs
	// at once, so that the nodes run as many as they can carry.
	conc := 64 * goruntime.GOMAXPROCS(0)
	trips := &postgres.RoundTrips{}
	pgStore := func(ctx context.Context, home string) (engine.Store, web.Store, func(), error) {
		st, err := postgres.Open(ctx, dbURL, postgres.Options{Tracer: trips})
		if err != nil {
			return engine.Store{}, web.Store{}, nil, err
		}
		return engine.StoreOf(st), web.StoreOf(st), func() { st.Close() }, nil
	}
	emptyDB := func() error {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `TRUNCATE TaskExecutions, run_logs, run_usage, app_usage, history_usage, events, TaskConfigurations`)
		return err
	}

	type config struct {
		name  string
		nodes int
		open  storeOpener
		trips *postgres.RoundTrips
	}
	configs := []config{{"SQLite (baseline)", 1, sqliteStore, nil}}
	for _, n := range counts {
		configs = append(configs, config{"PostgreSQL", n, pgStore, trips})
	}
	var rows []clusterRow
	for _, c := range configs {
		fmt.Fprintf(os.Stderr, "measuring %s, %d node(s)…\n", c.name, c.nodes)
		row := clusterRow{store: c.name, nodes: c.nodes}
		var err error
		if c.trips != nil {
			err = emptyDB()
		}
		if err == nil {
			row.minimal, row.roundTrips, err = clusterThroughput(ctx, c.nodes, c.open, c.trips, wasmtest.Hello(), minimalMemory, runs, conc)
		}
		if err == nil {
			row.goSDK, _, err = clusterThroughput(ctx, c.nodes, c.open, nil, goWasm, "", max(1, runs/4), conc)
		}
		if err == nil && c.trips != nil {
			err = emptyDB()
		}
		if err == nil {
			row.late, err = measureLateness(ctx, fire, c.nodes, c.open)
		}
		if err != nil {
			return fmt.Errorf("%s, %d node(s): %w", c.name, c.nodes, err)
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(os.Stderr, "measuring the takeover of a killed node…")
	takeover, err := measureTakeover(ctx, dbURL)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Trivial runs with history, triggered from %d callers a node, each node running as many at once; %d minimal runs (memory limit %s), %d of the Go SDK task:\n\n",
		conc, runs, minimalMemory, max(1, runs/4))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "store\tnodes\tminimal runs/s\tvs baseline\tGo SDK runs/s\tvs baseline\tround trips/run\t")
	base := rows[0]
	for _, r := range rows {
		rt := "-"
		if r.roundTrips > 0 {
			rt = fmt.Sprintf("%.2f", r.roundTrips)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2fx\t%.0f\t%.2fx\t%s\t\n", r.store, r.nodes, r.minimal, r.minimal/base.minimal, r.goSDK, r.goSDK/base.goSDK, rt)
	}
	tw.Flush()
	fmt.Fprintln(w, "(round trips: what the engine and the server's event hub send, counted by a pgx tracer over the measured runs, warm-up excluded)")

	fmt.Fprintf(w, "\nLateness of %d tasks due in the same second, spread over the nodes (event arrival - scheduled instant):\n\n", fire)
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "store\tnodes\tfired p50\tfired p99\tstarted p50\tstarted p99\t")
	for _, r := range rows {
		q, s := r.late[0].times, r.late[1].times
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", r.store, r.nodes, ms(percentile(q, 0.5)), ms(percentile(q, 0.99)), ms(percentile(s, 0.5)), ms(percentile(s, 0.99)))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nTakeover of a killed node, with the cluster's default lease, heartbeat and grace: %s from the instant every connection of the node closed\n",
		takeover.Round(time.Millisecond))
	fmt.Fprintln(w, "(two nodes of this process; the killed one reached the database through a switch that closed all its connections and refused new ones, as a SIGKILL does; the time runs until the other node started the retry of the killed node's run)")

	fmt.Fprintln(w, "\nTargets:")
	var three *clusterRow
	for i := range rows {
		if rows[i].store == "PostgreSQL" && rows[i].nodes == 3 {
			three = &rows[i]
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	if three == nil {
		fmt.Fprintln(w, "  lateness p99 < 100 ms, 1,000 fires on 3 nodes: not measured (-nodes lacks 3)")
		fmt.Fprintln(w, "  >= 3,000 minimal runs/s with 3 nodes: not measured (-nodes lacks 3)")
	} else {
		p99 := percentile(three.late[0].times, 0.99)
		fmt.Fprintf(w, "  lateness p99 < 100 ms, %d fires on 3 nodes: %s (fired; started %s): %s\n", fire, ms(p99), ms(percentile(three.late[1].times, 0.99)), verdict(p99 < 100*time.Millisecond && fire >= 1000))
		fmt.Fprintf(w, "  >= 3,000 minimal runs/s with 3 nodes: %.0f runs/s: %s\n", three.minimal, verdict(three.minimal >= 3000))
	}
	worst := 0.0
	for _, r := range rows {
		worst = max(worst, r.roundTrips)
	}
	if worst > 0 {
		fmt.Fprintf(w, "  <= 3 round trips per run: %.2f at worst: %s\n", worst, verdict(worst <= 3))
	}
	fmt.Fprintf(w, "  takeover < 15 s: %s: %s\n", takeover.Round(time.Millisecond), verdict(takeover < 15*time.Second))
	return nil
}

// minimalMemory is the memory limit of the minimal task, which needs far
// less: with the default limit (64 MiB), the app's default
// memory quota (1 GiB, over the cluster) would run 16 of its runs at
// once, whatever the nodes and their callers.
const minimalMemory = "4MiB"

// clusterThroughput triggers runs of a trivial task, each with a memory
// limit of memory ("" for the default), over n nodes from conc callers a
// node, after a warm-up, and returns the runs per second and, if trips
// counts the stores' round trips, the round trips per measured run. Each
// node runs conc at once, and the app's quotas.concurrency, which holds
// over the cluster, lets every node do so.
func clusterThroughput(ctx context.Context, n int, open storeOpener, trips *postgres.RoundTrips, wasm []byte, memory string, runs, conc int) (float64, float64, error) {
	quota := min(n*conc, app.MaxConcurrency)
	ns, err := newNodes(ctx, n, open, runtime.TierNative, throughputApp(wasm, quota, memory), engine.Config{MaxConcurrent: conc, MaxQueued: runs + 100})
	if err != nil {
		return 0, 0, err
	}
	defer ns.close(ctx)
	if err := ns.start(ctx); err != nil {
		return 0, 0, err
	}
	if _, err := triggerRuns(ctx, ns.engines, min(100, runs), conc); err != nil {
		return 0, 0, err
	}
	var before int64
	if trips != nil {
		before = trips.Load()
	}
	d, err := triggerRuns(ctx, ns.engines, runs, conc)
	if err != nil {
		return 0, 0, err
	}
	var perRun float64
	if trips != nil {
		perRun = float64(trips.Load()-before) / float64(runs)
	}
	return float64(runs) / d.Seconds(), perRun, nil
}
