package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type auditPage struct {
	Entries []struct {
		ID      int64           `json:"id"`
		Actor   string          `json:"actor"`
		TokenID int64           `json:"tokenId"`
		Action  string          `json:"action"`
		App     string          `json:"app"`
		Target  string          `json:"target"`
		Before  json.RawMessage `json:"before"`
		After   json.RawMessage `json:"after"`
	} `json:"entries"`
	Next string `json:"next"`
}

func (f *fixture) audit(t *testing.T, token, query string) auditPage {
	t.Helper()
	r := f.send(req{method: "GET", path: "/api/v1/audit" + query, token: token})
	if r.status != 200 {
		t.Fatalf("GET /audit%s: %d %s", query, r.status, r.body)
	}
	var p auditPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditRecordsEveryChangeThroughTheAPI makes each kind of change the
// API makes and finds it in the audit log, with its actor, target and
// before and after.
func TestAuditRecordsEveryChangeThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	steps := []struct {
		token, method, path, body string
		status                    int
		action, app, target       string
		before, after             string // substrings of the entry's JSON
	}{
		{"admin", "PATCH", "/api/v1/tasks/hello/greet", `{"schedule":"0 4 * * *"}`, 200, ActionTaskUpdate, "hello", "hello/greet", `"H/5 * * * *"`, `"0 4 * * *"`},
		{"operator", "POST", "/api/v1/tasks/hello/greet/disable", "", 200, ActionTaskDisable, "hello", "hello/greet", `"enabled":true`, `"enabled":false`},
		{"operator", "POST", "/api/v1/tasks/hello/greet/enable", "", 200, ActionTaskEnable, "hello", "hello/greet", `"enabled":false`, `"enabled":true`},
		{"operator", "POST", "/api/v1/tasks/hello/greet/trigger", `{"input":{"n":1}}`, 202, ActionTaskTrigger, "hello", "hello/greet", "", `"n":1`},
		{"operator", "POST", fmt.Sprintf("/api/v1/runs/%d/cancel", spin), "", 202, ActionRunCancel, "hello", fmt.Sprint(spin), `"hello/spin"`, ""},
		{"admin", "POST", "/api/v1/tasks", `{"app":"hello","name":"extra","module":"tasks/greet.wasm"}`, 201, ActionTaskCreate, "hello", "hello/extra", "", `"enabled":true`},
		{"scoped", "DELETE", "/api/v1/tasks/hello/extra", "", 204, ActionTaskDelete, "hello", "hello/extra", `"enabled":true`, ""},
		{"operator", "POST", "/api/v1/apps/other/disable", "", 200, ActionAppDisable, "other", "other", `"enabled":true`, `"enabled":false`},
		{"operator", "POST", "/api/v1/apps/other/enable", "", 200, ActionAppEnable, "other", "other", `"enabled":false`, `"enabled":true`},
		{"admin", "PUT", "/api/v1/apps/hello/secrets/KEY", `{"value":"hush-123"}`, 201, ActionSecretSet, "hello", "KEY", "", `"********"`},
		{"admin", "DELETE", "/api/v1/apps/hello/secrets/KEY", "", 204, ActionSecretDelete, "hello", "KEY", `"KEY"`, ""},
		{"admin", "POST", "/api/v1/apps", "", 201, ActionAppInstall, "fresh", "fresh", "", `"version"`},
		{"admin", "POST", "/api/v1/apps?upgrade=true", "", 200, ActionAppUpgrade, "fresh", "fresh", "", `"backup"`},
		{"admin", "DELETE", "/api/v1/apps/fresh", "", 200, ActionAppUninstall, "fresh", "fresh", "", `"backup"`},
		{"admin", "POST", "/api/v1/tokens", `{"name":"ci","role":"viewer"}`, 201, ActionTokenCreate, "", "6", "", `"ci"`},
		{"admin", "DELETE", "/api/v1/tokens/6", "", 200, ActionTokenRevoke, "", "6", "", `"revoked"`},
		{"admin", "PUT", "/api/v1/config/tasks", `{"version":"1.0","tasks":[{"name":"greet","appName":"hello","schedule":"0 5 * * *"}]}`, 200, ActionConfigImport, "", "tasks file", "", `"imported":1`},
	}
	for _, st := range steps {
		r := req{method: st.method, path: st.path, token: st.token, body: st.body}
		if st.action == ActionAppInstall || st.action == ActionAppUpgrade {
			r.body, r.contentType = string(appZip(t, "fresh")), "application/zip"
		}
		resp := f.send(r)
		if resp.status != st.status {
			t.Fatalf("%s %s: %d %s; want %d", st.method, st.path, resp.status, resp.body, st.status)
		}
		page := f.audit(t, "admin", "?limit=1")
		if len(page.Entries) != 1 {
			t.Fatalf("after %s %s: no audit entry", st.method, st.path)
		}
		e := page.Entries[0]
		if e.Action != st.action || e.App != st.app || e.Target != st.target || e.Actor != "token:"+st.token || e.TokenID != f.tokenID(st.token) {
			t.Errorf("after %s %s: entry %+v; want %s of %s %s by token:%s (%d)", st.method, st.path, e, st.action, st.app, st.target, st.token, f.tokenID(st.token))
		}
		if !strings.Contains(string(e.Before), st.before) || !strings.Contains(string(e.After), st.after) {
			t.Errorf("%s: before %s, after %s; want them to hold %s and %s", st.action, e.Before, e.After, st.before, st.after)
		}
		if strings.Contains(string(e.Before)+string(e.After), "hush-123") {
			t.Errorf("%s: the entry holds a secret's value", st.action)
		}
	}

	all := f.audit(t, "admin", "?limit=1000")
	if len(all.Entries) != len(steps) {
		t.Errorf("%d entries, want %d", len(all.Entries), len(steps))
	}
	// A scoped admin sees its apps' entries only.
	for _, e := range f.audit(t, "scoped", "?limit=1000").Entries {
		if e.App != "hello" {
			t.Errorf("a token scoped to hello sees %+v", e)
		}
	}
	// Filters and the cursor.
	if p := f.audit(t, "admin", "?actor=token:operator&app=other"); len(p.Entries) != 2 || p.Entries[0].Action != ActionAppEnable {
		t.Errorf("filtered by actor and app: %+v", p.Entries)
	}
	if p := f.audit(t, "admin", "?action=secret.set"); len(p.Entries) != 1 {
		t.Errorf("filtered by action: %+v", p.Entries)
	}
	first := f.audit(t, "admin", "?limit=5")
	if first.Next == "" || len(first.Entries) != 5 {
		t.Fatalf("first page: %+v", first)
	}
	second := f.audit(t, "admin", "?limit=5&cursor="+first.Next)
	if len(second.Entries) != 5 || second.Entries[0].ID >= first.Entries[4].ID {
		t.Errorf("second page %+v does not follow the first %+v", second.Entries, first.Entries)
	}
	f.run(t, []check{
		{name: "operator", req: req{method: "GET", path: "/api/v1/audit", token: "operator"}, status: 403},
		{name: "bad cursor", req: req{method: "GET", path: "/api/v1/audit?cursor=x", token: "admin"}, status: 400, field: "cursor"},
		{name: "bad since", req: req{method: "GET", path: "/api/v1/audit?since=yesterday", token: "admin"}, status: 400, field: "since"},
	})
}

