package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine/app"
)

// undocumented are the routes openapi.json leaves out: the probes and
// metrics, which the README describes for the operator's tooling.
var undocumented = []string{"/healthz", "/readyz", "/metrics"}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Servers    []struct{ URL string }                `json:"servers"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 {
		t.Fatalf("servers %v, want one", doc.Servers)
	}
	return doc
}

// TestOpenAPIMatchesRoutes checks that every route and method the server
// serves (the API, the apps' pages and routes, the webhooks) is in
// openapi.json, and every operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	doc := loadOpenAPI(t)
	routes := routeTable(t, f.srv.Handler())
	for _, want := range []string{"get /api/v1/tasks", "post /hooks/{app}/{task}", "get /apps/{app}", "post /apps/{app}/{path}"} {
		if !routes[want] {
			t.Fatalf("the route table lacks %s: %v", want, routes)
		}
	}
	missing, extra := compareOperations(routes, doc)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json operations without a route: %v", extra)
	}
	// The comparison fails when an operation is left out of the document.
	for _, op := range []string{"post /hooks/{app}/{task}", "delete /apps/{app}/{path}", "get /apps/{app}", "get /api/v1/tasks"} {
		method, p, _ := strings.Cut(op, " ")
		trimmed := loadOpenAPI(t)
		delete(trimmed.Paths[p], method)
		if missing, _ := compareOperations(routes, trimmed); !slices.Equal(missing, []string{op}) {
			t.Errorf("without %s, missing is %v", op, missing)
		}
	}
}

// routeTable is every method and route pattern of h, as "method path" with
// the method in lower case and chi's trailing wildcard as the document's
// {path}.
func routeTable(t *testing.T, h http.Handler) map[string]bool {
	t.Helper()
	routes := map[string]bool{}
	err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if slices.Contains(undocumented, route) {
			return nil
		}
		if p, ok := strings.CutSuffix(route, "/*"); ok {
			route = p + "/{path}"
		}
		routes[strings.ToLower(method)+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

// compareOperations returns the routes the document lacks and the
// document's operations that are no route, sorted. A path's address is
// the document's server URL and the path.
func compareOperations(routes map[string]bool, doc openAPIDoc) (missing, extra []string) {
	base := strings.TrimSuffix(doc.Servers[0].URL, "/")
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[method+" "+base+p] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

// TestOpenAPIDescribesResponses checks real answers against the document's
// schemas: every field the server sends is documented, and every required
// field is sent.
func TestOpenAPIDescribesResponses(t *testing.T) {
	f := newFixture(t)
	doc := loadOpenAPI(t)
	echo := f.trigger("hello", "echo", `{"a":1}`)
	f.idle()
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	t.Cleanup(func() { f.eng.Cancel(t.Context(), spin); f.idle() })
	f.enqueueNotification("hello", echo)
	f.enqueueNotification("hello", 0)
	for _, c := range []struct {
		path, schema string
	}{
		{"/api/v1/tasks/hello/echo", "TaskDetail"},
		{"/api/v1/tasks/hello/greet", "TaskDetail"},
		{fmt.Sprintf("/api/v1/runs/%d", echo), "RunDetail"},
		{fmt.Sprintf("/api/v1/runs/%d", spin), "RunDetail"},
		{"/api/v1/session", "Session"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp := f.send(req{method: "GET", path: c.path, token: "admin"})
			if resp.status != 200 {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			var v any
			if err := json.Unmarshal(resp.body, &v); err != nil {
				t.Fatal(err)
			}
			for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/" + c.schema}, v, "$") {
				t.Error(p)
			}
		})
	}
	for _, c := range []struct{ path, item, schema string }{
		{"/api/v1/tasks", "tasks", "Task"},
		{"/api/v1/runs", "runs", "Run"},
		{"/api/v1/apps", "apps", "App"},
		{"/api/v1/instances", "instances", "Instance"},
		{"/api/v1/modules", "modules", "Module"},
		{"/api/v1/notifications", "notifications", "Notification"},
		{"/api/v1/nodes", "nodes", "Node"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp := f.send(req{method: "GET", path: c.path, token: "admin"})
			var m map[string][]any
			json.Unmarshal(resp.body, &m)
			if len(m[c.item]) == 0 {
				t.Fatalf("no %s to check: %s", c.item, resp.body)
			}
			for i, v := range m[c.item] {
				for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/" + c.schema}, v, fmt.Sprintf("$.%s[%d]", c.item, i)) {
					t.Error(p)
				}
			}
		})
	}
}

// conform returns how v departs from schema: the subset of JSON Schema
// that openapi.json uses ($ref, type, properties, required,
// additionalProperties, items, oneOf, enum).
func conform(doc openAPIDoc, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		s, ok := doc.Components.Schemas[name].(map[string]any)
		if !ok {
			return []string{at + ": unknown schema " + ref}
		}
		return conform(doc, s, v, at)
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		for _, a := range alts {
			if len(conform(doc, a.(map[string]any), v, at)) == 0 {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %v matches no alternative", at, v)}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
	}
	if typ, ok := schema["type"]; ok && !hasType(typ, v) {
		return []string{fmt.Sprintf("%s: %v is not of type %v", at, v, typ)}
	}
	var problems []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			return nil
		}
		for k, sub := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					problems = append(problems, fmt.Sprintf("%s: field %q is not documented", at, k))
				}
				continue
			}
			problems = append(problems, conform(doc, ps, sub, at+"."+k)...)
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := x[r.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required field %q is missing", at, r))
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range x {
				problems = append(problems, conform(doc, items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func hasType(typ any, v any) bool {
	var types []string
	switch t := typ.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	for _, t := range types {
		switch v.(type) {
		case nil:
			if t == "null" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case float64:
			if t == "number" || t == "integer" && v.(float64) == float64(int64(v.(float64))) {
				return true
			}
		case string:
			if t == "string" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		}
	}
	return false
}

// TestOpenAPIDescribesAppAnswers checks the answers of an app's routes
// and pages and of a webhook against their operations in the document:
// each status is one the operation documents, with its schema, and the
// 503 of a full concurrency quota documents its Retry-After.
func TestOpenAPIDescribesAppAnswers(t *testing.T) {
	f := newFixture(t)
	f.withRoutes()
	writeFile(t, filepath.Join(f.home, "apps", "hello", "config", "tasks.yaml"),
		[]byte(strings.Replace(helloTasks, "    environment: { GREETING: hi }\n", "    environment: { GREETING: hi }\n    webhook: { secret: HOOK }\n", 1)))
	if err := f.eng.ReloadApp(t.Context(), "hello"); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{{name: "set the secret", req: req{method: "PUT", path: "/api/v1/apps/hello/secrets/HOOK", token: "admin", body: `{"value":"s3cret"}`}, status: 201}})
	doc := loadOpenAPI(t)
	var raw struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]openAPIResponse `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &raw); err != nil {
		t.Fatal(err)
	}
	// response is the documented response of an operation to status (a
	// code or "default"), its $ref resolved.
	response := func(path, method, status string) (openAPIResponse, bool) {
		var op struct {
			Responses map[string]openAPIResponse `json:"responses"`
		}
		if err := json.Unmarshal(raw.Paths[path][method], &op); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		r, ok := op.Responses[status]
		if ref, isRef := strings.CutPrefix(r.Ref, "#/components/responses/"); isRef {
			r, ok = raw.Components.Responses[ref]
		}
		return r, ok
	}
	signed := map[string]string{SignatureHeader: SignWebhook([]byte("s3cret"), []byte(`{"a":1}`), f.srv.cfg.Clock.Now())}
	for _, c := range []struct {
		name    string
		req     req
		doc     string // the operation's path in the document
		want    int
		handler bool // the answer is the handler's own
	}{
		{"a route", req{method: "POST", path: "/apps/hello/echo", body: "x"}, "/apps/{app}/{path}", 200, true},
		{"a handler's own status", req{method: "GET", path: "/apps/hello/teapot", token: "operator"}, "/apps/{app}/{path}", 418, true},
		{"a page", req{method: "GET", path: "/apps/hello/"}, "/apps/{app}/{path}", 200, false},
		{"no token", req{method: "GET", path: "/apps/hello/count"}, "/apps/{app}/{path}", 401, false},
		{"no role", req{method: "GET", path: "/apps/hello/admin", token: "viewer"}, "/apps/{app}/{path}", 403, false},
		{"no route", req{method: "DELETE", path: "/apps/hello/count", token: "admin"}, "/apps/{app}/{path}", 404, false},
		{"past maxBody", req{method: "POST", path: "/apps/hello/echo", body: strings.Repeat("x", 1025)}, "/apps/{app}/{path}", 413, false},
		{"past its time", req{method: "GET", path: "/apps/hello/loop"}, "/apps/{app}/{path}", 504, false},
		{"a webhook", req{method: "POST", path: "/hooks/hello/echo", body: `{"a":1}`, header: signed}, "/hooks/{app}/{task}", 202, false},
		{"a webhook unsigned", req{method: "POST", path: "/hooks/hello/echo", body: `{"a":1}`}, "/hooks/{app}/{task}", 401, false},
		{"no webhook", req{method: "POST", path: "/hooks/hello/greet", body: `{"a":1}`, header: signed}, "/hooks/{app}/{task}", 404, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.send(c.req)
			if resp.status != c.want {
				t.Fatalf("status %d, want %d: %s", resp.status, c.want, resp.body)
			}
			r, ok := response(c.doc, strings.ToLower(c.req.method), strconv.Itoa(resp.status))
			if !ok && c.handler {
				r, ok = response(c.doc, strings.ToLower(c.req.method), "default")
			}
			if !ok {
				t.Fatalf("%s %s does not document %d", c.req.method, c.doc, resp.status)
			}
			if s, ok := r.Content["application/json"]; ok && s.Schema != nil {
				var v any
				if err := json.Unmarshal(resp.body, &v); err != nil {
					t.Fatalf("body %q: %v", resp.body, err)
				}
				for _, p := range conform(doc, s.Schema, v, "$") {
					t.Error(p)
				}
			}
		})
	}
	for _, m := range append([]string{"head"}, app.RouteMethods...) {
		r, ok := response("/apps/{app}/{path}", strings.ToLower(m), "503")
		if _, retry := r.Headers["Retry-After"]; !ok || !retry {
			t.Errorf("%s /apps/{app}/{path} does not document 503 with Retry-After", m)
		}
	}
}

// openAPIResponse is a response object of the document.
type openAPIResponse struct {
	Ref     string                     `json:"$ref"`
	Headers map[string]json.RawMessage `json:"headers"`
	Content map[string]struct {
		Schema map[string]any `json:"schema"`
	} `json:"content"`
}
