package store

import (
	"context"
	"errors"
	"time"
)

// NodeState is how a node of a cluster stands, as the store's clock sees
// its lease.
type NodeState string

// The states of a node.
const (
	// NodeAlive: its lease is live.
	NodeAlive NodeState = "alive"
	// NodeSuspect: its lease has ended, or it left, and no node has
	// taken its work over yet (SweepNodes).
	NodeSuspect NodeState = "suspect"
	// NodeDead: a node took its work over.
	NodeDead NodeState = "dead"
)

// NodeStatus is what a node reports of itself when it registers and at
// every renewal of its lease.
type NodeStatus struct {
	// Name is the node's name (serve --node). Required.
	Name string
	// Addr is where its API listens; Version its Cronbox version.
	Addr, Version string
	// Running is how many runs it has running; Capacity how many it may
	// run at once.
	Running, Capacity int
	// Apps are the apps it has loaded, with their versions.
	Apps map[string]string
	// Runs counts the runs that ended on it since it started, by task
	// and status: its /metrics counters, which any node shows.
	Runs []RunCount
}

// RunCount is how many runs of a task ended with a status.
type RunCount struct {
	App    string `json:"app"`
	Task   string `json:"task"`
	Status Status `json:"status"`
	N      uint64 `json:"n"`
}

// Node is a node of a cluster, as the registry holds it.
type Node struct {
	NodeStatus
	// Epoch is the node's incarnation: it grows at every RegisterNode of
	// the name, and fences the runs of the incarnations before.
	Epoch int64
	// StartedAt is when this incarnation registered; HeartbeatAt when it
	// last renewed its lease; LeaseUntil when the lease ends. All are the
	// store's clock.
	StartedAt, HeartbeatAt, LeaseUntil time.Time
	// State is computed from the store's clock when the node is read.
	State NodeState
}

// Nodes is the registry of the nodes of a cluster that share one store,
// with their leases. Every time of a lease is the store's clock, never a
// node's, so that nodes' clocks may disagree. A store of one node (SQLite)
// does not provide it.
type Nodes interface {
	// RegisterNode starts a new incarnation of the node st.Name, with a
	// new epoch and a lease of ttl. It returns ErrNodeRunning if the name
	// holds a live lease. From then on the store refuses, with ErrFenced,
	// to record a run of Run.Node st.Name (StartRun, RecordSkipped) unless
	// the lease of that epoch is live.
	RegisterNode(ctx context.Context, st NodeStatus, ttl time.Duration) (Node, error)
	// RenewLease extends the lease of the incarnation epoch of node name
	// to ttl from now, records st, and returns every node as ListNodes
	// does, in one round trip. It returns ErrFenced if that incarnation
	// is no longer current, has left, or its lease has already ended: it
	// must then register again.
	RenewLease(ctx context.Context, name string, epoch int64, ttl time.Duration, st NodeStatus) ([]Node, error)
	// ListNodes returns every node the registry knows, ordered by name.
	ListNodes(ctx context.Context) ([]Node, error)
	// InterruptNodeRuns ends as interrupted the runs of node name still
	// running, and returns them with their input. A node calls it when it
	// registers: those runs belong to an incarnation before it.
	InterruptNodeRuns(ctx context.Context, name string) ([]Run, error)
	// SweepNodes marks dead every node that left or whose lease ended
	// more than grace ago, and ends its running runs as interrupted, in
	// one transaction; of nodes sweeping at once, one takes each node.
	// It returns the runs it ended, with their input.
	SweepNodes(ctx context.Context, grace time.Duration) ([]Run, error)
	// LeaveNode ends the lease of the incarnation epoch of node name at
	// once, leaving the runs it still has to the next SweepNodes.
	LeaveNode(ctx context.Context, name string, epoch int64) error
}

// Slot is what a run takes of its app's quotas on a store shared by
// several nodes, for as long as it executes.
type Slot struct {
	// App is the run's app, whose quotas the slot is of. A store shared
	// by several nodes orders by it the writes that take slots, among
	// the writes it sends together, so that they lock the apps' quotas
	// in one order (see RunEnd.App); it does not check it against the run.
	App string
	// Concurrency is the app's quotas.concurrency: at most that many runs
	// of the app hold a slot at once, over every node.
	Concurrency int
	// Memory is the run's memory limit, and MemoryQuota the app's memory
	// quota: the runs that hold the app's slots have limits that sum to
	// at most MemoryQuota, unless one holds a slot alone.
	Memory, MemoryQuota int64
	// Taken is set by Runs.StartRun when it took the slot (Run.Slot).
	Taken bool
}

// Slots shares the quotas of each app among the nodes of a cluster: a run
// executes only while it holds a slot of its app. A slot is taken with
// the start of a run (Run.Slot) or later (TakeSlot), and given back by
// whatever ends the run (FinishRun, EndRun, InterruptNodeRuns,
// SweepNodes, MarkInterrupted) or deletes it, in the same write. A store
// of one node (SQLite) does not provide it.
type Slots interface {
	// TakeSlot takes a slot of its app for run id, which is running
	// (recorded, waiting in its node's queue), if the app's quotas leave
	// room for it beside the runs holding slots (s.Concurrency,
	// s.MemoryQuota). It reports whether the run holds a slot: true also
	// when it held one already, false when the quotas are full or the run
	// has ended.
	TakeSlot(ctx context.Context, id int64, s Slot) (bool, error)
	// WatchSlots calls wake with the name of each app one of whose slots
	// was given back, on any node, and with "" when it cannot tell
	// (after each connection to the store, and periodically), until ctx
	// is done; it returns ctx's error.
	WatchSlots(ctx context.Context, wake func(app string)) error
}

// TaskModule is a task a node can run, and the hash of the module it runs
// it with: of the runs that wait on other nodes, a node takes over only
// those it runs with the same module.
type TaskModule struct {
	App, Task, Module string
}

// The errors of a store shared by several nodes.
var (
	// ErrNodeRunning reports a RegisterNode of a name whose lease is
	// live.
	ErrNodeRunning = errors.New("node is already running")
	// ErrFenced reports a write of a node whose lease is not live: it
	// must not start runs, and must register again.
	ErrFenced = errors.New("node's lease is not live")
	// ErrOverlap reports a StartRun of a run with NoOverlap while another
	// run of its task with NoOverlap is running.
	ErrOverlap = errors.New("another run of the task is running")
	// ErrNotWaiting reports the start of a run recorded as waiting
	// (Run.Waiting) that is no longer the node's: another node took it
	// over, or it has ended.
	ErrNotWaiting = errors.New("run no longer waits on this node")
)
