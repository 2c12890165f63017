package web

import (
	"strings"
	"testing"
)

func TestConfigTasksFile(t *testing.T) {
	f := newFixture(t)
	// greet only ran: its run state makes no entry.
	f.trigger("hello", "greet", "")
	f.idle()
	file := `{"version":"1.0","lastModified":"2026-01-05T10:00:00Z","tasks":[{"name":"echo","appName":"hello","enabled":false}]}`
	f.run(t, []check{
		{name: "empty export", req: req{method: "GET", path: "/api/v1/config/tasks", token: "admin"}, status: 200, contains: []string{`"tasks": []`}},
		{name: "operator", req: req{method: "GET", path: "/api/v1/config/tasks", token: "operator"}, status: 403},
		{name: "scoped admin", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "scoped", body: file}, status: 403},
		{name: "not JSON", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "admin", body: file, contentType: "text/plain"}, status: 415},
		{name: "bad file", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "admin", body: `{"version":"9"}`}, status: 400},
		{name: "bad schedule", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "admin",
			body: `{"version":"1.0","lastModified":"2026-01-05T10:00:00Z","tasks":[{"name":"echo","appName":"hello","enabled":false},{"name":"greet","appName":"hello","schedule":"99 * * * *"}]}`},
			status: 422, contains: []string{"nothing imported", "greet"}},
		{name: "nothing stored", req: req{method: "GET", path: "/api/v1/tasks/hello/echo", token: "viewer"}, status: 200, contains: []string{`"enabled":true`}},
		{name: "unknown app", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "admin",
			body: `{"version":"1.0","lastModified":"2026-01-05T10:00:00Z","tasks":[{"name":"x","appName":"gone","enabled":false}]}`},
			status: 422, contains: []string{"app gone is not installed"}},
		{name: "import", req: req{method: "PUT", path: "/api/v1/config/tasks", token: "admin", body: file}, status: 200, contains: []string{`"imported":1`}},
		{name: "applied", req: req{method: "GET", path: "/api/v1/tasks/hello/echo", token: "viewer"}, status: 200, contains: []string{`"enabled":false`}},
	})
	body := string(f.send(req{method: "GET", path: "/api/v1/config/tasks", token: "admin"}).body)
	if !strings.Contains(body, `"name": "echo"`) || !strings.Contains(body, `"enabled": false`) || strings.Contains(body, `"greet"`) {
		t.Errorf("export after the import:\n%s", body)
	}
}
