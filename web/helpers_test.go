package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// t0 is the simulated time tests start at: a Monday, 10:00:00 UTC.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// The apps of a fixture. hello has three tasks; other has one, which a
// token scoped to hello must never see.
const (
	helloTasks = `tasks:
  - name: greet
    description: Says hello
    schedule: "H/5 * * * *"
    tags: [greeting]
  - name: spin
    description: Never ends by itself
    concurrency: forbid
    termination: { maxRuntime: 1h }
  - name: echo
    description: Echoes its input
    environment: { GREETING: hi }
`
	otherTasks = `tasks:
  - name: job
    description: Secret job of another tenant
    schedule: "0 3 * * *"
    tags: [greeting]
`
)

// fixture is a server under test, on a real engine in a temporary home.
type fixture struct {
	t     *testing.T
	home  string
	clock *engine.FakeClock
	st    *store.SQLite
	rt    *runtime.Runtime
	eng   *engine.Engine
	srv   *Server
	http  *httptest.Server
	// tokens by name: admin, operator, viewer, scoped (admin of hello
	// only), revoked.
	tokens map[string]string
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var echoWasm []byte

// newFixture starts an engine and a server; adjust changes the server's
// config before New.
func newFixture(t *testing.T, adjust ...func(*Config)) *fixture {
	t.Helper()
	home := t.TempDir()
	hello := filepath.Join(home, "apps", "hello")
	writeFile(t, filepath.Join(hello, "app.yaml"), []byte("name: hello\ndescription: Greetings\nversion: 1.0.0\nenabled: true\n"))
	writeFile(t, filepath.Join(hello, "config", "tasks.yaml"), []byte(helloTasks))
	writeFile(t, filepath.Join(hello, "tasks", "greet.wasm"), wasmtest.Hello())
	writeFile(t, filepath.Join(hello, "tasks", "spin.wasm"), wasmtest.Spin())
	if echoWasm == nil {
		echoWasm = wasmtest.Build(t, "../engine/testdata/echo")
	}
	writeFile(t, filepath.Join(hello, "tasks", "echo.wasm"), echoWasm)
	other := filepath.Join(home, "apps", "other")
	writeFile(t, filepath.Join(other, "app.yaml"), []byte("name: other\n"))
	writeFile(t, filepath.Join(other, "config", "tasks.yaml"), []byte(otherTasks))
	writeFile(t, filepath.Join(other, "tasks", "job.wasm"), wasmtest.Hello())

	ctx := context.Background()
	st, rt := testenv.Open(t, home)
	clock := engine.NewFakeClock(t0)
	box, err := secrets.New(bytes.Repeat([]byte{9}, secrets.KeySize), st)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, Clock: clock, GracePeriod: time.Second, Secrets: box})
	if err != nil {
		t.Fatal(err)
	}
	admin := lifecycle.Home{Dir: home, Store: st, CacheDir: wasmtest.CompilationCacheDir()}
	cfg := Config{Engine: eng, Store: SQLiteStore(st), Runtime: rt, Apps: admin, Lifecycle: admin, Secrets: box, TempDir: filepath.Join(home, "data", "staging"), PingInterval: time.Hour}
	for _, f := range adjust {
		f(&cfg)
	}
	srv, hs := serveEngine(t, cfg)
	f := &fixture{t: t, home: home, clock: clock, st: st, rt: rt, eng: eng, srv: srv, http: hs, tokens: map[string]string{}}
	for _, tok := range []struct {
		name, role string
		apps       []string
	}{
		{"admin", RoleAdmin, nil}, {"operator", RoleOperator, nil}, {"viewer", RoleViewer, nil},
		{"scoped", RoleAdmin, []string{"hello"}}, {"revoked", RoleAdmin, nil},
	} {
		secret := "cbx_test_" + tok.name
		id, err := st.CreateToken(ctx, store.Token{Name: tok.name, Hash: store.HashToken(secret), Role: tok.role, Apps: tok.apps})
		if err != nil {
			t.Fatal(err)
		}
		if tok.name == "revoked" {
			if err := st.RevokeToken(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		f.tokens[tok.name] = secret
	}
	f.idle()
	return f
}

// serveEngine makes the server of cfg, starts its engine and serves it
// over HTTP, until the test ends.
func serveEngine(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Engine.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Config.RegisterOnShutdown(srv.CloseStreams)
	hs.Start()
	t.Cleanup(func() {
		srv.CloseStreams()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg.Engine.Stop(ctx)
		srv.Close()
	})
	return srv, hs
}

// idle waits until the engine has nothing queued or running.
func (f *fixture) idle() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.eng.WaitIdle(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// response is an answer of the server.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// req is a request to send.
type req struct {
	method, path string
	token        string // a name in fixture.tokens, or "" for none
	body         string // sent as application/json unless contentType is set
	contentType  string
	header       map[string]string
	cookies      []*http.Cookie
}

func (f *fixture) send(r req) response {
	f.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, f.http.URL+r.path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		tok, ok := f.tokens[r.token]
		if !ok {
			tok = r.token
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		hr.AddCookie(c)
	}
	resp, err := f.http.Client().Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// check is one expectation of an endpoint.
type check struct {
	name   string
	req    req
	status int
	field  string // the error's field, when status is an error
	// contains and absent are strings the body must and must not hold.
	contains, absent []string
}

// run sends each check's request and compares.
func (f *fixture) run(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			resp := f.send(c.req)
			if resp.status != c.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", c.req.method, c.req.path, resp.status, c.status, resp.body)
			}
			if c.status >= 400 {
				m := resp.json(t)
				if msg, _ := m["error"].(string); msg == "" {
					t.Errorf("error body without a message: %s", resp.body)
				}
				if got, _ := m["field"].(string); got != c.field {
					t.Errorf("error field %q, want %q; body %s", got, c.field, resp.body)
				}
			}
			for _, s := range c.contains {
				if !bytes.Contains(resp.body, []byte(s)) {
					t.Errorf("body lacks %q: %s", s, resp.body)
				}
			}
			for _, s := range c.absent {
				if bytes.Contains(resp.body, []byte(s)) {
					t.Errorf("body has %q: %s", s, resp.body)
				}
			}
		})
	}
}

// trigger runs a task by hand through the engine and returns the run's ID.
func (f *fixture) trigger(app, task, input string) int64 {
	f.t.Helper()
	var in json.RawMessage
	if input != "" {
		in = json.RawMessage(input)
	}
	id, err := f.eng.Trigger(context.Background(), app, task, in, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// waitRunning waits until run id executes.
func (f *fixture) waitRunning(id int64) {
	f.t.Helper()
	// Running is the engine knowing the run and its guest being live:
	// the engine knows a run a moment before the runtime lists its
	// instance.
	live := func() bool {
		if _, ok := f.eng.Run(id); !ok {
			return false
		}
		return slices.ContainsFunc(f.rt.Instances(), func(in runtime.Instance) bool { return in.RunID == strconv.FormatInt(id, 10) })
	}
	testenv.WaitFor(f.t, fmt.Sprintf("run %d and its instance to start", id), live)
}

// storeToken is a token named name whose secret is "cbx_test_"+name.
func storeToken(name, role string, apps ...string) store.Token {
	return store.Token{Name: name, Hash: store.HashToken("cbx_test_" + name), Role: role, Apps: apps}
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }
