package app

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadRoutes(t *testing.T) {
	dir := newApp(t, "web", map[string]string{
		"app.yaml": `name: web
roles: [reader]
routes:
  - path: /api/status
    module: routes/status.wasm
    roles: [public]
  - method: post
    path: /api/items/*
    module: routes/status.wasm
    roles: [reader, operator]
    timeout: 2s
    memory: 16MiB
    maxBody: 8MiB
`,
		"routes/status.wasm": wasmHeader,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findProblem(a.Warnings, "roles[0]"); ok {
		t.Errorf("the role reader a route requires is warned of: %s", problemsString(a.Warnings))
	}
	rs := a.Manifest.Routes
	if len(rs) != 2 {
		t.Fatalf("routes = %+v", rs)
	}
	r0, r1 := rs[0], rs[1]
	if r0.Method != "GET" || !r0.Public() || r0.Limits.Timeout != DefaultRouteTimeout || r0.MaxBody != DefaultRouteBody || !strings.HasSuffix(r0.Module, "status.wasm") {
		t.Errorf("routes[0] = %+v", r0)
	}
	if r1.Method != "POST" || r1.Public() || r1.Limits.Timeout != 2*time.Second || r1.Limits.Memory != 16<<20 || r1.MaxBody != 8<<20 {
		t.Errorf("routes[1] = %+v", r1)
	}
	for _, c := range []struct {
		method, path string
		want         [2]bool
	}{
		{"GET", "/api/status", [2]bool{true, false}},
		{"HEAD", "/api/status", [2]bool{true, false}},
		{"POST", "/api/status", [2]bool{false, false}},
		{"GET", "/api/status/x", [2]bool{false, false}},
		{"POST", "/api/items/1/2", [2]bool{false, true}},
		{"POST", "/api/items", [2]bool{false, true}},
		{"POST", "/api/itemsx", [2]bool{false, false}},
	} {
		if got := [2]bool{r0.Matches(c.method, c.path), r1.Matches(c.method, c.path)}; got != c.want {
			t.Errorf("%s %s matches %v, want %v", c.method, c.path, got, c.want)
		}
	}
}

func TestLoadRoutesRefusesBadRoutes(t *testing.T) {
	for _, c := range []struct{ route, field, want string }{
		{"{path: x, module: routes/r.wasm}", "routes[0].path", "does not start with /"},
		{"{path: /a/../b, module: routes/r.wasm}", "routes[0].path", ". or .."},
		{"{path: '/a b', module: routes/r.wasm}", "routes[0].path", "may hold only"},
		{"{path: /x, module: routes/r.wasm, method: TRACE}", "routes[0].method", "not one of"},
		{"{path: /x, module: routes/r.wasm, roles: [wizard]}", "routes[0].roles[0]", "not public"},
		{"{path: /x, module: routes/r.wasm, maxBody: 65MiB}", "routes[0].maxBody", "more than 64 MiB"},
		{"{path: /x, module: routes/r.wasm, timeout: 0s}", "routes[0].timeout", "not positive"},
		{"{path: /x}", "routes[0].module", "is required"},
		{"{path: /x, module: routes/r.wasm, color: red}", "routes[0]", "unknown field \"color\""},
	} {
		dir := newApp(t, "web", map[string]string{"app.yaml": "name: web\nroutes:\n  - " + c.route + "\n", "routes/r.wasm": wasmHeader})
		_, err := Load(dir, Options{})
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%s: Load = %v, want an InvalidError", c.route, err)
			continue
		}
		if p, ok := findProblem(inv.Problems, c.field); !ok || !strings.Contains(p.Message, c.want) {
			t.Errorf("%s: problems %s, want %s: …%s…", c.route, problemsString(inv.Problems), c.field, c.want)
		}
	}
}

// TestLoadRouteWithoutModule: a route whose module is missing is left
// out, with an error of the app; the app and its other routes load.
func TestLoadRouteWithoutModule(t *testing.T) {
	for _, c := range []struct{ module, want string }{{"routes/missing.wasm", "does not exist"}, {"../out.wasm", `".."`}} {
		dir := newApp(t, "web", map[string]string{"app.yaml": "name: web\nroutes:\n  - {path: /x, module: " + c.module + "}\n  - {path: /y, module: routes/r.wasm}\n", "routes/r.wasm": wasmHeader})
		a, err := Load(dir, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.module, err)
		}
		if p, ok := findProblem(a.Errors, "routes[0].module"); !ok || !strings.Contains(p.Message, c.want) {
			t.Errorf("%s: errors %s, want routes[0].module: …%s…", c.module, problemsString(a.Errors), c.want)
		}
		if rs := a.Manifest.Routes; len(rs) != 2 || len(rs[0].Errors) == 0 || len(rs[1].Errors) != 0 {
			t.Errorf("%s: routes %+v", c.module, rs)
		}
	}
}
