package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// helloRoutes are routes of each kind for the fixture's hello app, all
// run by the test handler (engine/testdata/handler), which answers by path.
const helloRoutes = `name: hello
description: Greetings
roles: [reader]
quotas: {concurrency: 2}
routes:
  - {path: /echo, method: POST, module: routes/handler.wasm, roles: [public], maxBody: 1KiB}
  - {path: /count, module: routes/handler.wasm}
  - {path: /teapot, module: routes/handler.wasm, roles: [operator]}
  - {path: /admin, module: routes/handler.wasm, roles: [admin]}
  - {path: /reader, module: routes/handler.wasm, roles: [reader]}
  - {path: /count, method: POST, module: routes/handler.wasm, roles: [viewer]}
  - {path: /loop, module: routes/handler.wasm, roles: [public], timeout: 200ms}
`

// withRoutes gives the fixture's hello app the routes of helloRoutes and a
// public/ folder, and reloads it.
func (f *fixture) withRoutes() {
	f.t.Helper()
	hello := filepath.Join(f.home, "apps", "hello")
	writeFile(f.t, filepath.Join(hello, "routes", "handler.wasm"), wasmtest.Build(f.t, "../engine/testdata/handler"))
	writeFile(f.t, filepath.Join(hello, "public", "index.html"), []byte("<!doctype html><title>hello</title><p>Hello page"))
	writeFile(f.t, filepath.Join(hello, "public", "js", "app.js"), []byte("console.log('hi')"))
	writeFile(f.t, filepath.Join(hello, "public", "sub", "index.html"), []byte("sub page"))
	writeFile(f.t, filepath.Join(f.home, "secret.txt"), []byte("top secret"))
	writeFile(f.t, filepath.Join(hello, "app.yaml"), []byte(helloRoutes))
	if err := f.eng.ReloadApp(context.Background(), "hello"); err != nil {
		f.t.Fatal(err)
	}
	for _, tok := range []struct {
		name, role string
		apps       []string
	}{
		{"reader", RoleViewer, []string{"hello:reader"}},
		{"elsewhere", RoleAdmin, []string{"other"}},
	} {
		if _, err := f.st.CreateToken(context.Background(), storeToken(tok.name, tok.role, tok.apps...)); err != nil {
			f.t.Fatal(err)
		}
		f.tokens[tok.name] = "cbx_test_" + tok.name
	}
}

// TestAppRouteRoles sends each kind of principal to each kind of route.
func TestAppRouteRoles(t *testing.T) {
	f := newFixture(t)
	f.withRoutes()
	routes := []struct {
		method, path string
	}{{"POST", "/echo"}, {"GET", "/count"}, {"GET", "/teapot"}, {"GET", "/admin"}, {"GET", "/reader"}}
	// want[principal][route]: the status of each route, in routes' order.
	want := map[string][5]int{
		"":          {200, 401, 401, 401, 401},
		"viewer":    {200, 200, 403, 403, 403},
		"operator":  {200, 200, 418, 403, 403},
		"admin":     {200, 200, 418, 200, 200},
		"scoped":    {200, 200, 418, 200, 200},
		"reader":    {200, 200, 403, 403, 200},
		"elsewhere": {200, 404, 404, 404, 404},
		"revoked":   {200, 401, 401, 401, 401},
	}
	for who, statuses := range want {
		for i, rt := range routes {
			resp := f.send(req{method: rt.method, path: "/apps/hello" + rt.path, token: who, body: `{"n":1}`})
			if resp.status != statuses[i] {
				t.Errorf("%q: %s %s = %d, want %d: %s", who, rt.method, rt.path, resp.status, statuses[i], resp.body)
			}
		}
	}
}

func TestAppRouteRequests(t *testing.T) {
	f := newFixture(t)
	f.withRoutes()
	// The handler sees the request, without the caller's credentials.
	resp := f.send(req{method: "POST", path: "/apps/hello/echo?q=hi", token: "viewer", body: "ping", header: map[string]string{"X-Test": "x"}})
	if resp.status != 200 || !strings.Contains(string(resp.body), `"body":"ping"`) || !strings.Contains(string(resp.body), `"query":"hi"`) || !strings.Contains(string(resp.body), `"x_test":"x"`) {
		t.Errorf("echo: %d %s", resp.status, resp.body)
	}
	if csp := resp.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src "+strings.TrimPrefix(f.http.URL, "http://")+"/apps/hello/;") {
		t.Errorf("CSP %q does not keep the page to its app's path", csp)
	}
	f.run(t, []check{
		{name: "body past maxBody", req: req{method: "POST", path: "/apps/hello/echo", body: strings.Repeat("x", 1025)}, status: 413},
		{name: "timed out", req: req{method: "GET", path: "/apps/hello/loop"}, status: 504},
		{name: "no route for the method", req: req{method: "DELETE", path: "/apps/hello/count", token: "admin"}, status: 404},
		{name: "unknown app", req: req{method: "GET", path: "/apps/nosuch/", token: "admin"}, status: 404},
	})
	// A browser session needs the CSRF header for a change, as with the API.
	cookie, csrf := login(t, f, "viewer")
	f.run(t, []check{
		{name: "session GET", req: req{method: "GET", path: "/apps/hello/count", cookies: []*http.Cookie{cookie}}, status: 200},
		{name: "session POST without CSRF", req: req{method: "POST", path: "/apps/hello/count", cookies: []*http.Cookie{cookie}}, status: 403, field: csrfHeader},
		{name: "session POST with CSRF", req: req{method: "POST", path: "/apps/hello/count", cookies: []*http.Cookie{cookie}, header: map[string]string{csrfHeader: csrf}}, status: 200},
	})
}

