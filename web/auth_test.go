package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/web/ui"
)

// TestSecurityHeaders checks the headers of the API's responses; the
// Content-Security-Policy is the UI's, the one source of it.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/api/v1/tasks", "/api/v1/nope", "/api/v1/openapi.json", "/metrics"} {
		resp := f.send(req{method: "GET", path: path, token: "admin"})
		for k, v := range map[string]string{
			"Content-Security-Policy": ui.CSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		} {
			if got := resp.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/api/v1/tasks"}, status: 401},
		{name: "unknown token", req: req{method: "GET", path: "/api/v1/tasks", token: "cbx_nope"}, status: 401},
		{name: "revoked token", req: req{method: "GET", path: "/api/v1/tasks", token: "revoked"}, status: 401},
		{name: "not bearer", req: req{method: "GET", path: "/api/v1/tasks", header: map[string]string{"Authorization": "Basic YTpi"}}, status: 401},
		{name: "empty bearer", req: req{method: "GET", path: "/api/v1/tasks", header: map[string]string{"Authorization": "Bearer "}}, status: 401},
		{name: "valid token", req: req{method: "GET", path: "/api/v1/tasks", token: "viewer"}, status: 200},
		{name: "unknown path", req: req{method: "GET", path: "/api/v1/nothing", token: "viewer"}, status: 404},
		{name: "wrong method", req: req{method: "PUT", path: "/api/v1/tasks", token: "admin"}, status: 405},
		{name: "healthz needs nothing", req: req{method: "GET", path: "/healthz"}, status: 200, contains: []string{"ok"}},
		{name: "readyz needs nothing", req: req{method: "GET", path: "/readyz"}, status: 200, contains: []string{"ok"}},
		{name: "openapi needs nothing", req: req{method: "GET", path: "/api/v1/openapi.json"}, status: 200, contains: []string{`"openapi": "3.1`}},
	})
	if got := f.send(req{method: "GET", path: "/api/v1/tasks"}).header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("401 without WWW-Authenticate: %q", got)
	}
}

func TestTokenUseIsRecordedOncePerInterval(t *testing.T) {
	f := newFixture(t)
	lastUsed := func() string {
		toks, err := f.st.ListTokens(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			if tok.Name == "viewer" {
				return tok.LastUsedAt.String()
			}
		}
		t.Fatal("no viewer token")
		return ""
	}
	if got := lastUsed(); got != "0001-01-01 00:00:00 +0000 UTC" {
		t.Fatalf("used before any request: %s", got)
	}
	f.send(req{method: "GET", path: "/api/v1/summary", token: "viewer"})
	first := lastUsed()
	if first == "0001-01-01 00:00:00 +0000 UTC" {
		t.Fatal("use not recorded")
	}
	f.send(req{method: "GET", path: "/api/v1/summary", token: "viewer"})
	if again := lastUsed(); again != first {
		t.Errorf("second use within a minute written again: %s then %s", first, again)
	}
}

func TestReadyzBeforeStart(t *testing.T) {
	f := newFixture(t)
	if err := f.eng.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{{name: "stopped engine", req: req{method: "GET", path: "/readyz"}, status: 503}})
}

// login starts a session with a token and returns its cookie and CSRF
// token.
func login(t *testing.T, f *fixture, token string) (*http.Cookie, string) {
	t.Helper()
	resp := f.send(req{method: "POST", path: "/api/v1/session", body: `{"token":"` + f.tokens[token] + `"}`})
	if resp.status != 200 {
		t.Fatalf("login: %d %s", resp.status, resp.body)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: resp.header}).Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("login set no %s cookie: %v", sessionCookie, resp.header)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure {
		t.Errorf("cookie attributes: %+v", cookie)
	}
	m := resp.json(t)
	csrf, _ := m["csrf"].(string)
	if len(csrf) < 32 {
		t.Fatalf("csrf %q", csrf)
	}
	return cookie, csrf
}

