// Package web is Cronbox's HTTP server: the REST API under /api/v1, its
// authentication (bearer tokens and browser sessions), the server-sent
// event stream, Prometheus metrics, health checks, and the UI when one is
// given.
//
// The API, the apps' routes and their webhooks are described by the
// OpenAPI document openapi.json, served at /api/v1/openapi.json; a test
// keeps it and the routes in step.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/runtime"
	"github.com/cronbox/cronbox/web/ui"
)

// AppAdmin changes apps on disk for the API: the engine only reads them.
type AppAdmin interface {
	// SetEnabled switches the app on or off (its app.yaml's enabled
	// field). The server reloads the app afterwards.
	SetEnabled(ctx context.Context, app string, enabled bool) error
}

// AppLifecycle installs, exports, checks and uninstalls apps for the API,
// as `cronbox app` does (package engine/lifecycle). The server reloads the
// engine after a change, checks roles and app scope, and keeps uploads and
// exports in files of its own (Config.TempDir) while they are under way.
type AppLifecycle interface {
	// Install installs the app in the zip archive r of size bytes; with
	// upgrade it replaces an installed app of the same name, after a
	// backup. Its errors wrap lifecycle.ErrArchive (a refused archive),
	// lifecycle.ErrExists (installed, and no upgrade) or lifecycle.ErrInvalid (a
	// *lifecycle.ValidationError with the findings).
	Install(ctx context.Context, r io.ReaderAt, size int64, upgrade bool) (*lifecycle.Installed, error)
	// Export writes the installed app as a zip archive to w, as
	// `cronbox app export` does, and returns the archive's manifest.
	Export(ctx context.Context, app string, w io.Writer) (*lifecycle.ArchiveManifest, error)
	// Uninstall removes the app after a backup; purge also deletes its
	// data (store and files).
	Uninstall(ctx context.Context, app string, purge bool) (*lifecycle.Uninstalled, error)
	// Validate checks the installed app, as `cronbox app validate` does.
	Validate(ctx context.Context, app string) (*lifecycle.Report, error)
}

// Store is what the server reads and keeps, one small interface of package
// store a concern, so that a store can provide them one at a time.
type Store struct {
	// Runs is the history of runs the API shows.
	Runs store.RunReader
	// Tokens are the API tokens requests are checked against.
	Tokens store.Tokens
	// Sessions are the browser sessions of the UI.
	Sessions store.Sessions
	// LoadErrors are the apps' load errors the API shows.
	LoadErrors store.LoadErrors
	// Events is the event log the event stream records in and resumes
	// from.
	Events store.EventLog
	// Usage is what runs consumed, which the API and the metrics show.
	Usage store.Metering
	// Notifications is the queue of notifications the API lists. Default
	// nil: GET /notifications answers 501.
	Notifications store.Notifications
	// Secrets are the apps' secrets, of which the API lists names and
	// deletes. Default nil: the secrets routes answer 501.
	Secrets store.Secrets
	// Audit is the audit log, where every change made through the API is
	// recorded and which GET /audit reads. Default nil: changes are not
	// recorded and the route answers 501.
	Audit store.Audit
	// Stats are the aggregates the charts draw. Default nil: the
	// overview and task statistics answer 501.
	Stats store.Stats
}

// SQLiteStore is the Store of one SQLite database: every field is st.
func SQLiteStore(st *store.SQLite) Store { return StoreOf(st) }

// StoreOf is the Store of one store that provides every part of it (the
// SQLite store, the PostgreSQL store): every field is st, Notifications
// Secrets, Audit and Stats too if st keeps them.
func StoreOf(st interface {
	store.RunReader
	store.Tokens
	store.Sessions
	store.LoadErrors
	store.EventLog
	store.Metering
}) Store {
	s := Store{Runs: st, Tokens: st, Sessions: st, LoadErrors: st, Events: st, Usage: st}
	if ns, ok := st.(store.Notifications); ok {
		s.Notifications = ns
	}
	if ss, ok := st.(store.Secrets); ok {
		s.Secrets = ss
	}
	if as, ok := st.(store.Audit); ok {
		s.Audit = as
	}
	if ss, ok := st.(store.Stats); ok {
		s.Stats = ss
	}
	return s
}

