package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListApps(t *testing.T) {
	f := newFixture(t)
	// What the apps store shows against their quotas.
	if err := f.st.KV("hello").Set(t.Context(), "k", make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.home, "apps", "other", "app.yaml"), []byte("name: other\npermissions: { files: true }\nquotas: { kv: 1MiB, files: 2MiB, history: 4MiB }\n"))
	writeFile(t, filepath.Join(f.home, "data", "files", "other", "f"), make([]byte, 100))
	if err := f.eng.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{
		{name: "all", req: req{method: "GET", path: "/api/v1/apps", token: "viewer"}, status: 200,
			contains: []string{`{"name":"hello","version":"1.0.0","description":"Greetings","enabled":true,"status":"ok","errors":[],"tasks":3,` +
				`"storage":{"kv":11,"kvQuota":268435456,"files":0,"filesQuota":0,"history":0,"historyQuota":1073741824},"usage":{"last24h":{"runs":0,`,
				`"name":"other"`, `"storage":{"kv":0,"kvQuota":1048576,"files":4196,"filesQuota":2097152,"history":0,"historyQuota":4194304}`}},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/apps?all=1", token: "viewer"}, status: 400, field: "all"},
		{name: "no token", req: req{method: "GET", path: "/api/v1/apps"}, status: 401},
		{name: "scoped", req: req{method: "GET", path: "/api/v1/apps", token: "scoped"}, status: 200, contains: []string{`"hello"`}, absent: []string{`"other"`}},
	})
	// A run's input, output and logs count in its app's history.
	f.trigger("hello", "echo", `"some input"`)
	f.idle()
	f.run(t, []check{
		{name: "history", req: req{method: "GET", path: "/api/v1/apps", token: "viewer"}, status: 200,
			contains: []string{`"filesQuota":0,"history":`}, absent: []string{`"filesQuota":0,"history":0,`}},
	})
	// A broken tasks.yaml entry shows as an error of the app.
	writeFile(t, filepath.Join(f.home, "apps", "other", "config", "tasks.yaml"), []byte(otherTasks+"  - name: broken\n    limits: { memory: lots }\n"))
	if err := f.eng.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{
		{name: "errors", req: req{method: "GET", path: "/api/v1/apps", token: "viewer"}, status: 200,
			contains: []string{`"task":"broken","message":"tasks[1].limits.memory:`, `"file":"config/tasks.yaml","line":`}},
	})
	// An app.yaml that does not load makes the app's status error.
	writeFile(t, filepath.Join(f.home, "apps", "other", "app.yaml"), []byte("name: other\nquotas: { concurrency: lots }\n"))
	if err := f.eng.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{
		{name: "load error", req: req{method: "GET", path: "/api/v1/apps", token: "viewer"}, status: 200, contains: []string{`"name":"other","version":"","description":"","enabled":true,"status":"error"`}},
	})
}

func TestEnableDisableApp(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "disable", req: req{method: "POST", path: "/api/v1/apps/hello/disable", token: "operator"}, status: 200, contains: []string{`"name":"hello"`, `"enabled":false`}},
		{name: "tasks stop firing", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "viewer"}, status: 200, contains: []string{`"next":null`}},
		{name: "enable", req: req{method: "POST", path: "/api/v1/apps/hello/enable", token: "scoped"}, status: 200, contains: []string{`"enabled":true`}},
		{name: "unknown app", req: req{method: "POST", path: "/api/v1/apps/nope/enable", token: "operator"}, status: 404},
		{name: "viewer", req: req{method: "POST", path: "/api/v1/apps/hello/disable", token: "viewer"}, status: 403},
		{name: "no token", req: req{method: "POST", path: "/api/v1/apps/hello/disable"}, status: 401},
		{name: "scoped other app", req: req{method: "POST", path: "/api/v1/apps/other/disable", token: "scoped"}, status: 404},
	})
	b, err := os.ReadFile(filepath.Join(f.home, "apps", "hello", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "enabled: true") {
		t.Errorf("app.yaml after enabling: %s", b)
	}
	b, err = os.ReadFile(filepath.Join(f.home, "apps", "other", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "enabled") {
		t.Errorf("a scoped token changed another app: %s", b)
	}
}

func TestEnableAppWithoutAdmin(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Apps = nil })
	f.run(t, []check{
		{name: "not available", req: req{method: "POST", path: "/api/v1/apps/hello/disable", token: "operator"}, status: 501},
	})
}