// TestOpenAPIDescribesAuditAndSecrets checks the answers of the audit and
// secrets routes against the document's schemas.
func TestOpenAPIDescribesAuditAndSecrets(t *testing.T) {
	f := newFixture(t)
	doc := loadOpenAPI(t)
	if r := f.send(req{method: "PUT", path: "/api/v1/apps/hello/secrets/K", token: "admin", body: `{"value":"v"}`}); r.status != 201 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	f.send(req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", token: "admin"})
	for _, c := range []struct{ path, schema string }{
		{"/api/v1/audit?limit=1", "AuditPage"},
		{"/api/v1/apps/hello/secrets", "SecretList"},
	} {
		resp := f.send(req{method: "GET", path: c.path, token: "admin"})
		var v any
		if err := json.Unmarshal(resp.body, &v); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/" + c.schema}, v, "$") {
			t.Errorf("%s: %s", c.path, p)
		}
	}
}

// TestTaskChangedEventNamesTheActor changes a task through the API: the
// task.changed event names who did, live and when a stream resumes from
// the store.
func TestTaskChangedEventNamesTheActor(t *testing.T) {
	f := newFixture(t)
	live := f.openStream(t, "admin", 0)
	if r := f.send(req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", token: "operator"}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	changed := func(ev sse) bool { return ev.event == "task.changed" && ev.data.Task == "greet" }
	evs := live.until(changed)
	if got := evs[len(evs)-1].data.Actor; got != "token:operator" {
		t.Errorf("live task.changed actor = %q, want token:operator", got)
	}
	resumed := f.openStream(t, "admin", 1)
	evs = resumed.until(changed)
	if got := evs[len(evs)-1].data.Actor; got != "token:operator" {
		t.Errorf("resumed task.changed actor = %q, want token:operator", got)
	}
}
