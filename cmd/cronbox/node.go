package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// nodeEnv is the environment variable that names the node when --node is
// not given.
const nodeEnv = "CRONBOX_NODE"

// serveNode is who serve is in a cluster.
type serveNode struct {
	// Name is the node's name: --node, else $CRONBOX_NODE, else the host
	// name.
	Name string
	// LeaseTTL is --lease-ttl.
	LeaseTTL time.Duration
}

// nodeOf checks --node and --lease-ttl and fills in the defaults.
func nodeOf(name string, leaseTTL time.Duration) (serveNode, error) {
	if name == "" {
		if name = nodeName(); name == "" {
			return serveNode{}, fmt.Errorf("--node not given, $%s empty, and the host name is unknown", nodeEnv)
		}
	}
	if len(name) > 253 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return serveNode{}, fmt.Errorf("--node %q: want a name of at most 253 characters without spaces or control characters", name)
	}
	if leaseTTL < 100*time.Millisecond {
		return serveNode{}, fmt.Errorf("--lease-ttl %s: want at least 100ms", leaseTTL)
	}
	return serveNode{Name: name, LeaseTTL: leaseTTL}, nil
}

// cluster returns the engine's Cluster for a store that several nodes
// share (one that keeps a node registry), nil for a store of one node:
// there the node's name only labels its runs.
func (n serveNode) cluster(st storeurl.Store, addr string) *engine.Cluster {
	nodes, ok := st.(store.Nodes)
	if !ok {
		return nil
	}
	cl := &engine.Cluster{Nodes: nodes, Addr: addr, Version: buildVersion().Version,
		LeaseTTL: n.LeaseTTL, HeartbeatInterval: n.LeaseTTL / 5, Grace: n.LeaseTTL / 5}
	if slots, ok := st.(store.Slots); ok {
		cl.Slots = slots
	}
	return cl
}

// withAppName returns a PostgreSQL store URL with application_name set to
// cronbox/NODE unless it sets one, so that a node's connections are
// found in pg_stat_activity; any other URL as it is.
func withAppName(raw, node string) string {
	if raw == "" {
		raw = os.Getenv(storeurl.Env)
	}
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw // storeurl says what is wrong with it
	}
	q := u.Query()
	if q.Get("application_name") == "" {
		q.Set("application_name", "cronbox/"+node)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