// Config configures a Server. Engine, Store and Runtime are required.
type Config struct {
	// Engine runs the tasks the API shows and controls. Required. The
	// server records its events, so that the events it streams carry their
	// stored IDs.
	Engine *engine.Engine
	// Store is the engine's store: runs, tokens, sessions, load errors,
	// events, usage, secrets and the audit log, one small interface a
	// concern. Required, every part but Secrets and Audit.
	Store Store
	// Runtime is the engine's runtime: instances and modules. Required.
	Runtime *runtime.Runtime
	// Apps switches apps on and off. Default nil: the enable and disable
	// endpoints of apps answer 501.
	Apps AppAdmin
	// Lifecycle installs, exports, validates and uninstalls apps. Default
	// nil: those endpoints answer 501.
	Lifecycle AppLifecycle
	// Secrets seals the secrets that PUT /apps/{app}/secrets/{name} sets.
	// Default nil: the secrets routes answer 501.
	Secrets SecretSealer
	// MaxUpload is the largest app archive POST /apps accepts; larger
	// uploads answer 413. Default 64 MiB.
	MaxUpload int64
	// TempDir is where uploaded archives and exports are written while
	// they are checked or sent; it is created when needed. Default
	// os.TempDir(); cronbox serve uses <home>/data/staging, on the disk
	// of the apps rather than a temporary file system in memory.
	TempDir string
	// Logger receives request errors and the server's diagnostics.
	// Default: discarded.
	Logger *slog.Logger
	// MetricsOpen serves /metrics without a token. Default false: any
	// valid token may read it.
	MetricsOpen bool
	// UI, if set, serves every path that is not the API's, /metrics,
	// /healthz or /readyz. Default nil: those paths are 404.
	UI http.Handler
	// SessionTTL is how long a browser session lasts without being used.
	// Default 12h.
	SessionTTL time.Duration
	// PingInterval is how often an idle event stream gets a comment, so
	// that proxies keep it open. Default 15s.
	PingInterval time.Duration
	// StreamBuffer is how many events an event stream may fall behind
	// before the server ends it, after a stream.gap event (the client
	// then resumes from the store). Default 1024.
	StreamBuffer int
	// StreamBufferBytes bounds the same buffer in bytes (one larger
	// event is still taken when the buffer is empty). Default 1 MiB.
	StreamBufferBytes int64
	// StreamWriteTimeout is how long one write to an event stream may
	// take: a client that reads nothing for that long loses its stream.
	// Default 10s.
	StreamWriteTimeout time.Duration
	// StreamRecheck is how often an open event stream checks in the
	// store that its token is not revoked and its session not ended
	// (a revocation or logout through this server ends it at once).
	// Default 3s.
	StreamRecheck time.Duration
	// TouchEvery is how often a token's last use is written to the
	// store, at most. Default 1m.
	TouchEvery time.Duration
	// Clock is the source of time of browser sessions and token uses;
	// give it the engine's. Default engine.RealClock.
	Clock engine.Clock
	// Cluster joins the server to the other nodes that share its store:
	// their events, runs, cancels and nodes. The zero value is one node
	// alone.
	Cluster Cluster
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Engine == nil:
		return c, errors.New("web config: Engine is required")
	case c.Store.Runs == nil, c.Store.Tokens == nil, c.Store.Sessions == nil, c.Store.LoadErrors == nil, c.Store.Events == nil, c.Store.Usage == nil:
		return c, errors.New("web config: Store is required, every part of it")
	case c.Runtime == nil:
		return c, errors.New("web config: Runtime is required")
	}
	for _, d := range []struct {
		name string
		v    int64
	}{
		{"SessionTTL", int64(c.SessionTTL)}, {"PingInterval", int64(c.PingInterval)},
		{"StreamBuffer", int64(c.StreamBuffer)}, {"TouchEvery", int64(c.TouchEvery)},
		{"StreamBufferBytes", c.StreamBufferBytes}, {"StreamWriteTimeout", int64(c.StreamWriteTimeout)},
		{"StreamRecheck", int64(c.StreamRecheck)},
		{"MaxUpload", c.MaxUpload},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("web config: %s must not be negative, got %d", d.name, d.v)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.PingInterval == 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.StreamBuffer == 0 {
		c.StreamBuffer = 1024
	}
	if c.StreamBufferBytes == 0 {
		c.StreamBufferBytes = 1 << 20
	}
	if c.StreamWriteTimeout == 0 {
		c.StreamWriteTimeout = 10 * time.Second
	}
	if c.StreamRecheck == 0 {
		c.StreamRecheck = 3 * time.Second
	}
	if c.TouchEvery == 0 {
		c.TouchEvery = time.Minute
	}
	if c.MaxUpload == 0 {
		c.MaxUpload = DefaultMaxUpload
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.Clock == nil {
		c.Clock = engine.RealClock{}
	}
	if c.Cluster.Node == "" {
		c.Cluster.Node = nodeName()
	}
	if c.Cluster.MetricsNodesTTL == 0 {
		c.Cluster.MetricsNodesTTL = 3 * time.Second
	}
	return c, nil
}

// DefaultMaxUpload is Config.MaxUpload's default: 64 MiB.
const DefaultMaxUpload = 64 << 20

// Server is Cronbox's HTTP server. Create one with New, serve Handler, and
// Close it after the engine has stopped.
type Server struct {
	cfg     Config
	eng     *engine.Engine
	st      Store
	log     *slog.Logger
	handler http.Handler

	sessions sessions
	touchMu  sync.Mutex
	touched  map[int64]time.Time // token ID → last TouchToken

	hub     *hub
	metrics *metrics
	// nodesCache is the list of nodes /metrics last read.
	nodesCache nodesCache
	hooks      seenHooks // webhook signatures already used
	started    time.Time // when New made the server: this node's start

	// stopCancels stops the watcher of other nodes' cancels, if any,
	// and waits for it.
	stopCancels func()

	closeOnce sync.Once
}

// New validates cfg and returns a server. It starts recording the
// engine's events at once; Close stops it.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, eng: cfg.Engine, st: cfg.Store, log: cfg.Logger,
		sessions: sessions{st: cfg.Store.Sessions, log: cfg.Logger, m: map[string]*session{}},
		touched:  map[int64]time.Time{},
		metrics:  newMetrics(),
		started:  cfg.Engine.Now().UTC(),
	}
	s.hub = startHub(cfg.Engine, cfg.Store.Events, cfg.Cluster.Events, cfg.Logger, s.metrics, cfg.StreamBufferBytes)
	s.stopCancels = func() {}
	if cfg.Cluster.Cancels != nil {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.watchCancels(ctx)
		}()
		s.stopCancels = func() { stop(); <-done }
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// CloseStreams ends the open event streams, a write under way to one
// included, and makes new ones end at once. Register it with
// http.Server.RegisterOnShutdown, so that Shutdown does not wait for
// streams that never end by themselves, nor for clients that do not read.
func (s *Server) CloseStreams() { s.hub.shutdown() }

