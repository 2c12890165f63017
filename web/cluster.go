package web

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Cluster joins a server to the other nodes of a cluster, the cronbox
// serve processes that share its store. The zero value is one node
// alone: the server shows its own engine's events, runs and node.
type Cluster struct {
	// Node is this node's name, as GET /nodes shows it. Default: the
	// host's name.
	Node string
	// Addr is the address this node serves at, which GET /nodes shows
	// when Nodes is nil. Default "".
	Addr string
	// Version is this node's Cronbox version, which GET /nodes shows
	// when Nodes is nil. Default "".
	Version string
	// Events wakes the event stream when other nodes recorded events,
	// which it then streams from the store, in the order of their IDs,
	// among its own engine's. Default nil: only this engine's events.
	Events EventWatcher
	// Cancels carries a cancel to the node that runs the run, and this
	// node's runs' cancels asked on other nodes to this engine. Default
	// nil: only this engine's runs can be cancelled.
	Cancels CancelRequests
	// Nodes lists the cluster's nodes for GET /nodes and the per-node
	// series of /metrics. Default nil: this node alone, from what the
	// server knows of it.
	Nodes NodeLister
	// MetricsNodesTTL is how long /metrics reuses the list of nodes it
	// read from Nodes: scrapes of several nodes, or by several
	// Prometheus servers, cost the database one read every few seconds.
	// Default 3s; negative: read at every scrape.
	MetricsNodesTTL time.Duration
}

// clustered reports whether the server is one node of several: a run
// running that its engine does not know then runs on another node.
func (c Cluster) clustered() bool { return c.Events != nil || c.Cancels != nil || c.Nodes != nil }

// EventWatcher tells the server when other nodes recorded events in the
// store they share (package engine/store/postgres implements it).
type EventWatcher interface {
	// WatchEvents calls wake when other nodes may have appended events,
	// with the ID of one appended, or 0 when it cannot tell, until ctx
	// is done; then it returns ctx's error. Calls may be spurious or
	// coalesced: the server reads the store after the last event it
	// sent.
	WatchEvents(ctx context.Context, wake func(id int64)) error
}

// CancelRequests carries cancels between the nodes of a cluster (package
// engine/store/postgres implements it).
type CancelRequests interface {
	// RequestCancel asks whichever node runs run id to cancel it.
	RequestCancel(ctx context.Context, id int64) error
	// WatchCancels calls cancel with the ID of each run whose cancel was
	// requested and that is still running, until ctx is done; then it
	// returns ctx's error. cancel reports whether it cancelled the run
	// (this node runs it), which settles the request.
	WatchCancels(ctx context.Context, cancel func(ctx context.Context, id int64) bool) error
}

// NodeLister lists the nodes of a cluster (the registry of package
// engine/store, through an adapter).
type NodeLister interface {
	// Nodes returns every node the registry knows, live or not.
	Nodes(ctx context.Context) ([]NodeInfo, error)
}

// The states of a node.
const (
	NodeAlive   = "alive"   // its lease is live
	NodeSuspect = "suspect" // its lease has expired, and its work is not taken over yet
	NodeDead    = "dead"    // its work was taken over
)

// NodeInfo is one node of a cluster.
type NodeInfo struct {
	// Name is the node's name (cronbox serve --node).
	Name string
	// Addr is the address it serves at.
	Addr string
	// Version is its Cronbox version.
	Version string
	// Started is when it started; Heartbeat when it last renewed its
	// lease.
	Started, Heartbeat time.Time
	// State is NodeAlive, NodeSuspect or NodeDead.
	State string
	// Running is how many runs it executes; Capacity how many it may.
	Running, Capacity int
	// Apps are the apps it has loaded, with their versions.
	Apps []NodeApp
	// Runs counts the runs that ended on it since it started, by task
	// and status, as it last reported them.
	Runs []store.RunCount
}

// NodeApp is an app a node has loaded, at a version.
type NodeApp struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// nodeJSON is a node as GET /nodes gives it.
type nodeJSON struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	State     string    `json:"state"`
	// Running is null to a token scoped to some apps: it counts the
	// runs of every app.
	Running  *int      `json:"running"`
	Capacity int       `json:"capacity"`
	Apps     []NodeApp `json:"apps"`
	// Self marks the node that answers.
	Self bool `json:"self"`
}

