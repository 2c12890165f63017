package appsync_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/appsync"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// bound is how long a change may take to reach another node: the
// cluster's promise is 5 s; the tests wait longer before they fail, so
// that a loaded machine does not fail them, and log what it took.
const bound = 5 * time.Second

// node is one Cronbox node of a test: a home, its own connections to the
// shared database, an engine watching the home and a syncer.
type node struct {
	t      *testing.T
	name   string
	home   string
	st     *postgres.Store
	eng    *engine.Engine
	sync   *appsync.Syncer
	events <-chan engine.Event
}

// startNode starts a node on the database url in a new home, as serve
// does: the syncer first, then the engine, then the engine's watch.
func startNode(t *testing.T, name, url string) *node {
	t.Helper()
	ctx := context.Background()
	n := &node{t: t, name: name, home: t.TempDir()}
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n.st = st
	rt := testenv.Runtime(t)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test_node", name)
	n.eng, err = engine.New(engine.Config{Home: n.home, Store: engine.StoreOf(st), Runtime: rt, Logger: log, EventBuffer: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := n.eng.Subscribe()
	n.events = events
	n.sync, err = appsync.New(appsync.Config{Home: n.home, Store: st, Node: name, Changes: n.eng, Logger: log,
		CacheDir: wasmtest.CompilationCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	n.sync.Start(ctx)
	if err := n.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		n.eng.Watch(watchCtx, engine.WatchConfig{})
	}()
	t.Cleanup(func() {
		stopWatch()
		<-watched
		n.sync.Stop()
		n.eng.Stop(context.Background())
		unsubscribe()
	})
	return n
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// waitReload waits for the node's engine to report a reload of app that
// ok accepts, and returns how long it took since start.
func (n *node) waitReload(app string, start time.Time, ok func(engine.Event) bool) time.Duration {
	n.t.Helper()
	deadline := time.NewTimer(6 * bound)
	defer deadline.Stop()
	for {
		select {
		case ev := <-n.events:
			if ev.Type == engine.EventAppReloaded && ev.App == app && ok(ev) {
				return time.Since(start)
			}
		case <-deadline.C:
			n.t.Fatalf("node %s: no reload of app %s after %s", n.name, app, 6*bound)
		}
	}
}

func loaded(ev engine.Event) bool  { return ev.Message == "" }
func removed(ev engine.Event) bool { return ev.Message == "removed" }
func failed(ev engine.Event) bool  { return ev.Message != "" && ev.Message != "removed" }

// run runs app's task hi once on the node and fails the test unless it
// succeeds.
func (n *node) run(app string) {
	n.t.Helper()
	id, err := n.eng.Trigger(context.Background(), app, "hi", nil, "test")
	if err != nil {
		n.t.Fatalf("node %s: triggering %s/hi: %v", n.name, app, err)
	}
	deadline := time.NewTimer(6 * bound)
	defer deadline.Stop()
	for {
		select {
		case ev := <-n.events:
			if ev.Type == engine.EventRunFinished && ev.RunID == id {
				if ev.Status != store.StatusSucceeded {
					n.t.Fatalf("node %s: %s/hi ended %s (%s); want success", n.name, app, ev.Status, ev.Message)
				}
				return
			}
		case <-deadline.C:
			n.t.Fatalf("node %s: run %d of %s/hi did not end", n.name, id, app)
		}
	}
}

// waitFor waits until cond holds, looking again at every change of the
// node's syncer or engine, at most a few times a second.
func (n *node) waitFor(what string, cond func() bool) {
	n.t.Helper()
	deadline := time.Now().Add(6 * bound)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s: still not %s after %s", n.name, what, 6*bound)
		}
		<-tick.C
	}
}

// writeApp writes the app name, whose task hi runs the hello module, into
// dir, with extra lines in its app.yaml.
func writeApp(t *testing.T, dir, name, extra string) {
	t.Helper()
	writeFiles(t, dir, map[string][]byte{
		"app.yaml":          []byte("name: " + name + "\nversion: 1.0.0\n" + extra),
		"config/tasks.yaml": []byte("tasks:\n  - name: hi\n    module: tasks/hi.wasm\n"),
		"tasks/hi.wasm":     wasmtest.Hello(),
	})
}

// writeFiles writes files, by slash path, under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for rel, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// versions lists the store's current versions.
func versions(t *testing.T, st store.Bundles) string {
	t.Helper()
	list, err := st.CurrentBundles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(fmt.Sprint(list), "[]")
}

// settled waits until every node has the store's current version of
// every app: nothing is on its way any more.
func settled(t *testing.T, nodes ...*node) {
	t.Helper()
	heads, err := nodes[0].st.CurrentBundles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.waitFor("up to date", func() bool {
			got := n.sync.Status()
			for _, h := range heads {
				if got[h.App].Version != h.Version {
					return false
				}
			}
			return true
		})
	}
}

// TestCluster runs two nodes on one store, and a third that starts late:
// an app installed on one runs on the other; one dropped into a node's
// folder reaches the other; switching an app off and uninstalling it are
// cluster-wide; a broken version stays where it was dropped, with its
// error shown, and the last good one runs everywhere; the late node gets
// every current app. No version goes round: each change is one version.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three engines")
	}
	url := pgtest.URL(t)
	a := startNode(t, "a", url)
	b := startNode(t, "b", url)

	// Installed on A as the API installs (into A's folder; A's engine
	// reloads it and A's syncer publishes it): it runs on B.
	src := filepath.Join(t.TempDir(), "hello")
	writeApp(t, src, "hello", "")
	var zipped bytes.Buffer
	if _, err := lifecycle.ExportDir(src, &zipped, lifecycle.Limits{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := lifecycle.InstallArchive(context.Background(), a.home, bytes.NewReader(zipped.Bytes()), int64(zipped.Len()), lifecycle.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("install on a loaded on b in %s", b.waitReload("hello", start, loaded))
	b.run("hello")

	// Dropped into B's folder: it runs on A.
	start = time.Now()
	writeApp(t, homedir.Home(b.home).App("drop"), "drop", "")
	t.Logf("hot-drop on b loaded on a in %s", a.waitReload("drop", start, loaded))
	a.run("drop")

	// Switched off on A, then on again: B follows.
	start = time.Now()
	if err := lifecycle.SetEnabled(a.home, "hello", false); err != nil {
		t.Fatal(err)
	}
	b.waitReload("hello", start, loaded)
	if info, _ := b.eng.App("hello"); info.Manifest.Enabled {
		t.Errorf("hello is still on on b after it was switched off on a")
	}
	start = time.Now()
	if err := lifecycle.SetEnabled(a.home, "hello", true); err != nil {
		t.Fatal(err)
	}
	t.Logf("enable on a applied on b in %s", b.waitReload("hello", start, loaded))
	if info, _ := b.eng.App("hello"); !info.Manifest.Enabled {
		t.Errorf("hello is still off on b after it was switched on on a")
	}
	settled(t, a, b)
	before := versions(t, a.st)

	// A broken version dropped on B: B keeps running the last good one and
	// shows the error; it is not published, so A keeps the good one too.
	yaml := filepath.Join(homedir.Home(b.home).App("drop"), "app.yaml")
	if err := os.WriteFile(yaml, []byte("name: drop\nquotas: [not, a, mapping\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.waitReload("drop", time.Now(), failed)
	b.waitFor("showing drop's error", func() bool { return b.sync.Status()["drop"].Error != "" })
	t.Logf("b's status of drop: %+v", b.sync.Status()["drop"])
	errs, err := a.st.LoadErrors(context.Background())
	if err != nil || len(errs["drop"]) == 0 {
		t.Errorf("load errors seen from a = %v, %v; want drop's", errs, err)
	}
	b.run("drop")
	a.run("drop")
	if got := versions(t, a.st); got != before {
		t.Errorf("versions after the broken drop = %s, want %s as before", got, before)
	}

	// Uninstalled on A: gone from B.
	start = time.Now()
	if _, err := lifecycle.Uninstall(context.Background(), a.home, "hello", lifecycle.UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("uninstall on a applied on b in %s", b.waitReload("hello", start, removed))
	if _, err := os.Stat(homedir.Home(b.home).App("hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hello's folder on b: %v; want it gone", err)
	}

	// A node that starts later gets every current app, the last good
	// version of drop.
	c := startNode(t, "c", url)
	if _, err := os.Stat(homedir.Home(c.home).App("hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the uninstalled hello is on c: %v", err)
	}
	c.run("drop")

	settled(t, a, b, c)
	// hello: installed, off, on, removed; drop: dropped. Nothing more: no
	// node published what it had installed from the store.
	if got, want := versions(t, a.st), "drop@1 hello@4:removed"; got != want {
		t.Errorf("versions = %s, want %s", got, want)
	}
}

// TestRestartStale: a node that was away while an app changed does not
// publish its old copy on return, it installs the current one; what it
// changed while away is published, unless it is broken, when the current
// version replaces it.
func TestRestartStale(t *testing.T) {
	url := pgtest.URL(t)
	st, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	home := t.TempDir()
	publish := func(extra string) store.AppBundle {
		t.Helper()
		writeApp(t, homedir.Home(home).App("hello"), "hello", extra)
		v, _, err := appsync.Publish(ctx, home, st, "hello", "elsewhere", lifecycle.ValidateOptions{CacheDir: wasmtest.CompilationCacheDir()})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	publish("")                 // version 1, which the node holds
	publish("description: 2\n") // version 2, published while the node was away
	writeApp(t, homedir.Home(home).App("hello"), "hello", "")
	writeApp(t, homedir.Home(home).App("mine"), "mine", "") // made while away
	// Published, then broken while away: the published version comes back.
	writeApp(t, homedir.Home(home).App("bad"), "bad", "")
	if _, _, err := appsync.Publish(ctx, home, st, "bad", "elsewhere", lifecycle.ValidateOptions{CacheDir: wasmtest.CompilationCacheDir()}); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(homedir.Home(home).App("bad"), "app.yaml")
	if err := os.WriteFile(badYAML, []byte("name: [bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	s, err := appsync.New(appsync.Config{Home: home, Store: st, Node: "n", CacheDir: wasmtest.CompilationCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(homedir.Home(home).App("hello"), "app.yaml"))
	if err != nil || !strings.Contains(string(b), "description: 2") {
		t.Errorf("hello's app.yaml = %q, %v; want version 2's", b, err)
	}
	if b, err := os.ReadFile(badYAML); err != nil || !strings.Contains(string(b), "version: 1.0.0") {
		t.Errorf("bad's app.yaml = %q, %v; want the published version's", b, err)
	}
	if got, want := versions(t, st), "bad@1 hello@2 mine@1"; got != want {
		t.Errorf("versions = %s, want %s", got, want)
	}
}

// TestBadBundle: a version that does not install leaves the version
// before in the folder, with the error in the node's status, and is not
// tried again; the next good version installs.
func TestBadBundle(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := t.TempDir()
	vopts := lifecycle.ValidateOptions{CacheDir: wasmtest.CompilationCacheDir()}
	writeApp(t, homedir.Home(src).App("hello"), "hello", "")
	if _, _, err := appsync.Publish(ctx, src, st, "hello", "elsewhere", vopts); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cs := &countingStore{Bundles: st}
	s, err := appsync.New(appsync.Config{Home: home, Store: cs, Node: "n", CacheDir: wasmtest.CompilationCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(homedir.Home(home).App("hello"), "app.yaml")
	good, err := os.ReadFile(yaml)
	if err != nil {
		t.Fatal(err)
	}

	if _, _, err := st.PublishBundle(ctx, store.AppBundle{App: "hello", Hash: "sha256:bad"}, []byte("not a zip")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if cs.reads != 2 {
		t.Errorf("%d bundles read; want 2, version 1 and version 2 once", cs.reads)
	}
	if got := s.Status()["hello"]; got.Version != 1 || !strings.Contains(got.Error, "version 2") || !strings.Contains(got.Error, "archive refused") {
		t.Errorf("status = %+v; want version 1, with version 2's refusal", got)
	}
	if b, err := os.ReadFile(yaml); err != nil || !bytes.Equal(b, good) {
		t.Errorf("app.yaml = %q, %v; want version 1's, %q", b, err, good)
	}

	writeApp(t, homedir.Home(src).App("hello"), "hello", "description: 3\n")
	if _, _, err := appsync.Publish(ctx, src, st, "hello", "elsewhere", vopts); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Status()["hello"]; got.Version != 3 || got.Error != "" {
		t.Errorf("status after version 3 = %+v; want version 3, no error", got)
	}
}

// countingStore counts the bundles read.
type countingStore struct {
	store.Bundles
	reads int
}

func (c *countingStore) BundleData(ctx context.Context, app, hash string) ([]byte, error) {
	c.reads++
	return c.Bundles.BundleData(ctx, app, hash)
}

// TestHiddenFiles: every node holds the same files of an app, whether it
// came as an archive (an API install, a backup) or was dropped into a
// node's folder: public/.well-known reaches every node, and the hidden
// files that are not part of an app (app.Hidden) reach none, not even the
// node an archive brought them to.
func TestHiddenFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two engines")
	}
	url := pgtest.URL(t)
	a := startNode(t, "a", url)
	b := startNode(t, "b", url)
	extra := map[string][]byte{
		"public/index.html":                          []byte("<p>hello"),
		"public/.well-known/acme-challenge/token123": []byte("token123.key"),
		".env":                  []byte("SECRET=1"),
		".git/config":           []byte("[core]"),
		"public/.env":           []byte("SECRET=2"),
		"public/.well-known/.x": []byte("x"),
	}
	makeApp := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		writeApp(t, dir, name, "")
		writeFiles(t, dir, extra)
		return dir
	}
	// What the nodes must hold: the app's files, .well-known's included.
	want := filesOf(t, makeApp("want"), false)
	delete(want, "app.yaml")
	if _, ok := want["public/.well-known/acme-challenge/token123"]; !ok || len(want) != 4 {
		t.Fatalf("the app's files are %v", want)
	}
	same := func(n *node, app string) func() bool {
		return func() bool {
			got := filesOf(t, homedir.Home(n.home).App(app), true)
			delete(got, "app.yaml")
			return fmt.Sprint(got) == fmt.Sprint(want)
		}
	}

	// An archive that holds every file of the folder, as a backup does,
	// installed on A.
	zipped := zipAll(t, makeApp("hello"))
	if _, err := lifecycle.InstallArchive(context.Background(), a.home, bytes.NewReader(zipped), int64(len(zipped)), lifecycle.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the installed app's files on b", same(b, "hello"))
	if !same(a, "hello")() {
		t.Errorf("a holds %v, want %v", filesOf(t, homedir.Home(a.home).App("hello"), true), want)
	}

	// A folder dropped into B's apps, hidden files and all: A gets the
	// app's files; B keeps what was dropped.
	if err := os.Rename(makeApp("drop"), homedir.Home(b.home).App("drop")); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the dropped app's files on a", same(a, "drop"))
	if got := filesOf(t, homedir.Home(b.home).App("drop"), true); got[".env"] != "SECRET=1" {
		t.Errorf("b's dropped folder lost its .env: %v", got)
	}
}

// filesOf returns the files under dir by slash path, with their content;
// with all, the hidden ones too.
func filesOf(t *testing.T, dir string, all bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !all && app.Hidden(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// zipAll archives every file under dir, hidden ones included, in a folder
// named as dir.
func zipAll(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for rel, body := range filesOf(t, dir, true) {
		w, err := zw.Create(filepath.Base(dir) + "/" + rel)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPurge: an uninstall that purges, on one node, deletes the store's
// data of the app once and every node's files of it: those of a node that
// was running, and those of a node that was away, when it starts.
func TestPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three engines")
	}
	url := pgtest.URL(t)
	ctx := context.Background()
	a := startNode(t, "a", url)
	b := startNode(t, "b", url)
	start := time.Now()
	writeApp(t, homedir.Home(a.home).App("hello"), "hello", "")
	b.waitReload("hello", start, loaded)
	// The app's files on each node, and on a node that is away; its
	// key-value store, the cluster's.
	away := t.TempDir()
	for _, home := range []string{a.home, b.home, away} {
		writeApp(t, homedir.Home(home).Files("hello"), "x", "")
	}
	if err := a.st.KV("hello").Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// A node that did not purge keeps its files: the next version of
	// the app finds them.
	writeApp(t, homedir.Home(a.home).Files("kept"), "x", "")

	// Uninstalled with --purge on A, as the command line does.
	if _, err := lifecycle.Uninstall(ctx, a.home, "hello", lifecycle.UninstallOptions{Purge: true, Store: a.st}); err != nil {
		t.Fatal(err)
	}
	if _, published, err := appsync.Unpublish(ctx, a.st, "hello", "a", true); err != nil || !published {
		t.Fatalf("publishing the purge: %v, %v", published, err)
	}
	gone := func(p string) func() bool {
		return func() bool { _, err := os.Lstat(p); return errors.Is(err, fs.ErrNotExist) }
	}
	testenv.WaitFor(t, "hello's files gone from b", gone(homedir.Home(b.home).Files("hello")))
	testenv.WaitFor(t, "hello gone from b", gone(homedir.Home(b.home).App("hello")))
	if _, ok, err := b.st.KV("hello").Get(ctx, "k"); err != nil || ok {
		t.Errorf("hello's key-value store after the purge: %v, %v; want nothing", ok, err)
	}
	if gone(homedir.Home(a.home).Files("kept"))() {
		t.Errorf("another app's files went with the purge")
	}

	// The node that was away deletes its files when it starts.
	s, err := appsync.New(appsync.Config{Home: away, Store: a.st, Node: "c", CacheDir: wasmtest.CompilationCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !gone(homedir.Home(away).Files("hello"))() {
		t.Errorf("hello's files on the node that was away outlived its start")
	}
	// The purged tombstone is current: A's syncer may have published a
	// plain one before it, on seeing the folder go.
	if got := versions(t, a.st); !strings.HasSuffix(got, ":removed:purged") {
		t.Errorf("versions = %s, want hello's purged tombstone", got)
	}
}
