package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// syncBuffer is a bytes.Buffer that a logger and a test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func TestSecretsRoutes(t *testing.T) {
	f := newFixture(t)
	put := func(token, app, name, body string) response {
		return f.send(req{method: "PUT", path: "/api/v1/apps/" + app + "/secrets/" + name, token: token, body: body})
	}
	if r := put("admin", "hello", "API_TOKEN", `{"value":"first"}`); r.status != 201 || bytes.Contains(r.body, []byte("first")) {
		t.Fatalf("PUT new secret: %d %s; want 201 without the value", r.status, r.body)
	}
	if r := put("admin", "hello", "API_TOKEN", `{"value":"second"}`); r.status != 200 {
		t.Fatalf("PUT again: %d %s; want 200", r.status, r.body)
	}
	if v, err := f.srv.cfg.Secrets.(interface {
		Value(context.Context, string, string) (string, error)
	}).Value(context.Background(), "hello", "API_TOKEN"); err != nil || v != "second" {
		t.Fatalf("stored value = %q, %v; want second", v, err)
	}
	f.run(t, []check{
		{name: "operator may not set", req: req{method: "PUT", path: "/api/v1/apps/hello/secrets/X", token: "operator", body: `{"value":"v"}`}, status: 403},
		{name: "viewer may not delete", req: req{method: "DELETE", path: "/api/v1/apps/hello/secrets/API_TOKEN", token: "viewer"}, status: 403},
		{name: "viewer lists names", req: req{method: "GET", path: "/api/v1/apps/hello/secrets", token: "viewer"}, status: 200,
			contains: []string{`"name":"API_TOKEN"`, `"updatedAt"`}, absent: []string{"second"}},
		{name: "scoped admin, other app", req: req{method: "GET", path: "/api/v1/apps/other/secrets", token: "scoped"}, status: 404},
		{name: "scoped admin, other app, set", req: req{method: "PUT", path: "/api/v1/apps/other/secrets/X", token: "scoped", body: `{"value":"v"}`}, status: 404},
		{name: "unknown app", req: req{method: "GET", path: "/api/v1/apps/nope/secrets", token: "admin"}, status: 404},
		{name: "bad name", req: req{method: "PUT", path: "/api/v1/apps/hello/secrets/1bad", token: "admin", body: `{"value":"v"}`}, status: 400, field: "name"},
		{name: "no value", req: req{method: "PUT", path: "/api/v1/apps/hello/secrets/X", token: "admin", body: `{}`}, status: 400, field: "value"},
		{name: "delete", req: req{method: "DELETE", path: "/api/v1/apps/hello/secrets/API_TOKEN", token: "scoped"}, status: 204},
		{name: "delete again", req: req{method: "DELETE", path: "/api/v1/apps/hello/secrets/API_TOKEN", token: "admin"}, status: 404},
		{name: "empty list", req: req{method: "GET", path: "/api/v1/apps/hello/secrets", token: "admin"}, status: 200, contains: []string{`"secrets":[]`}},
	})
}

// TestSecretValueIsNowhere sets a secret through the API, runs a task
// whose environment references it, then looks for its value in every
// GET route's answer, the server's logs, an export of the app and the raw
// database files: it is in none.
func TestSecretValueIsNowhere(t *testing.T) {
	logs := &syncBuffer{}
	f := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const value = "Zq8-secret-VALUE-7731"
	if r := f.send(req{method: "PUT", path: "/api/v1/apps/hello/secrets/API_TOKEN", token: "admin", body: `{"value":"` + value + `"}`}); r.status != 201 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if r := f.send(req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"environment":{"TOKEN":"${secret:API_TOKEN}"}}`}); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	r := f.send(req{method: "POST", path: "/api/v1/tasks/hello/greet/trigger", token: "admin"})
	if r.status != 202 {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	var run struct{ ID int64 }
	json.Unmarshal(r.body, &run)
	f.idle()
	got, err := f.st.GetRun(context.Background(), run.ID)
	if err != nil || got.Status != store.StatusSucceeded {
		t.Fatalf("run with the secret in its environment: %+v, %v; want it succeeded (the secret resolved)", got, err)
	}

	found := func(what string, b []byte) {
		t.Helper()
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret's value", what)
		}
	}
	seen := 0
	for _, rt := range walkRoutes(t, f) {
		if rt.method != "GET" || rt.pattern == "/api/v1/events" {
			continue
		}
		resp := f.send(req{method: "GET", path: scopePath(rt.pattern, run.ID), token: "admin"})
		found("GET "+rt.pattern, resp.body)
		seen++
	}
	s := f.openStream(t, "admin", 1) // the recorded events, replayed
	again := f.trigger("hello", "greet", "")
	for _, ev := range s.until(finished(again)) {
		found("the event stream", []byte(ev.raw))
	}
	found("the server's logs", logs.Bytes())

	export := f.send(req{method: "GET", path: "/api/v1/apps/hello/export", token: "admin"})
	if export.status != 200 {
		t.Fatalf("export: %d", export.status)
	}
	zr, err := zip.NewReader(bytes.NewReader(export.body), int64(len(export.body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		found("the export's "+zf.Name, b)
	}

	files, _ := filepath.Glob(filepath.Join(f.home, "data", "cronbox.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		found(filepath.Base(p), b)
	}
	if seen < 10 {
		t.Fatalf("only %d routes looked at", seen)
	}
}

// TestInstallWarnsOfMissingSecrets installs an app whose task references
// a secret that is not set: the answer warns of it.
func TestInstallWarnsOfMissingSecrets(t *testing.T) {
	f := newFixture(t)
	z := makeZip(t,
		zipEntry{name: "fresh/app.yaml", body: []byte("name: fresh\nversion: 2.0.0\n")},
		zipEntry{name: "fresh/config/tasks.yaml", body: []byte("tasks:\n  - name: hi\n    environment: { TOKEN: \"${secret:API_TOKEN}\", PLAIN: x }\n")},
		zipEntry{name: "fresh/tasks/hi.wasm", body: wasmtest.Hello()})
	r := f.send(req{method: "POST", path: "/api/v1/apps", token: "admin", body: string(z), contentType: "application/zip"})
	if r.status != 201 || !bytes.Contains(r.body, []byte(`${secret:API_TOKEN}, which is not set`)) || !bytes.Contains(r.body, []byte(`"task":"hi"`)) {
		t.Errorf("install: %d %s; want a warning of the missing secret", r.status, r.body)
	}
}