// nodeName is Cluster.Node's default: the host's name.
func nodeName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// nodes returns the cluster's nodes, sorted by name: the lister's, or
// this node alone.
func (s *Server) nodes(ctx context.Context) ([]NodeInfo, error) {
	if s.cfg.Cluster.Nodes == nil {
		return []NodeInfo{s.selfNode()}, nil
	}
	ns, err := s.cfg.Cluster.Nodes.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	ns = slices.Clone(ns)
	slices.SortFunc(ns, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return ns, nil
}

// selfNode is this node as the server knows it.
func (s *Server) selfNode() NodeInfo {
	n := NodeInfo{
		Name: s.cfg.Cluster.Node, Addr: s.cfg.Cluster.Addr, Version: s.cfg.Cluster.Version,
		Started: s.started, Heartbeat: s.eng.Now().UTC(), State: NodeAlive,
		Running: len(s.eng.Running()), Capacity: s.eng.MaxConcurrent(), Apps: []NodeApp{},
	}
	for _, a := range s.eng.Apps() {
		if a.Loaded {
			n.Apps = append(n.Apps, NodeApp{Name: a.Name, Version: a.Manifest.Version})
		}
	}
	return n
}

// listNodes serves GET /nodes: every node, to any role. A token scoped to
// some apps sees only those apps among each node's, and not how many runs
// each executes.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	ns, err := s.nodes(r.Context())
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	out := struct {
		Nodes []nodeJSON `json:"nodes"`
	}{Nodes: make([]nodeJSON, 0, len(ns))}
	for _, n := range ns {
		apps := []NodeApp{}
		for _, a := range n.Apps {
			if p.sees(a.Name) {
				apps = append(apps, a)
			}
		}
		var running *int
		if p.apps == nil {
			running = &n.Running
		}
		out.Nodes = append(out.Nodes, nodeJSON{
			Name: n.Name, Address: n.Addr, Version: n.Version, Started: n.Started.UTC(), Heartbeat: n.Heartbeat.UTC(),
			State: n.State, Running: running, Capacity: n.Capacity, Apps: apps, Self: n.Name == s.cfg.Cluster.Node,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

// nodesCache is the list of nodes /metrics last read.
type nodesCache struct {
	mu    sync.Mutex
	at    time.Time
	nodes []NodeInfo
}

// metricsNodes returns the cluster's nodes for /metrics, read at most
// once every Cluster.MetricsNodesTTL.
func (s *Server) metricsNodes(ctx context.Context) ([]NodeInfo, error) {
	c := &s.nodesCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.cfg.Clock.Now()
	if c.nodes != nil && now.Sub(c.at) < s.cfg.Cluster.MetricsNodesTTL {
		return c.nodes, nil
	}
	ns, err := s.nodes(ctx)
	if err != nil {
		return nil, err
	}
	c.at, c.nodes = now, ns
	return ns, nil
}

// writeRunCounts writes cronbox_runs_total: this engine's counts alone,
// or in a cluster every node's, labelled by node, as each reported them
// with its last lease renewal (this node's are its engine's, of now).
func (s *Server) writeRunCounts(ctx context.Context, pw promWriter, sees func(app string) bool) {
	pw.header("cronbox_runs_total", "counter", "Runs that ended (or were skipped) since the node started, by node in a cluster, app, task and status.")
	own := s.eng.RunCounts()
	if s.cfg.Cluster.Nodes == nil {
		for _, c := range own {
			if sees(c.App) {
				pw.sample("cronbox_runs_total", []string{"app", c.App, "task", c.Task, "status", string(c.Status)}, float64(c.N))
			}
		}
		return
	}
	ns, err := s.metricsNodes(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "metrics: listing the nodes", slog.Any("error", err))
	}
	self := s.cfg.Cluster.Node
	if !slices.ContainsFunc(ns, func(n NodeInfo) bool { return n.Name == self }) {
		ns = append(slices.Clip(ns), NodeInfo{Name: self})
	}
	for _, n := range ns {
		runs := n.Runs
		if n.Name == self {
			runs = own
		}
		for _, c := range runs {
			if sees(c.App) {
				pw.sample("cronbox_runs_total", []string{"node", n.Name, "app", c.App, "task", c.Task, "status", string(c.Status)}, float64(c.N))
			}
		}
	}
}

// writeNodeMetrics writes the per-node series: whether each node is
// alive, and its running runs against its capacity.
func (s *Server) writeNodeMetrics(ctx context.Context, pw promWriter) {
	ns, err := s.metricsNodes(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "metrics: listing the nodes", slog.Any("error", err))
		return
	}
	up := func(n NodeInfo) float64 {
		if n.State == NodeAlive {
			return 1
		}
		return 0
	}
	for _, m := range []struct {
		name, help string
		v          func(NodeInfo) float64
	}{
		{"cronbox_node_up", "Whether the node's lease is live (1) or not (0).", up},
		{"cronbox_node_running", "Runs the node executes.", func(n NodeInfo) float64 { return float64(n.Running) }},
		{"cronbox_node_capacity", "Runs the node may execute at once.", func(n NodeInfo) float64 { return float64(n.Capacity) }},
	} {
		pw.header(m.name, "gauge", m.help)
		for _, n := range ns {
			pw.sample(m.name, []string{"node", n.Name}, m.v(n))
		}
	}
}

// watchCancels cancels the runs of this engine whose cancel other nodes
// asked for, until ctx is done.
func (s *Server) watchCancels(ctx context.Context) {
	err := s.cfg.Cluster.Cancels.WatchCancels(ctx, func(ctx context.Context, id int64) bool {
		if err := s.eng.Cancel(ctx, id); err != nil { // not this node's run
			return false
		}
		s.log.InfoContext(ctx, "run cancelled at another node's request", slog.Int64("run", id))
		return true
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("watching the cancels of other nodes", slog.Any("error", err))
	}
}
