package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/notify"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/gcfloor"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/internal/storeurl"
	"github.com/cronbox/cronbox/runtime"
	"github.com/cronbox/cronbox/web"
	"github.com/cronbox/cronbox/web/ui"
)

func runServe(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "serve")
	home := fs.String("home", ".", "the Cronbox home: apps under `DIR`/apps, data under DIR/data")
	storeURL := storeFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "the `ADDR`ess the HTTP server listens on")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	metricsOpen := fs.Bool("metrics-open", false, "serve /metrics without a token")
	maxConns := fs.Int("max-conns", 0, "the most HTTP connections held at once; more wait (default: half the open-file limit, at most 16384)")
	readTimeout := fs.Duration("read-timeout", defaultReadTimeout, "the longest a client may take to send a request, body included")
	idleTimeout := fs.Duration("idle-timeout", defaultIdleTimeout, "how long an idle kept-alive connection stays open")
	configFile := fs.String("config", "", "the server's configuration `FILE` (YAML; its notify: section configures notifications)")
	publicURL := fs.String("public-url", "", "the `URL` people reach the UI at, for links in notifications (default: notify.publicURL of --config, else http://ADDR of --listen)")
	auditRetention := fs.Duration("audit-retention", engine.DefaultAuditRetention, "how long audit log entries are kept (pruned at start and hourly)")
	nodeName := fs.String("node", "", "the node's `NAME` in a cluster, recorded with each run it starts; on a SQLite store it only labels runs (default $"+nodeEnv+", else the host name)")
	leaseTTL := fs.Duration("lease-ttl", 10*time.Second, "how long a node's lease in a cluster lasts: a lost node's work is taken over within about 1.4 times it; it heartbeats every fifth of it")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 0 {
		fmt.Fprintln(e.stderr, "cronbox serve: takes no arguments; run `cronbox help serve`")
		return exitUsage
	}
	if *auditRetention <= 0 {
		fmt.Fprintln(e.stderr, "cronbox serve: --audit-retention must be positive")
		return exitUsage
	}
	node, err := nodeOf(*nodeName, *leaseTTL)
	if err != nil {
		fmt.Fprintln(e.stderr, "cronbox serve:", err)
		return exitUsage
	}
	if *readTimeout <= 0 || *idleTimeout <= 0 {
		fmt.Fprintln(e.stderr, "cronbox serve: --read-timeout and --idle-timeout must be positive")
		return exitUsage
	}
	// The engine needs descriptors for runs, mounts and the store: the
	// soft limit is raised to the hard one, and the connections may take
	// half of it at most by default.
	nofile := raiseFileLimit()
	conns, err := connLimit(*maxConns, nofile)
	if err != nil {
		fmt.Fprintln(e.stderr, "cronbox serve:", err)
		return exitUsage
	}
	lim := httpLimits{MaxConns: conns, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: *readTimeout, IdleTimeout: *idleTimeout}
	var log *slog.Logger
	switch *logFormat {
	case "text":
		log = slog.New(slog.NewTextHandler(e.stderr, nil))
	case "json":
		log = slog.New(slog.NewJSONHandler(e.stderr, nil))
	default:
		fmt.Fprintf(e.stderr, "cronbox serve: --log-format %q: want text or json\n", *logFormat)
		return exitUsage
	}
	notifyCfg := notify.Server{}
	if *configFile != "" {
		if notifyCfg, err = notify.LoadServer(*configFile); err != nil {
			fmt.Fprintln(e.stderr, "cronbox serve: --config:", err)
			return exitUsage
		}
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fmt.Fprintf(e.stderr, "cronbox serve: --public-url %q: want an http or https URL\n", *publicURL)
			return exitUsage
		}
		notifyCfg.PublicURL = strings.TrimSuffix(*publicURL, "/")
	}
	if err := serve(ctx, e, log, *home, *storeURL, *listen, *metricsOpen, lim, notifyCfg, *auditRetention, node); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// serve runs the engine and the HTTP server until ctx is done.
