package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// Cluster makes an engine one node of several that share one store
// (Config.Cluster). The store decides: each node renews a lease in the
// registry, fires the schedules of the tasks it owns (rendezvous hashing
// of the task over the live nodes), stops starting runs when it cannot
// renew, and takes over the runs of nodes that died. Config.Node names
// the node.
type Cluster struct {
	// Nodes is the registry of the shared store. Required.
	Nodes store.Nodes
	// Slots shares each app's quotas.concurrency and memory quota among
	// the nodes: a run executes only while it holds a slot of its app.
	// Default nil: the quotas hold on each node.
	Slots store.Slots
	// Addr is where the node's API listens; Version its Cronbox version.
	// Both are reported to the registry. Default "".
	Addr, Version string
	// HeartbeatInterval is how often the node renews its lease, reads
	// which nodes are live and sweeps the dead. Default 2s.
	HeartbeatInterval time.Duration
	// LeaseTTL is how long a renewed lease lasts, on the store's clock.
	// Default 10s.
	LeaseTTL time.Duration
	// Margin is how long before the store can count its lease as ended
	// a node counts it lost itself: LeaseTTL minus Margin after it sent
	// its last successful renewal. It covers the delays of the network
	// and the rate at which the clocks of the node and the database may
	// drift apart. Default LeaseTTL/5.
	Margin time.Duration
	// Grace is how long after a node's lease ended its runs are taken
	// over. Default 2s: with the defaults a dead node's runs are taken
	// over within LeaseTTL + Grace + HeartbeatInterval = 14s.
	Grace time.Duration
}

func (c *Cluster) withDefaults() (*Cluster, error) {
	if c == nil {
		return nil, nil
	}
	cc := *c
	if cc.Nodes == nil {
		return nil, errors.New("engine config: Cluster.Nodes is required")
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"HeartbeatInterval", &cc.HeartbeatInterval, 2 * time.Second},
		{"LeaseTTL", &cc.LeaseTTL, 10 * time.Second},
		{"Margin", &cc.Margin, 0},
		{"Grace", &cc.Grace, 2 * time.Second},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("engine config: Cluster.%s must not be negative, got %s", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cc.Margin == 0 {
		cc.Margin = cc.LeaseTTL / 5
	}
	if cc.Margin >= cc.LeaseTTL || cc.HeartbeatInterval >= cc.LeaseTTL-cc.Margin {
		return nil, fmt.Errorf("engine config: Cluster.HeartbeatInterval %s must be shorter than LeaseTTL %s minus Margin %s",
			cc.HeartbeatInterval, cc.LeaseTTL, cc.Margin)
	}
	return &cc, nil
}

// errFenced is the cancel cause of the runs of a node that lost its
// lease: their ends are left to the node that takes them over.
var errFenced = errors.New("node lost its lease")

// errLeft is the cancel cause of the runs a node of a cluster still has
// when its grace period at Stop is over: another node takes them over,
// and retries them.
var errLeft = fmt.Errorf("%w: the node left the cluster; another takes its runs over", errShutdown)

// shutdownCause is the cancel cause of the runs Stop cuts short.
func (e *Engine) shutdownCause() error {
	if e.cl != nil {
		return errLeft
	}
	return errShutdown
}

// unrecorded reports whether a run cancelled for cause must leave its
// end unrecorded, for the node that takes it over.
func unrecorded(cause error) bool { return errors.Is(cause, errFenced) || errors.Is(cause, errLeft) }

// clusterState is an engine's view of its cluster.
type clusterState struct {
	cfg  *Cluster
	name string

	mu sync.Mutex
	// epoch is the incarnation registered; 0 while the node holds no
	// lease (fenced).
	epoch int64
	// leaseUntil is when the node counts its lease lost, on its clock.
	leaseUntil time.Time
	// live are the names of the live nodes, sorted; nil while fenced.
	live []string
	// crew owns the heartbeats and the lease's timer. It is the
	// engine's crew's sibling, not part of it, so that a stopping engine
	// keeps its lease while its runs finish; leave stops it.
	crew *crew
	// expiry fences the node when its lease runs out, should no
	// heartbeat return by then.
	expiry Timer
	// stopped is set by leave: nothing is armed after it.
	stopped bool
	// unwatch stops the watches of the slots given back (watchSlots) and
	// of the runs recorded waiting (watchWaiting).
	unwatch []context.CancelFunc
}

func newClusterState(cfg *Cluster, name string, clock Clock) *clusterState {
	if cfg == nil {
		return nil
	}
	return &clusterState{cfg: cfg, name: name, crew: newCrew(clock)}
}

// owner returns which of nodes owns key: the highest random weight.
func owner(nodes []string, key string) string {
	var (
		best string
		top  uint64
	)
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if w := mix(h.Sum64()); best == "" || w > top {
			best, top = n, w
		}
	}
	return best
}

