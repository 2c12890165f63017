// Package engine is Cronbox's task engine: it loads the apps under
// <home>/apps, merges their tasks with the store's overrides, fires their
// schedules, dispatches runs to the sandbox runtime under per-app quotas and a
// global limit, applies the termination, retry, overlap and dependency rules,
// records every run in the store and publishes events.
//
// Time comes from an injected Clock, so tests run the scheduler in simulated
// time.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/runtime"
)

// Store is where the engine keeps its state, one small interface of
// package store a concern, so that a store can provide them one at a time.
type Store struct {
	// Runs records every run and its log lines. Required.
	Runs store.Runs
	// Retention prunes each task's history to its retention and each
	// app's to its history quota. Required.
	Retention store.Retention
	// Overrides keeps the runtime overrides of task configuration.
	// Required.
	Overrides store.Overrides
	// Outcomes counts each task's consecutive failures. Required.
	Outcomes store.Outcomes
	// LoadErrors keeps each app's load errors, for the CLI and the API.
	// Required.
	LoadErrors store.LoadErrors
	// KV holds the apps' key-value data. Required.
	KV store.KeyValue
	// Audit is the audit log, which the engine prunes to
	// Config.AuditRetention with the run history. Default nil: not pruned.
	Audit store.Audit
}

// SQLiteStore is the Store of one SQLite database: every field is st.
func SQLiteStore(st *store.SQLite) Store { return StoreOf(st) }

// StoreOf is the Store of one store that provides every part of it (the
// SQLite store, the PostgreSQL store): every field is st.
func StoreOf(st interface {
	store.Runs
	store.Retention
	store.Overrides
	store.Outcomes
	store.LoadErrors
	store.KeyValue
}) Store {
	s := Store{Runs: st, Retention: st, Overrides: st, Outcomes: st, LoadErrors: st, KV: st}
	if a, ok := st.(store.Audit); ok {
		s.Audit = a
	}
	return s
}

// RunHandoff hands the runs that a node of a cluster has no room for to
// the nodes that have: a run recorded while its node is full waits
// (store.Run.Waiting), and either a node with room takes it over
// (ClaimRuns), or its node starts it (BeginRun), never both. A node of a
// Cluster uses it when its Store.Runs provides it, as PostgreSQL's does;
// a store of one node need not.
type RunHandoff interface {
	// BeginRun starts run id, recorded as waiting on node, in one write
	// fenced by the node's lease. With slot, the run takes a slot of its
	// app's quotas in the same write (as Slots.TakeSlot), and waits on
	// without one (false, nil); slot.Taken says whether it holds one. A
	// run that started on node already is reported started. It returns
	// store.ErrNotWaiting if the run is not node's (another node took it
	// over) or has ended, store.ErrFenced if node's lease is not live.
	BeginRun(ctx context.Context, id int64, node string, slot *store.Slot) (bool, error)
	// ClaimRuns takes over for node, in one write fenced by its lease, at
	// most limit runs waiting on other nodes, the oldest first, of the
	// tasks it runs with the same modules, and returns them: each is
	// node's from then on, started as if node had recorded it, and no
	// other node takes or starts it. Of nodes that claim at once, each
	// run goes to one.
	ClaimRuns(ctx context.Context, node string, tasks []store.TaskModule, limit int) ([]store.Run, error)
	// WatchWaiting calls waiting with the app of each run recorded
	// waiting on any node, and with "" when it cannot tell (after each
	// connection to the store, and periodically), and taken with the IDs
	// of the runs each ClaimRuns took over, until ctx is done; it
	// returns ctx's error.
	WatchWaiting(ctx context.Context, waiting func(app string), taken func(ids []int64)) error
}

