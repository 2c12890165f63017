package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/appsync"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/storeurl"
	"github.com/cronbox/cronbox/web"
)

// startAppSync keeps home's apps folder in step with the apps of the
// cluster when st keeps them (PostgreSQL) and returns its stop; a SQLite
// home is its own truth, and nothing starts. What it publishes is
// signed with node, the node's name. Called before the engine starts,
// it installs the cluster's current apps first.
func startAppSync(ctx context.Context, log *slog.Logger, home, node string, st storeurl.Store, eng *engine.Engine) (stop func(), err error) {
	bs, ok := st.(store.Bundles)
	if !ok {
		return func() {}, nil
	}
	s, err := appsync.New(appsync.Config{Home: home, Store: bs, Node: node, Changes: eng, Logger: log})
	if err != nil {
		return nil, err
	}
	s.Start(ctx)
	return s.Stop, nil
}

// clusterLifecycle is the lifecycle of serve's home when its store keeps
// the cluster's apps: an uninstall that purges publishes a purged
// tombstone at once, so that every node deletes its files of the app (the
// syncer, which sees only a folder gone, publishes a plain one).
type clusterLifecycle struct {
	lifecycle.Home
	bundles store.Bundles
	node    string
}

// appLifecycle returns serve's lifecycle of home: clusterLifecycle when st
// keeps the cluster's apps, home itself otherwise.
func appLifecycle(home lifecycle.Home, st storeurl.Store, node string) web.AppLifecycle {
	if bs, ok := st.(store.Bundles); ok {
		return clusterLifecycle{Home: home, bundles: bs, node: node}
	}
	return home
}

func (c clusterLifecycle) Uninstall(ctx context.Context, name string, purge bool) (*lifecycle.Uninstalled, error) {
	res, err := c.Home.Uninstall(ctx, name, purge)
	if err != nil || !purge {
		return res, err
	}
	if _, _, err := appsync.Unpublish(ctx, c.bundles, name, c.node, true); err != nil {
		return res, fmt.Errorf("app %s is uninstalled and purged on this node, but publishing the purge to the cluster failed: %w", name, err)
	}
	return res, nil
}

// bundles returns the backend's store as the keeper of the cluster's
// apps, or nil when it keeps none (SQLite).
func (b *localBackend) bundles(ctx context.Context) (store.Bundles, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	bs, _ := st.(store.Bundles)
	return bs, nil
}

// publishApp publishes the app name of the home, just changed, to the
// cluster's store, when the store is one: the change reaches every node
// whether a serve runs here or not.
func (b *localBackend) publishApp(ctx context.Context, name string) error {
	bs, err := b.bundles(ctx)
	if err != nil || bs == nil {
		return err
	}
	if _, _, err := appsync.Publish(ctx, b.home, bs, name, nodeName(), lifecycle.ValidateOptions{CacheDir: homedir.Home(b.home).Cache()}); err != nil {
		return fmt.Errorf("app %s is changed in %s, but publishing it to the cluster failed: %w", name, b.home, err)
	}
	return nil
}

// unpublishApp publishes that the app name is uninstalled, and with purge
// that every node deletes its files of it, when the store keeps the
// cluster's apps; it reports whether the store had the app (removed
// without a purge, with purge).
func (b *localBackend) unpublishApp(ctx context.Context, name string, purge bool) (bool, error) {
	bs, err := b.bundles(ctx)
	if err != nil || bs == nil {
		return false, err
	}
	_, published, err := appsync.Unpublish(ctx, bs, name, nodeName(), purge)
	if err != nil {
		return false, fmt.Errorf("uninstalling app %s from the cluster: %w", name, err)
	}
	return published, nil
}

// uninstallElsewhere uninstalls the app name, which this home does not
// hold, from the cluster's store; notHere, the error that says the home
// lacks it, is the answer when the store does not hold it either (or
// keeps no apps).
func (b *localBackend) uninstallElsewhere(ctx context.Context, name string, purge bool, notHere error) (*lifecycle.Uninstalled, error) {
	gone, err := b.unpublishApp(ctx, name, purge)
	if err != nil {
		return nil, err
	}
	if !gone {
		return nil, notHere
	}
	res := &lifecycle.Uninstalled{App: name}
	if purge {
		st, err := b.store(ctx)
		if err == nil {
			err = st.DeleteAppData(ctx, name)
		}
		if err != nil {
			return res, fmt.Errorf("app %s is uninstalled, but purging its data failed: %w", name, err)
		}
		res.Purged = true
	}
	b.audit(ctx, web.ActionAppUninstall, name, name, nil, map[string]any{"purged": res.Purged})
	return res, nil
}

// nodeName names this machine in what the CLI publishes, and serve's
// node when --node is not given: $CRONBOX_NODE, else the host name; ""
// if neither is known.
func nodeName() string {
	if n := os.Getenv(nodeEnv); n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}

// cluster reports whether t names a cluster's store (PostgreSQL), whose
// apps are the cluster's and not only the home's.
func (t *target) cluster() bool {
	raw := t.store
	if raw == "" {
		raw = os.Getenv(storeurl.Env)
	}
	tg, err := storeurl.Parse(raw, t.home)
	return err == nil && tg.Kind == storeurl.Postgres
}