// TestAppPages serves the app's public/ folder, and nothing beside it.
func TestAppPages(t *testing.T) {
	f := newFixture(t)
	f.withRoutes()
	hello := filepath.Join(f.home, "apps", "hello")
	if err := os.Symlink(filepath.Join(f.home, "secret.txt"), filepath.Join(hello, "public", "leak.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.home, filepath.Join(hello, "public", "home")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("js/app.js", filepath.Join(hello, "public", "inside.js")); err != nil {
		t.Fatal(err)
	}
	// Hidden files are not part of the app, except .well-known.
	writeFile(t, filepath.Join(hello, "public", ".well-known", "security.txt"), []byte("Contact: x"))
	writeFile(t, filepath.Join(hello, "public", ".env"), []byte("top secret"))
	writeFile(t, filepath.Join(hello, "public", ".git", "config"), []byte("top secret"))
	writeFile(t, filepath.Join(hello, "public", ".well-known", ".x"), []byte("top secret"))
	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/apps/hello/", "Hello page", 200},
		{"/apps/hello/js/app.js", "console.log", 200},
		{"/apps/hello/sub/", "sub page", 200},
		{"/apps/hello/inside.js", "console.log", 200},
		{"/apps/hello/js/", "", 404}, // a folder without index.html: no listing
		{"/apps/hello/leak.txt", "", 404},
		{"/apps/hello/home/secret.txt", "", 404},
		{"/apps/hello/../../secret.txt", "", 404},
		{"/apps/hello/%2e%2e/%2e%2e/secret.txt", "", 404},
		{"/apps/hello/..%2f..%2fsecret.txt", "", 404},
		{"/apps/hello/app.yaml", "", 404},
		{"/apps/other/", "", 404}, // other has no public/
		{"/apps/hello/.well-known/security.txt", "Contact", 200},
		{"/apps/hello/.env", "", 404},
		{"/apps/hello/.git/config", "", 404},
		{"/apps/hello/.well-known/.x", "", 404},
		{"/apps/hello/sub/.env", "", 404},
	} {
		resp := f.send(req{method: "GET", path: c.path})
		if resp.status != c.status || c.want != "" && !strings.Contains(string(resp.body), c.want) || strings.Contains(string(resp.body), "top secret") {
			t.Errorf("GET %s = %d %.60q, want %d %q", c.path, resp.status, resp.body, c.status, c.want)
		}
	}
	if resp := f.send(req{method: "GET", path: "/apps/hello"}); resp.status != 200 || !strings.Contains(string(resp.body), "Hello page") {
		t.Errorf("/apps/hello is not redirected to its page: %d %s", resp.status, resp.body)
	}
}

// TestAppRoutesShown: the routes' counts, failed requests and page are in
// the API, as the schema says, and their series in /metrics.
func TestAppRoutesShown(t *testing.T) {
	f := newFixture(t)
	f.withRoutes()
	f.send(req{method: "GET", path: "/apps/hello/count", token: "viewer"})
	f.send(req{method: "GET", path: "/apps/hello/loop"})
	resp := f.send(req{method: "GET", path: "/api/v1/apps/hello/routes", token: "viewer"})
	if resp.status != 200 {
		t.Fatalf("%d %s", resp.status, resp.body)
	}
	var v any
	if err := json.Unmarshal(resp.body, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range conform(loadOpenAPI(t), map[string]any{"$ref": "#/components/schemas/AppRoutes"}, v, "$") {
		t.Error(p)
	}
	for _, want := range []string{`"page":"/apps/hello/"`, `"path":"/count","url":"/apps/hello/count","roles":["viewer"],"requests":1,"errors":0`,
		`"path":"/loop","url":"/apps/hello/loop","roles":["public"],"requests":1,"errors":1`, `"status":504`} {
		if !strings.Contains(string(resp.body), want) {
			t.Errorf("routes lack %s: %s", want, resp.body)
		}
	}
	if resp := f.send(req{method: "GET", path: "/api/v1/apps/hello/routes", token: "elsewhere"}); resp.status != 404 {
		t.Errorf("a token of other apps: %d", resp.status)
	}
	metrics := f.send(req{method: "GET", path: "/metrics", token: "viewer"})
	for _, want := range []string{`cronbox_route_requests_total{app="hello",method="GET",path="/count"} 1`, `cronbox_route_errors_total{app="hello",method="GET",path="/loop"} 1`,
		`cronbox_route_duration_seconds_count{app="hello",method="GET",path="/count"} 1`} {
		if !strings.Contains(string(metrics.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