// Config configures an Engine. Store and Runtime are required.
type Config struct {
	// Home is the Cronbox home directory: apps are read from Home/apps and
	// an app's files are Home/data/files/<app>. Default ".".
	Home string
	// Store records runs and keeps overrides: one small interface a
	// concern, each required. A *store.SQLite is every one.
	Store Store
	// Runtime runs the modules; it must define the hostapi module. Required.
	Runtime *runtime.Runtime
	// Clock is the source of time. Default RealClock.
	Clock Clock
	// Node is the name of this node, recorded with every run it starts
	// (store.Run.Node). Default "": runs name no node. Required with
	// Cluster.
	Node string
	// Cluster makes the engine a node of a cluster that shares its
	// store. Default nil: a single node, which owns every task.
	Cluster *Cluster
	// Logger receives the engine's diagnostics. Default: discarded.
	Logger *slog.Logger
	// MaxConcurrent is how many runs may go at once over all apps.
	// Default 4 × GOMAXPROCS.
	MaxConcurrent int
	// MaxQueued is how many runs an app may have waiting for a slot; a
	// scheduled fire past it is recorded as skipped. Default 1000.
	MaxQueued int
	// GracePeriod is how long Stop lets running runs finish before it
	// cancels them, when its context has no earlier deadline. Default 30s.
	GracePeriod time.Duration
	// MaxOutput caps the output (stdout then stderr) recorded with a run.
	// Default 1 MiB.
	MaxOutput int
	// LogBatch is how many log lines of a run are written to the store at
	// once. Default 64.
	LogBatch int
	// LogFlush is how long a run's log line may wait for its batch to fill
	// before it is written anyway, so that the stored logs of a running
	// run are never further behind. Default 1s.
	LogFlush time.Duration
	// EventBuffer is the channel size of each subscriber. Default 256.
	EventBuffer int
	// FireBatch is how many tasks due at one instant a fire worker
	// records in one write of the store (Runs.RecordRuns); the fires of
	// more tasks are recorded in several such writes, a few at a time.
	// Default 256.
	FireBatch int
	// PruneEvery is after how many finished runs of a task its history is
	// pruned to its retention (keep, maxAge) and its app's history to
	// quotas.history. Default 1: after every run, which costs a read when
	// there is nothing to prune.
	PruneEvery int
	// PruneInterval is how often the history of every task with a
	// retention maxAge is pruned in the background, since runs age out
	// without new ones being added. Default 1h.
	PruneInterval time.Duration
	// Secrets gives runs the values of their app's secrets, which their
	// environment references as ${secret:NAME}. Default nil: a run whose
	// environment references a secret fails.
	Secrets SecretValues
	// AuditRetention is how long entries of Store.Audit are kept; they
	// are pruned when the engine starts and with every sweep of the
	// history (PruneInterval). Default 400 days.
	AuditRetention time.Duration
	// WriteRetry is how long after a write that the store failed (a full
	// disk) the engine tries again the writes it owes: the ends of runs,
	// then a heartbeat, then the misfire policies of the fire times it
	// could not record. The wait doubles after each failed try, up to 1m.
	// Default 1s.
	WriteRetry time.Duration
	// RouteWait is how long a request for an app's route waits for a slot
	// of the app's concurrency quota before ServeRoute refuses it with
	// ErrRouteBusy. Default 1s.
	RouteWait time.Duration
	// RouteWarm is how long a route keeps an instance started ahead for
	// its next request after a request: the instance has run its start-up
	// (language runtime, initialisers) and waits at its first effect, so
	// the request skips that. Default 30s; negative: never, every request
	// starts its instance.
	RouteWarm time.Duration
}

func (c Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name  string
		isNil bool
	}{
		{"Runs", c.Store.Runs == nil}, {"Retention", c.Store.Retention == nil}, {"Overrides", c.Store.Overrides == nil}, {"Outcomes", c.Store.Outcomes == nil},
		{"LoadErrors", c.Store.LoadErrors == nil}, {"KV", c.Store.KV == nil},
	} {
		if f.isNil {
			return c, fmt.Errorf("engine config: Store.%s is required", f.name)
		}
	}
	if c.Runtime == nil {
		return c, fmt.Errorf("engine config: Runtime is required")
	}
	cl, err := c.Cluster.withDefaults()
	if err != nil {
		return c, err
	}
	if c.Cluster = cl; cl != nil && c.Node == "" {
		return c, fmt.Errorf("engine config: Node is required with Cluster")
	}
	if c.Home == "" {
		c.Home = "."
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	checks := []struct {
		name string
		v    int64
	}{
		{"MaxConcurrent", int64(c.MaxConcurrent)}, {"MaxQueued", int64(c.MaxQueued)},
		{"GracePeriod", int64(c.GracePeriod)}, {"MaxOutput", int64(c.MaxOutput)},
		{"LogBatch", int64(c.LogBatch)}, {"LogFlush", int64(c.LogFlush)}, {"EventBuffer", int64(c.EventBuffer)},
		{"FireBatch", int64(c.FireBatch)},
		{"PruneEvery", int64(c.PruneEvery)}, {"PruneInterval", int64(c.PruneInterval)},
		{"WriteRetry", int64(c.WriteRetry)}, {"AuditRetention", int64(c.AuditRetention)}, {"RouteWait", int64(c.RouteWait)},
	}
	for _, ch := range checks {
		if ch.v < 0 {
			return c, fmt.Errorf("engine config: %s must not be negative, got %d", ch.name, ch.v)
		}
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 4 * goruntime.GOMAXPROCS(0)
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = 1000
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = 30 * time.Second
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = 1 << 20
	}
	if c.LogBatch == 0 {
		c.LogBatch = 64
	}
	if c.LogFlush == 0 {
		c.LogFlush = time.Second
	}
	if c.PruneEvery == 0 {
		c.PruneEvery = 1
	}
	if c.WriteRetry == 0 {
		c.WriteRetry = time.Second
	}
	if c.RouteWait == 0 {
		c.RouteWait = time.Second
	}
	if c.RouteWarm == 0 {
		c.RouteWarm = 30 * time.Second
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = time.Hour
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = 256
	}
	if c.FireBatch == 0 {
		c.FireBatch = 256
	}
	return c, nil
}

// Engine runs the tasks of the apps in a Cronbox home. Create one with New,
// then Start it; Stop it to end. Its methods are safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	reloadMu sync.Mutex // serializes loading apps
	// overrideMu serializes the changes of tasks' overrides, each of which
	// reads an override, changes it and writes it back: without it, two
	// changes made at once would write over each other.
	overrideMu sync.Mutex

	// crew starts and counts every goroutine and timer of the engine.
	crew *crew
	// cl is the engine's view of its cluster; nil for a single node.
	cl *clusterState

	mu      sync.Mutex
	started bool
	// armed is set once Start has restored what an earlier process left
	// (interrupted runs, pending retries, missed fires): no schedule fires
	// before, so that a fire cannot slip in ahead of a retry it would hide.
	armed    bool
	stopping bool
	// warm is the goroutines of the routes' instances started ahead
	// (engine/routes.go), which Stop cancels and waits for.
	warm     sync.WaitGroup
	apps     map[string]*appState
	appOrder []string // round-robin order of the dispatcher
	rr       int      // the app the dispatcher serves first next
	tasks    map[string]*taskState
	// byName is the keys of tasks sorted by app, then task, for TaskPage;
	// nil when a task was added or dropped since.
	byName []string
	heap   fireHeap
	firing fireQueue // tasks with due instants, for the fire workers
	// catchUps are the tasks whose catch-up is pending (catchingUp).
	catchUps []pendingCatchUp
	timer    Timer
	// pruneTimer is the next background sweep of the history.
	pruneTimer Timer
	timerAt    time.Time
	running    int // runs executing, over all apps
	// claims counts the slots of the cluster's apps being taken for
	// queued runs (Cluster.Slots), and the starts of runs that waited
	// (RunHandoff.BeginRun): each holds a place of MaxConcurrent.
	claims int
	// handoff hands the runs this node has no room for to other nodes,
	// and theirs to it; nil for a single node, or a store without it.
	handoff RunHandoff
	// progress records the progress of this node's runs for the other
	// nodes to show, with their log lines; nil for a store that does not.
	progress store.RunProgress
	// takingOver is set while the node takes over runs waiting on other
	// nodes (takeOver); othersWait when some may wait: the last take
	// took all it asked for, or a run recorded waiting found the node
	// without room.
	takingOver, othersWait bool
	runs                   map[int64]*runHandle
	modules                map[string]*runtime.Module // by the hex SHA-256 of the file
	seq                    int64                      // orders successes and starts for dependencies

	events  eventHub
	counter runCounter
	// releasing, set only by tests, is called as a run that ended is
	// about to release its slot (afterRun), before mu is taken.
	releasing func(*runHandle)

	// hmu guards health; it is never held while taking mu.
	hmu    sync.Mutex
	health health
	endsMu sync.Mutex // serializes writeEnds
	// writeFailing is health.err != nil, read without hmu by each write.
	writeFailing atomic.Bool
	// retriesOff is set when Stop begins: failed writes are then tried
	// once more by Stop, not by a timer.
	retriesOff atomic.Bool
}

// New validates cfg and returns an engine that is not started yet.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		apps:    map[string]*appState{},
		tasks:   map[string]*taskState{},
		runs:    map[int64]*runHandle{},
		modules: map[string]*runtime.Module{},
		crew:    newCrew(cfg.Clock),
		cl:      newClusterState(cfg.Cluster, cfg.Node, cfg.Clock),
	}
	if h, ok := cfg.Store.Runs.(RunHandoff); ok && e.cl != nil {
		e.handoff = h
	}
	if p, ok := cfg.Store.Runs.(store.RunProgress); ok {
		e.progress = p
	}
	e.cfg.Store.Runs = watchedRuns{Runs: cfg.Store.Runs, e: e}
	e.cfg.Store.Outcomes = watchedOutcomes{Outcomes: cfg.Store.Outcomes, e: e}
	e.events.buffer = cfg.EventBuffer
	return e, nil
}