func serve(ctx context.Context, e *env, log *slog.Logger, home, storeURL, listen string, metricsOpen bool, lim httpLimits, notifyCfg notify.Server, auditRetention time.Duration, node serveNode) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer ln.Close() // when serve fails before the server takes it over
	// Each run leaves garbage of a fixed size: a small heap would be
	// collected every hundred runs or so (see package gcfloor).
	defer gcfloor.Keep(gcfloor.Floor)()
	buildApps(ctx, log, home)

	st, err := openStore(ctx, home, withAppName(storeURL, node.Name))
	if err != nil {
		return err
	}
	defer st.Close()
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: homedir.Home(home).Cache(), HostModules: []runtime.HostModule{hostModule()}})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	// A deep event buffer (about 2 MB for each subscriber) lets the web
	// server's event recorder ride out bursts of runs without missing any.
	box := secrets.OpenLazily(homedir.Home(home), st) // the key is made when a secret is first set or used
	eng, err := engine.New(engine.Config{Home: home, Store: engine.StoreOf(st), Runtime: rt, Logger: log, EventBuffer: 1 << 14,
		Secrets: box, AuditRetention: auditRetention, Node: node.Name, Cluster: node.cluster(st, ln.Addr().String())})
	if err != nil {
		return err
	}
	// A cluster's apps are installed before the engine starts, and kept
	// in step until it stops.
	stopAppSync, err := startAppSync(ctx, log, home, node.Name, st, eng)
	if err != nil {
		return err
	}
	defer stopAppSync()
	if err := firstToken(ctx, log, st); err != nil {
		return err
	}
	// The web server records the engine's events: it is made before the engine starts, to see
	// every event, and closed after the engine stops, so that the runs the
	// stop interrupts are recorded too.
	homeApps := lifecycle.Home{Dir: home, Store: st, CacheDir: homedir.Home(home).Cache()}
	ws, err := web.New(web.Config{
		Engine: eng, Store: web.StoreOf(st), Runtime: rt, Logger: log, MetricsOpen: metricsOpen, UI: ui.Handler(),
		Apps:      homeApps,
		Lifecycle: appLifecycle(homeApps, st, node.Name),
		Secrets:   box,
		TempDir:   webTempDir(log, home),
		Cluster:   clusterOf(st, node.Name, ln.Addr().String()),
	})
	if err != nil {
		return err
	}
	defer ws.Close()
	// The notifier subscribes before the engine starts, so that it sees
	// every run's end, and stops after the engine, so that it sees the
	// runs the stop interrupts.
	notifyCfg.Listen = ln.Addr().String()
	if notifyCfg.PublicURL == "" {
		notifyCfg.PublicURL = "http://" + ln.Addr().String()
	}
	notifier, err := notify.New(notify.Config{Source: eng, Runs: st, Store: st, Server: notifyCfg, Logger: log, Secrets: box})
	if err != nil {
		return err
	}
	notifier.Start()
	defer notifier.Stop()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	log.Info("engine started", "home", home, "tasks", len(eng.Tasks()))

	srv := newHTTPServer(ws.Handler(), lim)
	srv.RegisterOnShutdown(ws.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limitListen(ln, lim.MaxConns)) }()
	local := serveLocal(log, home, ws, lim)
	log.Info("listening", "addr", ln.Addr().String(), "max_conns", lim.MaxConns)
	if e.listening != nil {
		e.listening(ln.Addr())
	}
	if err := sdNotify("READY=1"); err != nil {
		log.Warn("not notified", "err", err)
	}

	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if err := eng.Watch(watchCtx, engine.WatchConfig{}); err != nil && watchCtx.Err() == nil {
			log.Error("watching for changes", "err", err)
		}
	}()

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	log.Info("stopping")
	if err := sdNotify("STOPPING=1"); err != nil {
		log.Warn("not notified", "err", err)
	}
	stopCtx := context.WithoutCancel(ctx)
	shutdownCtx, cancel := context.WithTimeout(stopCtx, 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	if local != nil {
		local.Shutdown(shutdownCtx)
	}
	stopWatching()
	<-watched
	stopEngine(stopCtx, log, eng)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// webTempDir returns where the web server writes uploads and exports while
// they are under way, <home>/data/staging, first removing those a killed
// serve left there. (The folders there are `cronbox app`'s, locked while in
// use, and cleaned by it.)
func webTempDir(log *slog.Logger, home string) string {
	dir := homedir.Home(home).Staging()
	for _, pattern := range []string{".upload-*.zip", ".export-*.zip"} {
		stale, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range stale {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				if err := os.Remove(p); err != nil {
					log.Warn("removing a stale upload", "file", p, "err", err)
				}
			}
		}
	}
	return dir
}

