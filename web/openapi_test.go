package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// apiPrefix is where the document's server URL puts its paths.
const apiPrefix = "/api/v1"

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
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
	return doc
}

// TestOpenAPIMatchesRoutes checks that every API route and method is in
// openapi.json, and every operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	doc := loadOpenAPI(t)
	routes := map[string]bool{}
	err := chi.Walk(f.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if p, ok := strings.CutPrefix(route, apiPrefix); ok {
			routes[strings.ToLower(method)+" "+p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[method+" "+p] = true
		}
	}
	var missing, extra []string
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
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json operations without a route: %v", extra)
	}
	if len(routes) < 20 {
		t.Errorf("only %d API routes walked", len(routes))
	}
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
