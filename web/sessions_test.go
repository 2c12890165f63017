package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// restart simulates a restart of the server: it closes f's server and
// returns a fixture with a new one, on the same engine and store, whose
// sessions are those of the store alone.
func (f *fixture) restart(adjust ...func(*Config)) *fixture {
	f.t.Helper()
	f.srv.CloseStreams()
	f.srv.Close()
	cfg := Config{Engine: f.eng, Store: SQLiteStore(f.st), Runtime: f.rt, PingInterval: time.Hour}
	for _, a := range adjust {
		a(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	f.t.Cleanup(func() {
		srv.CloseStreams()
		hs.Close()
		srv.Close()
	})
	g := *f
	g.srv, g.http = srv, hs
	return &g
}

// storedSession returns the store's record of the session of cookie c.
func storedSession(t *testing.T, f *fixture, c *http.Cookie) (store.Session, bool) {
	t.Helper()
	s, ok, err := f.st.Session(context.Background(), store.HashSession(c.Value))
	if err != nil {
		t.Fatal(err)
	}
	return s, ok
}

func TestSessionSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := login(t, f, "scoped")
	stored, ok := storedSession(t, f, cookie)
	if !ok || stored.TokenHash != store.HashToken(f.tokens["scoped"]) || stored.CSRF != csrf {
		t.Fatalf("stored session %+v, %v", stored, ok)
	}
	cookies := []*http.Cookie{cookie}
	g := f.restart()
	g.run(t, []check{
		{name: "session", req: req{method: "GET", path: "/api/v1/session", cookies: cookies}, status: 200,
			contains: []string{`"role":"admin"`, `"apps":["hello"]`, csrf}},
		{name: "scope kept", req: req{method: "GET", path: "/api/v1/tasks", cookies: cookies}, status: 200,
			contains: []string{`"greet"`}, absent: []string{`"other"`}},
		{name: "change without CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", cookies: cookies}, status: 403, field: csrfHeader},
		{name: "change with CSRF", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", cookies: cookies, header: map[string]string{csrfHeader: csrf}}, status: 200},
		{name: "forged cookie", req: req{method: "GET", path: "/api/v1/session", cookies: []*http.Cookie{{Name: sessionCookie, Value: "forged"}}}, status: 401},
		// The store is keyed by the cookie's hash: its hash is no cookie.
		{name: "hash as cookie", req: req{method: "GET", path: "/api/v1/session", cookies: []*http.Cookie{{Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString(stored.IDHash[:])}}}, status: 401},
	})
}

func TestLogoutEndsSessionAcrossRestarts(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := login(t, f, "viewer")
	cookies := []*http.Cookie{cookie}
	f.run(t, []check{{name: "logout", req: req{method: "DELETE", path: "/api/v1/session", cookies: cookies, header: map[string]string{csrfHeader: csrf}}, status: 204}})
	if _, ok := storedSession(t, f, cookie); ok {
		t.Error("the store still holds the session after logout")
	}
	g := f.restart()
	g.run(t, []check{{name: "after restart", req: req{method: "GET", path: "/api/v1/session", cookies: cookies}, status: 401}})

	// A session loaded from the store after a restart is ended there too.
	cookie, csrf = login(t, g, "viewer")
	cookies = []*http.Cookie{cookie}
	h := g.restart()
	h.run(t, []check{
		{name: "loaded", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 200},
		{name: "logout", req: req{method: "DELETE", path: "/api/v1/session", cookies: cookies, header: map[string]string{csrfHeader: csrf}}, status: 204},
		{name: "after logout", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 401},
	})
	h.restart().run(t, []check{{name: "after another restart", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 401}})
}

func TestRevokedSessionAfterRestart(t *testing.T) {
	f := newFixture(t)
	cookie, _ := login(t, f, "viewer")
	cookies := []*http.Cookie{cookie}
	tok, err := f.st.TokenByHash(context.Background(), store.HashToken(f.tokens["viewer"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.RevokeToken(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	g := f.restart()
	g.run(t, []check{
		{name: "after revocation", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 401},
		{name: "session", req: req{method: "GET", path: "/api/v1/session", cookies: cookies}, status: 401},
	})
	if _, ok := storedSession(t, g, cookie); ok {
		t.Error("the store still holds the session of a revoked token")
	}
	g.srv.sessions.mu.Lock()
	n := len(g.srv.sessions.m)
	g.srv.sessions.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions cached after the token was revoked", n)
	}
}

func TestExpiredSession(t *testing.T) {
	const ttl = time.Hour
	clock := engine.NewFakeClock(time.Now())
	short := func(c *Config) { c.SessionTTL, c.Clock = ttl, clock }
	f := newFixture(t, short)
	cookie, _ := login(t, f, "viewer")
	cookies := []*http.Cookie{cookie}
	clock.Advance(2 * ttl)
	// From the store, after a restart…
	g := f.restart(short)
	g.run(t, []check{{name: "after restart", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 401}})
	// …and from memory.
	cookie, _ = login(t, g, "viewer")
	cookies = []*http.Cookie{cookie}
	clock.Advance(2 * ttl)
	g.run(t, []check{{name: "in memory", req: req{method: "GET", path: "/api/v1/summary", cookies: cookies}, status: 401}})
	if _, ok := storedSession(t, g, cookie); ok {
		t.Error("the store returns an expired session")
	}

	// A session the store holds past its expiry (by the server's clock)
	// is refused and deleted.
	id := randomString()
	expired := store.Session{IDHash: store.HashSession(id), TokenHash: store.HashToken(g.tokens["viewer"]), CSRF: "x", ExpiresAt: clock.Now().Add(time.Hour)}
	if err := g.st.PutSession(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	s, err := g.srv.sessions.get(context.Background(), id, clock.Now().Add(2*time.Hour), ttl)
	if s != nil || err != nil {
		t.Errorf("get past the expiry = %+v, %v; want nothing", s, err)
	}
	if _, ok := storedSession(t, g, &http.Cookie{Value: id}); ok {
		t.Error("the expired session is still stored")
	}
}

// TestSessionExpiryWrites checks that the sliding expiry reaches the store
// at most once a minute.
func TestSessionExpiryWrites(t *testing.T) {
	f := newFixture(t)
	cookie, _ := login(t, f, "viewer")
	first, _ := storedSession(t, f, cookie)
	ttl := f.srv.cfg.SessionTTL
	now := time.Now()
	for _, tt := range []struct {
		after time.Duration
		want  time.Time // the stored expiry afterwards
	}{
		{time.Second, first.ExpiresAt},
		{30 * time.Second, first.ExpiresAt},
		{time.Minute + time.Second, now.Add(time.Minute + time.Second + ttl)},
		{time.Minute + 30*time.Second, now.Add(time.Minute + time.Second + ttl)},
		{3 * time.Minute, now.Add(3*time.Minute + ttl)},
	} {
		s, err := f.srv.sessions.get(context.Background(), cookie.Value, now.Add(tt.after), ttl)
		if s == nil || err != nil {
			t.Fatalf("after %v: get = %v, %v", tt.after, s, err)
		}
		got, ok := storedSession(t, f, cookie)
		if !ok || !got.ExpiresAt.Equal(tt.want) {
			t.Errorf("after %v: stored expiry %v, want %v", tt.after, got.ExpiresAt, tt.want)
		}
	}
	// A session the store no longer holds (ended by another server) is
	// refused at its next write.
	if err := f.st.DeleteSession(context.Background(), store.HashSession(cookie.Value)); err != nil {
		t.Fatal(err)
	}
	if s, err := f.srv.sessions.get(context.Background(), cookie.Value, now.Add(5*time.Minute), ttl); s != nil || err != nil {
		t.Errorf("get of a session deleted from the store = %v, %v; want nothing", s, err)
	}
	f.run(t, []check{{name: "after", req: req{method: "GET", path: "/api/v1/summary", cookies: []*http.Cookie{cookie}}, status: 401}})
}