// Close ends the event streams and stops recording the engine's events,
// after recording those already published. Call it once the engine has
// stopped, so that the runs it interrupted are recorded too.
func (s *Server) Close() error {
	s.CloseStreams()
	s.closeOnce.Do(func() {
		s.stopCancels()
		s.hub.close()
	})
	return nil
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders, middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.log, r, errorf(http.StatusNotFound, "", "no such path: %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.log, r, errorf(http.StatusMethodNotAllowed, "", "method %s is not allowed here", r.Method))
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	r.Get("/readyz", s.h(s.readyz))
	r.With(s.metricsAuth).Get("/metrics", s.h(s.serveMetrics))

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.json", serveOpenAPI)
		r.Post("/session", s.h(s.login))
		r.Get("/session", s.h(s.getSession))
		r.Delete("/session", s.h(s.logout))

		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			viewer, operator, admin := requireRole(roleViewer), requireRole(roleOperator), requireRole(roleAdmin)
			r.Use(viewer)

			r.Get("/summary", s.h(s.summary))

			r.Get("/tasks", s.h(s.listTasks))
			r.With(admin).Post("/tasks", s.h(s.createTask))
			r.With(operator).Post("/tasks/enable", s.h(s.bulkEnable(true)))
			r.With(operator).Post("/tasks/disable", s.h(s.bulkEnable(false)))
			r.Get("/tasks/{app}/{task}", s.h(s.getTask))
			r.Get("/tasks/{app}/{task}/stats", s.h(s.taskStats))
			r.Get("/overview", s.h(s.overview))
			r.With(admin).Patch("/tasks/{app}/{task}", s.h(s.patchTask))
			r.With(admin).Delete("/tasks/{app}/{task}", s.h(s.deleteTask))
			r.With(operator).Post("/tasks/{app}/{task}/trigger", s.h(s.triggerTask))
			r.With(operator).Post("/tasks/{app}/{task}/enable", s.h(s.enableTask(true)))
			r.With(operator).Post("/tasks/{app}/{task}/disable", s.h(s.enableTask(false)))

			r.Get("/runs", s.h(s.listRuns))
			r.Get("/runs/{id}", s.h(s.getRun))
			r.Get("/runs/{id}/logs", s.h(s.runLogs))
			r.Get("/notifications", s.h(s.listNotifications))
			r.With(operator).Post("/runs/{id}/cancel", s.h(s.cancelRun))
			r.With(operator).Post("/runs/{id}/again", s.h(s.runAgain))

			r.Get("/instances", s.h(s.listInstances))
			r.Get("/modules", s.h(s.listModules))

			r.Get("/apps", s.h(s.listApps))
			r.With(admin).Post("/apps", s.h(s.installApp))
			r.With(admin).Delete("/apps/{app}", s.h(s.uninstallApp))
			r.With(admin).Get("/apps/{app}/export", s.h(s.exportApp))
			r.Get("/apps/{app}/validation", s.h(s.validateApp))
			r.With(operator).Post("/apps/{app}/enable", s.h(s.enableApp(true)))
			r.With(operator).Post("/apps/{app}/disable", s.h(s.enableApp(false)))
			r.Get("/apps/{app}/secrets", s.h(s.listSecrets))
			r.Get("/apps/{app}/routes", s.h(s.listAppRoutes))
			r.With(admin).Put("/apps/{app}/secrets/{name}", s.h(s.putSecret))
			r.With(admin).Delete("/apps/{app}/secrets/{name}", s.h(s.deleteSecret))

			r.With(admin).Get("/audit", s.h(s.listAudit))

			r.Get("/cron/describe", s.h(s.describeCron))

			r.With(admin).Get("/config/tasks", s.h(s.exportConfig))
			r.With(admin).Put("/config/tasks", s.h(s.importConfig))

			r.With(admin).Get("/tokens", s.h(s.listTokens))
			r.With(admin).Post("/tokens", s.h(s.createToken))
			r.With(admin).Delete("/tokens/{id}", s.h(s.revokeToken))

			r.Get("/events", s.h(s.events))
			r.Get("/nodes", s.h(s.listNodes))
		})
	})
	r.Post("/hooks/{app}/{task}", s.h(s.webhook))
	// An app's pages and routes answer the methods a route may declare,
	// and HEAD.
	for _, m := range append([]string{http.MethodHead}, app.RouteMethods...) {
		r.Method(m, "/apps/{app}", s.h(s.serveApp))
		r.Method(m, "/apps/{app}/*", s.h(s.serveApp))
	}
	if s.cfg.UI != nil {
		r.Handle("/*", s.cfg.UI)
	}
	return r
}

// handlerFunc is a handler that returns its error, which h writes.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) h(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, s.log, r, err)
		}
	}
}

// readyz answers 200 once the engine runs and the store answers, and
// while the store takes the engine's writes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.eng.Started() {
		return errorf(http.StatusServiceUnavailable, "", "the engine is not running")
	}
	if err := s.eng.Healthy(); err != nil {
		return errorf(http.StatusServiceUnavailable, "", "%v", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.st.Runs.ListRuns(ctx, store.RunFilter{Limit: 1}); err != nil {
		s.log.WarnContext(ctx, "readiness: store", slog.Any("error", err))
		return errorf(http.StatusServiceUnavailable, "", "the store does not answer")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
	return nil
}

// securityHeaders sets the headers every response carries. The
// Content-Security-Policy is the one the UI is written for (ui.CSP): it
// allows the UI's own scripts, styles, images and requests only.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ui.CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panicking handler into a 500 and a log entry.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", slog.String("path", r.URL.Path), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				writeError(w, s.log, r, errorf(http.StatusInternalServerError, "", "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
