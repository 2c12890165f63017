package ui_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/web"
	"github.com/cronbox/cronbox/web/ui"
)

// clusterNode is a node of a cluster under test: an engine and the
// server with the UI, on a store of its own (a pool, listeners) on the
// database the nodes share.
type clusterNode struct {
	url string
	eng *engine.Engine
	pg  *postgres.Store
}

// startClusterNode starts the node name on the database at url, with the
// app demo, whose task work runs the progress module wasm.
func startClusterNode(t *testing.T, url, name string, wasm []byte) *clusterNode {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	demo := filepath.Join(home, "apps", "demo")
	write(t, filepath.Join(demo, "app.yaml"), []byte("name: demo\nversion: 1.0.0\n"))
	write(t, filepath.Join(demo, "config", "tasks.yaml"), []byte("tasks:\n  - name: work\n    concurrency: allow\n"))
	write(t, filepath.Join(demo, "tasks", "work.wasm"), wasm)
	pg, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	rt := testenv.Runtime(t)
	eng, err := engine.New(engine.Config{Home: home, Store: engine.StoreOf(pg), Runtime: rt, GracePeriod: time.Second, Node: name})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Engine: eng, Store: web.StoreOf(pg), Runtime: rt, UI: ui.Handler(),
		Cluster: web.Cluster{Node: name, Events: pg, Cancels: pg}})
	if err != nil {
		t.Fatal(err)
	}
	return &clusterNode{url: serve(t, eng, srv, srv.Handler()), eng: eng, pg: pg}
}

// TestClusterRemoteLog: the page of a run that executes on node B, opened
// on node A's server, shows the lines B logs after it opened and the
// progress B stores while the run runs, and once the run has ended every
// stored line once, in order.
func TestClusterRemoteLog(t *testing.T) {
	browser, started := newBrowser(t)
	url := pgtest.URL(t)
	wasm := wasmtest.Build(t, "testdata/progress")
	a := startClusterNode(t, url, "a", wasm)
	b := startClusterNode(t, url, "b", wasm)
	const token = "cbx_ui_test_viewer"
	if _, err := a.pg.CreateToken(context.Background(), store.Token{Name: "viewer", Hash: store.HashToken(token), Role: web.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	started()

	tb := newTab(t, browser, a.url)
	tb.signIn(token)
	const steps = 40
	id, err := b.eng.Trigger(context.Background(), "demo", "work", []byte(fmt.Sprintf(`{"steps": %d, "sleepMs": 400}`, steps)), "test")
	if err != nil {
		t.Fatal(err)
	}
	tb.open("/runs/" + strconv.FormatInt(id, 10))
	tb.visible("#run-remote")
	// The last line shown when the page opened; lines past it were
	// logged on B since, and must show while the run still runs.
	first := eval[int](tb, `Math.max(0, ...[...document.querySelectorAll('.logs li')].map((li) => Number(li.dataset.seq)))`)
	tb.until("lines logged on b after the page opened show on a while the run runs", fmt.Sprintf(
		`document.querySelector('#run-remote') && [...document.querySelectorAll('.logs li')].some((li) => Number(li.dataset.seq) > %d + 2)`, first))

	// Its progress, which B stores with its lines, shows too.
	tb.until("the progress b stores shows on a while the run runs",
		`document.querySelector('#run-remote') && parseInt(document.querySelector('#run-pct').textContent, 10) > 0`)

	tb.until("the run ends", `document.querySelector('main h1 .badge') && document.querySelector('main h1 .badge').textContent === 'succeeded'`)
	stored, err := a.pg.RunLogs(context.Background(), id, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range stored {
		want = append(want, fmt.Sprintf("%d %s", l.Seq, l.Message))
	}
	if len(want) != steps+1 {
		t.Fatalf("the store holds %d lines of the run, want %d", len(want), steps+1)
	}
	tb.until("the last line shows", fmt.Sprintf(`document.querySelectorAll('.logs li').length >= %d`, len(want)))
	got := eval[[]string](tb, `[...document.querySelectorAll('.logs li')].map((li) => li.dataset.seq + ' ' + li.querySelector('.log-msg > span').textContent)`)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a's page shows the lines\n%q\nthe store holds\n%q", got, want)
	}
}
