package web

import (
	"fmt"
	"testing"
)

func TestInstancesAndModules(t *testing.T) {
	f := newFixture(t)
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	t.Cleanup(func() { f.eng.Cancel(t.Context(), spin); f.idle() })
	f.run(t, []check{
		{name: "instances", req: req{method: "GET", path: "/api/v1/instances", token: "viewer"}, status: 200,
			contains: []string{fmt.Sprintf(`{"instances":[{"run":%d,"app":"hello","task":"spin","memory":`, spin), `"memoryLimit":67108864`, `"ageMs":0`}},
		{name: "instances unknown parameter", req: req{method: "GET", path: "/api/v1/instances?app=x", token: "viewer"}, status: 400, field: "app"},
		{name: "instances no token", req: req{method: "GET", path: "/api/v1/instances"}, status: 401},
		{name: "modules", req: req{method: "GET", path: "/api/v1/modules", token: "viewer"}, status: 200,
			contains: []string{`"apps":["hello","other"]`, `"apps":["hello"]`, `"instances":1`, `"cacheHits":`}},
		{name: "modules unknown parameter", req: req{method: "GET", path: "/api/v1/modules?x=1", token: "viewer"}, status: 400, field: "x"},
		{name: "modules no token", req: req{method: "GET", path: "/api/v1/modules"}, status: 401},
		{name: "modules scoped", req: req{method: "GET", path: "/api/v1/modules", token: "scoped"}, status: 200, contains: []string{`"apps":["hello"]`}, absent: []string{`"other"`}},
	})
	// A token scoped to the other app sees no instance of hello.
	id, err := f.st.CreateToken(t.Context(), storeToken("other-viewer", RoleViewer, "other"))
	if err != nil || id == 0 {
		t.Fatal(err)
	}
	f.tokens["other-viewer"] = "cbx_test_other-viewer"
	f.run(t, []check{
		{name: "instances scoped other app", req: req{method: "GET", path: "/api/v1/instances", token: "other-viewer"}, status: 200, contains: []string{`{"instances":[]}`}},
		{name: "modules of the other app only", req: req{method: "GET", path: "/api/v1/modules", token: "other-viewer"}, status: 200,
			contains: []string{`"apps":["other"]`}, absent: []string{`"hello"`}},
	})
}
