package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "list", req: req{method: "GET", path: "/api/v1/tokens", token: "admin"}, status: 200,
			contains: []string{`"name":"viewer","role":"viewer","apps":[]`, `"name":"scoped","role":"admin","apps":["hello"]`}, absent: []string{"cbx_", `"token"`}},
		{name: "operator", req: req{method: "GET", path: "/api/v1/tokens", token: "operator"}, status: 403},
		{name: "scoped admin", req: req{method: "GET", path: "/api/v1/tokens", token: "scoped"}, status: 403, contains: []string{"scoped to some apps"}},
		{name: "scoped admin creates", req: req{method: "POST", path: "/api/v1/tokens", token: "scoped", body: `{"role":"admin"}`}, status: 403},
		{name: "no token", req: req{method: "GET", path: "/api/v1/tokens"}, status: 401},
		{name: "bad role", req: req{method: "POST", path: "/api/v1/tokens", token: "admin", body: `{"role":"root"}`}, status: 400, field: "role"},
		{name: "bad app", req: req{method: "POST", path: "/api/v1/tokens", token: "admin", body: `{"role":"viewer","apps":["a/b"]}`}, status: 400, field: "apps"},
		{name: "unknown field", req: req{method: "POST", path: "/api/v1/tokens", token: "admin", body: `{"role":"viewer","scope":1}`}, status: 400, field: "scope"},
		{name: "long name", req: req{method: "POST", path: "/api/v1/tokens", token: "admin", body: fmt.Sprintf(`{"role":"viewer","name":%q}`, strings.Repeat("x", 201))}, status: 400, field: "name"},
		{name: "revoke unknown", req: req{method: "DELETE", path: "/api/v1/tokens/999", token: "admin"}, status: 404},
		{name: "revoke bad id", req: req{method: "DELETE", path: "/api/v1/tokens/x", token: "admin"}, status: 400, field: "id"},
	})

	// A token made over the API works at once, and stops once revoked.
	resp := f.send(req{method: "POST", path: "/api/v1/tokens", token: "admin", body: `{"role":"viewer","apps":["hello"]}`})
	var made tokenJSON
	if err := json.Unmarshal(resp.body, &made); resp.status != 201 || err != nil || !strings.HasPrefix(made.Token, TokenPrefix) || made.Name != "api-viewer" {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	f.tokens["made"] = made.Token
	if r := f.send(req{method: "GET", path: "/api/v1/tasks", token: "made"}); r.status != 200 || strings.Contains(string(r.body), `"app":"other"`) {
		t.Errorf("the new token: %d %s", r.status, r.body)
	}
	if r := f.send(req{method: "DELETE", path: fmt.Sprintf("/api/v1/tokens/%d", made.ID), token: "admin"}); r.status != 200 || !strings.Contains(string(r.body), `"revokedAt":"`) {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	if r := f.send(req{method: "GET", path: "/api/v1/tasks", token: "made"}); r.status != 401 {
		t.Errorf("the revoked token: %d %s", r.status, r.body)
	}
	// The list conforms to the document.
	doc := loadOpenAPI(t)
	var list struct{ Tokens []any }
	json.Unmarshal(f.send(req{method: "GET", path: "/api/v1/tokens", token: "admin"}).body, &list)
	for i, v := range list.Tokens {
		for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/Token"}, v, fmt.Sprintf("$.tokens[%d]", i)) {
			t.Error(p)
		}
	}
	for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/Token"}, jsonValue(t, resp.body), "$") {
		t.Error(p)
	}
}

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