func (e *Engine) appsDir() string { return homedir.Home(e.cfg.Home).Apps() }

// Start marks the runs a previous process left running as interrupted, loads
// the apps, schedules the retries a previous process left pending, runs the
// misfire policies, prunes the history to each task's retention and each
// app's history quota, and starts firing schedules.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return fmt.Errorf("starting engine: already started")
	}
	e.started = true
	e.mu.Unlock()

	var interrupted []store.Run // the runs of the node's incarnations before
	if e.cl != nil {
		var err error
		if interrupted, err = e.register(ctx); err != nil {
			return fmt.Errorf("starting engine: %w", err)
		}
	} else {
		n, err := e.cfg.Store.Runs.MarkInterrupted(ctx, e.cfg.Clock.Now())
		if err != nil {
			return fmt.Errorf("starting engine: marking interrupted runs: %w", err)
		}
		if n > 0 {
			e.log.InfoContext(ctx, "marked runs interrupted", slog.Int("runs", n))
		}
	}
	if err := e.Reload(ctx); err != nil {
		return fmt.Errorf("starting engine: %w", err)
	}
	if err := e.restoreDependencies(ctx); err != nil {
		e.log.ErrorContext(ctx, "restoring dependency state", slog.Any("error", err))
	}
	if e.cl != nil {
		e.retryInterrupted(ctx, interrupted)
		e.adoptRetries(ctx, true, interrupted)
	} else if err := e.restoreRetries(ctx, everyTask, everyRun); err != nil {
		e.log.ErrorContext(ctx, "restoring retries", slog.Any("error", err))
	}
	e.catchUp(ctx)
	e.pruneAll()
	e.mu.Lock()
	e.armed = true
	e.armLocked()
	e.armPruneLocked()
	e.mu.Unlock()
	if e.cl != nil {
		e.armHeartbeat()
		e.watchSlots()
		e.watchWaiting()
	}
	return nil
}

// Stop stops firing schedules and cancels the retries that wait, lets
// running runs finish until ctx is done or the grace period has passed,
// then cancels them; they are recorded as interrupted. Runs still queued
// are recorded as interrupted without starting. Stop returns when every
// run is recorded, or, for a run whose end the store does not take (a full
// disk), left for the next start to mark interrupted, and no goroutine or
// timer of the engine is left.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.started || e.stopping {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	e.cancelRoutesLocked()
	e.retriesOff.Store(true)
	e.timer, e.pruneTimer = nil, nil // stopped with every other timer
	var dropped []*runReq
	for _, a := range e.apps {
		dropped = append(dropped, a.queue...)
		a.queue = nil
	}
	e.mu.Unlock()
	e.crew.stopTimers()

	for _, r := range dropped {
		e.finishUnstarted(context.WithoutCancel(ctx), r, store.StatusInterrupted, "not started: "+errShutdown.Error())
	}

	grace, cancel := context.WithTimeout(ctx, e.cfg.GracePeriod)
	err := e.crew.wait(grace)
	cancel()
	if err != nil {
		e.mu.Lock()
		for _, h := range e.runs {
			h.cancel(e.shutdownCause())
		}
		e.mu.Unlock()
		e.crew.wait(context.Background())
	}
	e.stopRetries()
	e.warm.Wait() // cancelled with the requests in flight
	// What ran until now found the engine stopping and armed nothing
	// new; a timer armed before it saw so is cancelled here.
	e.crew.stopTimers()
	if e.cl != nil {
		e.leave(context.WithoutCancel(ctx))
	}
	return nil
}

// WaitIdle waits until no run is queued or running and no fire is being
// recorded (no goroutine of the engine runs), or until ctx is done. Tests
// use it after advancing a fake clock.
func (e *Engine) WaitIdle(ctx context.Context) error {
	if err := e.crew.wait(ctx); err != nil {
		return fmt.Errorf("waiting for idle engine: %w", err)
	}
	return nil
}

// parseSchedule parses a task's schedule; nil for a task without one.
func parseSchedule(p *schedule.Parser, t *app.Task) (schedule.Schedule, error) {
	if t.Schedule.IsZero() {
		return nil, nil
	}
	s, err := p.Parse(schedule.Spec{Cron: t.Schedule.Cron, Timezone: t.Schedule.Timezone, At: t.Schedule.At}, t.Key())
	if err != nil {
		return nil, fmt.Errorf("parsing schedule of %s: %w", t.Key(), err)
	}
	return s, nil
}