func stopEngine(ctx context.Context, log *slog.Logger, eng *engine.Engine) {
	if err := eng.Stop(context.WithoutCancel(ctx)); err != nil {
		log.Error("stopping the engine", "err", err)
	}
}

// storeUsage is the help of --store. The flag has no default of its own:
// help would print $CRONBOX_STORE's value, password included; openStore
// reads the variable.
const storeUsage = "the store's `URL`: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE (default $" + storeurl.Env + ", else HOME/data/cronbox.db)"

// storeFlag defines --store on fs, for the commands without target
// flags (serve).
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", storeUsage)
}

// openStore opens the store that storeURL names (see package storeurl),
// else the one $CRONBOX_STORE names, else home's, at
// home/data/cronbox.db.
func openStore(ctx context.Context, home, storeURL string) (storeurl.Store, error) {
	if storeURL == "" {
		storeURL = os.Getenv(storeurl.Env)
	}
	return storeurl.Open(ctx, storeURL, home)
}

// buildApps builds the tasks of every app under home/apps whose .wasm is
// missing or older than its source, in any language build knows, or says
// what to install when the language's toolchain is missing. Failures are
// logged: the engine reports the tasks they leave without a module. Go
// tasks in no Go module build against the SDK this binary carries,
// extracted into home.
func buildApps(ctx context.Context, log *slog.Logger, home string) {
	appsDir := homedir.Home(home).Apps()
	entries, err := os.ReadDir(appsDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("reading the apps folder", "err", err)
		}
		return
	}
	opts := build.Options{GoSDK: homeSDK(home)}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		dir := filepath.Join(appsDir, ent.Name())
		targets, err := build.Find(dir)
		if err != nil {
			if !errors.Is(err, build.ErrNoTasks) {
				log.Warn("finding tasks", "app", ent.Name(), "err", err)
			}
			continue
		}
		for _, t := range targets {
			if !t.Stale() {
				continue
			}
			if err := build.Toolchain(t.Lang, t.Dir); err != nil {
				log.Warn("a task's module is missing or older than its source, and its toolchain is missing",
					"module", t.Out, "run", "cronbox build "+homedir.Home("").App(ent.Name()), "err", err)
				continue
			}
			start := time.Now()
			if err := build.Build(ctx, t, opts); err != nil {
				log.Error("building a task", "dir", t.Dir, "err", err)
				continue
			}
			log.Info("built", "module", t.Out, "lang", string(t.Lang), "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// clusterOf is what the web server shares with the other nodes on st,
// where st carries it (PostgreSQL's store): their events, the cancels of
// their runs and the registry of the nodes.
func clusterOf(st storeurl.Store, name, addr string) web.Cluster {
	c := web.Cluster{Node: name, Addr: addr, Version: buildVersion().Version}
	if w, ok := st.(web.EventWatcher); ok {
		c.Events = w
	}
	if cr, ok := st.(web.CancelRequests); ok {
		c.Cancels = cr
	}
	if ns, ok := st.(store.Nodes); ok {
		c.Nodes = registryNodes{ns}
	}
	return c
}

// registryNodes lists the registry's nodes for the web server.
type registryNodes struct{ st store.Nodes }

func (r registryNodes) Nodes(ctx context.Context) ([]web.NodeInfo, error) {
	ns, err := r.st.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.NodeInfo, 0, len(ns))
	for _, n := range ns {
		info := web.NodeInfo{
			Name: n.Name, Addr: n.Addr, Version: n.Version, Started: n.StartedAt, Heartbeat: n.HeartbeatAt,
			State: string(n.State), Running: n.Running, Capacity: n.Capacity, Apps: []web.NodeApp{}, Runs: n.Runs,
		}
		for _, app := range slices.Sorted(maps.Keys(n.Apps)) {
			info.Apps = append(info.Apps, web.NodeApp{Name: app, Version: n.Apps[app]})
		}
		out = append(out, info)
	}
	return out, nil
}