func TestSession(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := login(t, f, "scoped")
	cookies := []*http.Cookie{cookie}
	f.run(t, []check{
		{name: "login with a bad token", req: req{method: "POST", path: "/api/v1/session", body: `{"token":"cbx_nope"}`}, status: 401},
		{name: "login without token", req: req{method: "POST", path: "/api/v1/session", body: `{}`}, status: 400, field: "token"},
		{name: "login with unknown field", req: req{method: "POST", path: "/api/v1/session", body: `{"token":"x","user":"y"}`}, status: 400, field: "user"},
		{name: "login not JSON", req: req{method: "POST", path: "/api/v1/session", body: `token=x`, contentType: "application/x-www-form-urlencoded"}, status: 415},
		{name: "session of the cookie", req: req{method: "GET", path: "/api/v1/session", cookies: cookies}, status: 200,
			contains: []string{`"role":"admin"`, `"apps":["hello"]`, csrf}},
		{name: "session without cookie", req: req{method: "GET", path: "/api/v1/session"}, status: 401},
		{name: "session of a bad cookie", req: req{method: "GET", path: "/api/v1/session", cookies: []*http.Cookie{{Name: sessionCookie, Value: "forged"}}}, status: 401},
		{name: "cookie reads", req: req{method: "GET", path: "/api/v1/tasks", cookies: cookies}, status: 200, contains: []string{`"greet"`}, absent: []string{`"other"`}},
		{name: "cookie change without CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", cookies: cookies}, status: 403, field: csrfHeader},
		{name: "cookie change with a wrong CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", cookies: cookies, header: map[string]string{csrfHeader: "nope"}}, status: 403, field: csrfHeader},
		{name: "cookie change with CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", cookies: cookies, header: map[string]string{csrfHeader: csrf}}, status: 200, contains: []string{`"enabled":false`}},
		{name: "bearer needs no CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/enable", token: "operator"}, status: 200},
		{name: "logout without CSRF", req: req{method: "DELETE", path: "/api/v1/session", cookies: cookies}, status: 403, field: csrfHeader},
		{name: "logout", req: req{method: "DELETE", path: "/api/v1/session", cookies: cookies, header: map[string]string{csrfHeader: csrf}}, status: 204},
		{name: "session after logout", req: req{method: "GET", path: "/api/v1/session", cookies: cookies}, status: 401},
		{name: "cookie after logout", req: req{method: "GET", path: "/api/v1/tasks", cookies: cookies}, status: 401},
	})
}

func TestSessionEndsWhenTokenIsRevoked(t *testing.T) {
	f := newFixture(t)
	cookie, _ := login(t, f, "viewer")
	f.run(t, []check{{name: "before", req: req{method: "GET", path: "/api/v1/summary", cookies: []*http.Cookie{cookie}}, status: 200}})
	toks, err := f.st.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == "viewer" {
			if err := f.st.RevokeToken(context.Background(), tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.run(t, []check{{name: "after", req: req{method: "GET", path: "/api/v1/summary", cookies: []*http.Cookie{cookie}}, status: 401}})
	if _, err := f.st.TokenByHash(context.Background(), store.HashToken(f.tokens["viewer"])); err == nil {
		t.Fatal("token still valid")
	}
	f.srv.sessions.mu.Lock()
	n := len(f.srv.sessions.m)
	f.srv.sessions.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions left after the token was revoked", n)
	}
}

func TestConfigValidation(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no engine", Config{Store: SQLiteStore(f.st), Runtime: f.rt}, "Engine"},
		{"no store", Config{Engine: f.eng, Runtime: f.rt}, "Store"},
		{"no sessions", Config{Engine: f.eng, Store: Store{Runs: f.st, Tokens: f.st, LoadErrors: f.st, Events: f.st}, Runtime: f.rt}, "Store"},
		{"no runtime", Config{Engine: f.eng, Store: SQLiteStore(f.st)}, "Runtime"},
		{"negative ttl", Config{Engine: f.eng, Store: SQLiteStore(f.st), Runtime: f.rt, SessionTTL: -1}, "SessionTTL"},
		{"negative buffer", Config{Engine: f.eng, Store: SQLiteStore(f.st), Runtime: f.rt, StreamBuffer: -1}, "StreamBuffer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error naming %s", err, c.want)
			}
		})
	}
}
