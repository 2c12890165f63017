package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/appsync"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestAppStorePostgres: `cronbox app install|disable|uninstall --store
// postgres://…` publish to the cluster's store with no serve running, and
// a node's syncer applies what they published. An uninstall works from a
// home that does not hold the app.
func TestAppStorePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	src := filepath.Join(appTestHome(t), "apps", "demo")
	admin := t.TempDir()
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	current := func() string {
		t.Helper()
		list, err := st.CurrentBundles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Trim(fmt.Sprint(list), "[]")
	}
	do := func(args ...string) {
		t.Helper()
		if code, _, stderr := cli(t, append(args, "--store", url)...); code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}

	do("app", "install", src, "--home", admin)
	if got := current(); got != "demo@1" {
		t.Fatalf("after install: %s, want demo@1", got)
	}
	do("app", "disable", "demo", "--home", admin)
	if got := current(); got != "demo@2" {
		t.Fatalf("after disable: %s, want demo@2", got)
	}
	do("app", "disable", "demo", "--home", admin) // no change, no version
	if got := current(); got != "demo@2" {
		t.Fatalf("after a second disable: %s, want demo@2", got)
	}

	node := t.TempDir()
	s, err := appsync.New(appsync.Config{Home: node, Store: st, CacheDir: wasmtest.CompilationCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(node, "apps", "demo", "app.yaml"))
	if err != nil || !strings.Contains(string(b), "enabled: false") {
		t.Fatalf("the node's demo/app.yaml = %q, %v; want the disabled version", b, err)
	}

	do("app", "uninstall", "demo", "--yes", "--home", t.TempDir())
	if got := current(); got != "demo@3:removed" {
		t.Fatalf("after uninstall: %s, want demo@3:removed", got)
	}
	if code, _, stderr := cli(t, "app", "uninstall", "demo", "--yes", "--home", t.TempDir(), "--store", url); code == 0 || !strings.Contains(stderr, "not") {
		t.Errorf("a second uninstall: exit %d: %s; want an error saying it is not installed", code, stderr)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(node, "apps", "demo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the node's demo: %v; want it uninstalled", err)
	}

	// Uninstalled without a purge, then purged: every node deletes its
	// files of the app; a second purge finds nothing to purge.
	mustWrite(t, filepath.Join(node, "data", "files", "demo", "state"), []byte("x"))
	do("app", "uninstall", "demo", "--purge", "--yes", "--home", t.TempDir())
	if got := current(); got != "demo@4:removed:purged" {
		t.Fatalf("after a purge: %s, want demo@4:removed:purged", got)
	}
	if code, _, stderr := cli(t, "app", "uninstall", "demo", "--purge", "--yes", "--home", t.TempDir(), "--store", url); code == 0 || !strings.Contains(stderr, "not") {
		t.Errorf("a second purge: exit %d: %s; want an error saying it is not installed", code, stderr)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(node, "data", "files", "demo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the node's files of demo: %v; want them purged", err)
	}
}

// TestServeLifecyclePurge: an uninstall with purge through serve's API
// publishes a purged tombstone, so that every node deletes its files of
// the app; one without publishes nothing itself (the syncer publishes
// the folder gone).
func TestServeLifecyclePurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	home := appTestHome(t)
	if _, _, err := appsync.Publish(ctx, home, st, "demo", "a", lifecycle.ValidateOptions{CacheDir: wasmtest.CompilationCacheDir()}); err != nil {
		t.Fatal(err)
	}
	lc := appLifecycle(lifecycle.Home{Dir: home, Store: st}, st, "a")
	if _, err := lc.Uninstall(ctx, "demo", true); err != nil {
		t.Fatal(err)
	}
	heads, err := st.CurrentBundles(ctx)
	if err != nil || len(heads) != 1 || !heads[0].Purged || heads[0].Node != "a" {
		t.Errorf("CurrentBundles = %+v, %v; want demo's purged tombstone by a", heads, err)
	}
}

// TestServeClusterApps runs two serves on one PostgreSQL store: the second
// starts with the first's app, and an app dropped into the first's apps
// folder is installed and loaded by the second.
func TestServeClusterApps(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	homeA, homeB := testHome(t), t.TempDir()
	_, stopA, logsA := startServe(t, homeA, "--store", url, "--node", "a")
	_, stopB, logsB := startServe(t, homeB, "--store", url, "--node", "b")
	if _, err := os.Stat(filepath.Join(homeB, "apps", "demo", "tasks", "hello.wasm")); err != nil {
		t.Errorf("the second serve started without the first's app: %v\n%s", err, logsB())
	}

	extra := filepath.Join(homeA, "apps", "extra")
	mustWrite(t, filepath.Join(extra, "app.yaml"), []byte("name: extra\n"))
	mustWrite(t, filepath.Join(extra, "config", "tasks.yaml"), []byte("tasks:\n  - name: hi\n    module: tasks/hi.wasm\n"))
	mustWrite(t, filepath.Join(extra, "tasks", "hi.wasm"), wasmtest.Hello())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(logsB(), `msg="app loaded" app=extra`) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the app dropped into the first serve's folder is not loaded by the second; first's log:\n%s\nsecond's log:\n%s", logsA(), logsB())
		}
	}
	for _, stop := range []func() (int, string){stopB, stopA} {
		if code, stderr := stop(); code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr)
		}
	}
	// What a serve publishes is signed with its --node.
	st, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	heads, err := st.CurrentBundles(t.Context())
	if err != nil || len(heads) != 2 {
		t.Fatalf("CurrentBundles = %+v, %v; want demo and extra", heads, err)
	}
	for _, h := range heads {
		if h.Node != "a" {
			t.Errorf("%s was published by %q, want node a", h.App, h.Node)
		}
	}
}