// mix is SplitMix64's finalizer, which spreads FNV's close sums.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// owns reports whether this node fires the schedule of task key: always
// for a single node; in a cluster, when it holds its lease and key's
// owner among the live nodes is this node.
func (e *Engine) owns(key string) bool {
	cl := e.cl
	if cl == nil {
		return true
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.epoch != 0 && owner(cl.live, key) == cl.name
}

// fenced reports whether this node is a node of a cluster without a live
// lease: it must not start runs.
func (e *Engine) fenced() bool {
	cl := e.cl
	if cl == nil {
		return false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.epoch == 0 || !e.cfg.Clock.Now().Before(cl.leaseUntil)
}

// status is what the node reports to the registry.
func (e *Engine) status() store.NodeStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := store.NodeStatus{Name: e.cl.name, Addr: e.cl.cfg.Addr, Version: e.cl.cfg.Version,
		Running: e.running, Capacity: e.cfg.MaxConcurrent, Apps: map[string]string{}, Runs: e.RunCounts()}
	for name, as := range e.apps {
		if as.app != nil {
			st.Apps[name] = as.app.Manifest.Version
		}
	}
	return st
}

// register starts a new incarnation of the node and ends as interrupted
// the runs its incarnations before left running, which it returns.
func (e *Engine) register(ctx context.Context) ([]store.Run, error) {
	cl := e.cl
	sent := e.cfg.Clock.Now()
	n, err := cl.cfg.Nodes.RegisterNode(ctx, e.status(), cl.cfg.LeaseTTL)
	if err != nil {
		return nil, err
	}
	runs, err := cl.cfg.Nodes.InterruptNodeRuns(ctx, cl.name)
	if err != nil {
		return nil, err
	}
	nodes, err := cl.cfg.Nodes.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	e.setLive(n.Epoch, true, liveNames(nodes), sent)
	e.log.InfoContext(ctx, "node registered", slog.String("node", cl.name), slog.Int64("epoch", n.Epoch),
		slog.Int("interrupted", len(runs)), slog.Any("live", liveNames(nodes)))
	return runs, nil
}

func liveNames(nodes []store.Node) []string {
	var live []string
	for _, n := range nodes {
		if n.State == store.NodeAlive {
			live = append(live, n.Name)
		}
	}
	slices.Sort(live)
	return live
}

// setLive counts the lease of epoch renewed by a request sent at sent
// (registered: the request registered the node as epoch), and makes live
// the live nodes, unless the node was fenced since. The tasks the node
// gains wait for their catch-up (catchUpPending) from the same critical
// section: the scheduler, which fires a task once owns reports it is the
// node's, cannot fire one of them before it waits. It reports whether
// the live nodes changed.
func (e *Engine) setLive(epoch int64, registered bool, live []string, sent time.Time) bool {
	cl := e.cl
	e.mu.Lock() // before cl.mu, as onTimer takes them
	defer e.mu.Unlock()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if registered {
		cl.epoch = epoch
	}
	e.renewedLocked(epoch, sent)
	if cl.epoch != epoch {
		return false
	}
	before := cl.live // nil while the node was fenced: it fired nothing
	cl.live = live
	if slices.Equal(before, live) {
		return false
	}
	for _, ts := range e.tasks {
		if owner(live, ts.key) == cl.name && owner(before, ts.key) != cl.name {
			e.awaitCatchUpLocked(ts)
		}
	}
	return true
}

// renewedLocked counts the lease of epoch renewed by a request sent at
// sent, and sets the timer that fences the node when it runs out. cl.mu
// is held.
func (e *Engine) renewedLocked(epoch int64, sent time.Time) {
	cl := e.cl
	if cl.epoch != epoch || cl.stopped {
		return // fenced, or stopped, while the request went
	}
	cl.leaseUntil = sent.Add(cl.cfg.LeaseTTL - cl.cfg.Margin)
	if cl.expiry != nil {
		cl.expiry.Stop()
	}
	cl.expiry = cl.crew.afterFunc(cl.leaseUntil.Sub(e.cfg.Clock.Now()), func() {
		cl.mu.Lock()
		lost := cl.epoch == epoch && !e.cfg.Clock.Now().Before(cl.leaseUntil)
		cl.mu.Unlock()
		if lost {
			e.loseLease(context.Background(), errors.New("no renewal of the lease succeeded in time"))
		}
	})
}

// armHeartbeat sets the timer of the next heartbeat.
func (e *Engine) armHeartbeat() {
	cl := e.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.stopped {
		return
	}
	cl.crew.afterFunc(cl.cfg.HeartbeatInterval, func() {
		e.heartbeat(context.Background())
		e.armHeartbeat()
	})
}

// heartbeat renews the node's lease and reads the live nodes; on a lost
// lease it fences the node, and registers it again when it can. A node
// that gains tasks applies their misfire policies to the gap since their
// last fire, and takes on the pending retries of the lost nodes' runs
// of the tasks it owns; a node that sees a node whose lease ended sweeps,
// and retries the runs it took over.
func (e *Engine) heartbeat(ctx context.Context) {
	cl := e.cl
	cl.mu.Lock()
	epoch := cl.epoch
	cl.mu.Unlock()
	var (
		nodes      []store.Node
		retries    []store.Run
		registered bool
		changed    bool // the live nodes, by a renewal
		err        error
	)
	ctx, cancel := context.WithTimeout(ctx, cl.cfg.LeaseTTL)
	defer cancel()
	if epoch != 0 {
		sent := e.cfg.Clock.Now()
		nodes, err = cl.cfg.Nodes.RenewLease(ctx, cl.name, epoch, cl.cfg.LeaseTTL, e.status())
		switch {
		case err == nil:
			if changed = e.setLive(epoch, false, liveNames(nodes), sent); changed {
				e.log.InfoContext(ctx, "live nodes changed", slog.String("node", cl.name), slog.Any("live", liveNames(nodes)))
			}
		case errors.Is(err, store.ErrFenced) || e.fenced():
			e.loseLease(ctx, err)
			epoch = 0
		default:
			e.log.WarnContext(ctx, "renewing the node's lease", slog.String("node", cl.name), slog.Any("error", err))
			return
		}
	}
	if epoch == 0 {
		if retries, err = e.register(ctx); err != nil {
			e.log.WarnContext(ctx, "registering the node again", slog.String("node", cl.name), slog.Any("error", err))
			return
		}
		registered = true
		if nodes, err = cl.cfg.Nodes.ListNodes(ctx); err != nil {
			e.log.WarnContext(ctx, "listing the nodes", slog.Any("error", err))
		}
	}
	e.mu.Lock()
	stopping := e.stopping
	e.mu.Unlock()
	for _, n := range nodes {
		if n.State == store.NodeSuspect && !stopping {
			swept, err := cl.cfg.Nodes.SweepNodes(ctx, cl.cfg.Grace)
			if err != nil {
				e.log.WarnContext(ctx, "sweeping lost nodes", slog.Any("error", err))
			} else if len(swept) > 0 {
				e.log.InfoContext(ctx, "took over the runs of lost nodes", slog.Int("runs", len(swept)))
			}
			retries = append(retries, swept...)
			break
		}
	}
	e.retryInterrupted(ctx, retries)
	if (changed || registered) && !stopping {
		e.adoptRetries(ctx, registered, retries)
	}
	if !stopping {
		e.catchUpPending(ctx)
	}
}

// loseLease fences the node: it starts no run, drops its queued runs and
// cancels its running ones, whose ends it leaves to the node that takes
// them over (or to its own next incarnation).
func (e *Engine) loseLease(ctx context.Context, why error) {
	cl := e.cl
	cl.mu.Lock()
	if cl.epoch == 0 {
		cl.mu.Unlock()
		return
	}
	cl.epoch, cl.live = 0, nil
	cl.mu.Unlock()
	e.log.ErrorContext(ctx, "the node lost its lease: it starts no run until it registers again",
		slog.String("node", cl.name), slog.Any("error", why))
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, as := range e.apps {
		for _, r := range as.queue {
			r.ts.queued--
		}
		as.queue = nil
		e.forgetAppLocked(as)
	}
	for _, h := range e.runs {
		h.cancel(errFenced)
	}
}

// adoptRetries schedules the retries pending in the history that this
// node takes on (restoreRetries): those of the tasks it owns whose latest
// run ran on a node that is not live, whose timers died with it; and,
// when it has just registered (self), those of its own name, whose
// timers died with its earlier incarnation or were refused while it held
// no lease. The runs in taken, interrupted by this node's register or
// sweep, are left to retryInterrupted. A retry the lost node, or another
// node, already recorded is found in the history, or refused by the
// store as a second retry of its run.
func (e *Engine) adoptRetries(ctx context.Context, self bool, taken []store.Run) {
	cl := e.cl
	cl.mu.Lock()
	live := cl.live
	cl.mu.Unlock()
	owned := func(key string) bool { return owner(live, key) == cl.name }
	tasks := owned
	if self {
		tasks = everyTask
	}
	err := e.restoreRetries(ctx, tasks, func(key string, last store.Run) bool {
		switch {
		case slices.ContainsFunc(taken, func(r store.Run) bool { return r.ID == last.ID }):
			return false
		case last.Node == cl.name:
			return self
		}
		return !slices.Contains(live, last.Node) && owned(key)
	})
	if err != nil {
		e.log.ErrorContext(ctx, "taking on the retries of lost nodes", slog.Any("error", err))
	}
}

// retryInterrupted retries, per their tasks' retry policies, the runs
// this node took over, interrupted.
func (e *Engine) retryInterrupted(ctx context.Context, runs []store.Run) {
	for _, r := range runs {
		e.mu.Lock()
		ts := e.tasks[r.App+"/"+r.Task]
		var retry app.Retry
		ok := ts != nil && !ts.removed && ts.task.Enabled
		if ok {
			retry = ts.task.Retry
		}
		e.mu.Unlock()
		if !ok || r.Attempt >= retry.Max {
			continue
		}
		attempt := r.Attempt + 1
		delay := retry.Delay(attempt)
		e.log.InfoContext(ctx, "retrying a run taken over", slog.String("task", ts.key), slog.Int64("run", r.ID),
			slog.String("node", r.Node), slog.Int("attempt", attempt), slog.Duration("delay", delay))
		e.retryAfter(delay, &runReq{ts: ts, trigger: store.TriggerRetry, scheduled: r.ScheduledTime,
			attempt: attempt, input: r.Input, user: r.TriggeredByUser, retryOf: r.ID})
	}
}

// watchSlots has the runs that wait for a slot of their app's quotas try
// again when another node gives one back (Cluster.Slots), until leave.
func (e *Engine) watchSlots() {
	slots := e.sharedSlots()
	if slots == nil {
		return
	}
	e.watchCluster("the slots other nodes give back", func(ctx context.Context) error {
		return slots.WatchSlots(ctx, e.slotFreed)
	})
}

// watchCluster runs watch, a watch of the store for what other nodes do,
// in the cluster's crew until leave cancels its ctx.
func (e *Engine) watchCluster(what string, watch func(ctx context.Context) error) {
	cl := e.cl
	ctx, cancel := context.WithCancel(context.Background())
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.stopped {
		cancel()
		return
	}
	cl.unwatch = append(cl.unwatch, cancel)
	cl.crew.spawn(func() {
		if err := watch(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("watching "+what, slog.Any("error", err))
		}
	})
}

// leave stops the heartbeats once the engine's runs have ended, and ends
// the node's lease, so that the other nodes take its schedules at once.
func (e *Engine) leave(ctx context.Context) {
	cl := e.cl
	cl.mu.Lock()
	cl.stopped = true
	for _, unwatch := range cl.unwatch {
		unwatch()
	}
	cl.mu.Unlock()
	cl.crew.stopTimers()
	cl.crew.wait(context.Background())
	cl.crew.stopTimers()
	cl.mu.Lock()
	epoch := cl.epoch
	cl.epoch, cl.live = 0, nil
	cl.mu.Unlock()
	if epoch != 0 {
		if err := cl.cfg.Nodes.LeaveNode(ctx, cl.name, epoch); err != nil {
			e.log.WarnContext(ctx, "leaving the cluster", slog.Any("error", err))
		}
	}
}

// refuseFenced refuses run r on a node without a live lease: a manual
// run gets an error wrapping ErrBusy; any other is dropped, for the node
// that owns its task. A refusal by the store (err ErrFenced) fences the
// node at once.
func (e *Engine) refuseFenced(ctx context.Context, r *runReq, err error) error {
	if !e.fenced() {
		e.loseLease(ctx, err)
	}
	e.log.WarnContext(ctx, "run refused: the node holds no lease", slog.String("task", r.ts.key),
		slog.String("trigger", string(r.trigger)), slog.Time("scheduled", r.scheduled))
	if r.trigger == store.TriggerManual {
		return fmt.Errorf("triggering %s: %w: node %s holds no lease on the cluster (%w)", r.ts.key, ErrBusy, e.cfg.Node, err)
	}
	return nil
}
