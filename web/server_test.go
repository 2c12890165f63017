package web

import (
	"io"
	"net/http"
	"testing"
)

func TestUI(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ui:"+r.URL.Path)
	})
	f := newFixture(t, func(c *Config) { c.UI = ui })
	f.run(t, []check{
		{name: "root", req: req{method: "GET", path: "/"}, status: 200, contains: []string{"ui:/"}},
		{name: "client route", req: req{method: "GET", path: "/runs/12"}, status: 200, contains: []string{"ui:/runs/12"}},
		{name: "asset", req: req{method: "GET", path: "/ui/app.js"}, status: 200, contains: []string{"ui:/ui/app.js"}},
		{name: "API still the API", req: req{method: "GET", path: "/api/v1/nothing", token: "viewer"}, status: 404},
		{name: "API needs a token", req: req{method: "GET", path: "/api/v1/tasks"}, status: 401},
		{name: "healthz", req: req{method: "GET", path: "/healthz"}, status: 200, contains: []string{"ok"}, absent: []string{"ui:"}},
	})
}

func TestHead(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "healthz", req: req{method: "HEAD", path: "/healthz"}, status: 200},
		{name: "tasks", req: req{method: "HEAD", path: "/api/v1/tasks", token: "viewer"}, status: 200},
	})
}

func TestHeadEvents(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{{name: "events", req: req{method: "HEAD", path: "/api/v1/events", token: "viewer"}, status: 200}})
}
