package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// ended waits until the stream's body ends, failing after within.
func (s *stream) ended(within time.Duration, what string) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("%s: the event stream is still open after %v", what, within)
	}
}

// tokenID is the store ID of the fixture's token of that name.
func (f *fixture) tokenID(name string) int64 {
	f.t.Helper()
	tok, err := f.st.TokenByHash(context.Background(), store.HashToken(f.tokens[name]))
	if err != nil {
		f.t.Fatal(err)
	}
	return tok.ID
}

func TestStreamEndsWhenTokenRevokedElsewhere(t *testing.T) {
	// The CLI revokes in the store directly: the stream's periodic check
	// finds it.
	f := newFixture(t, func(c *Config) { c.StreamRecheck = 20 * time.Millisecond })
	s := f.openStream(t, "viewer", 0)
	other := f.openStream(t, "operator", 0)
	cookie, _ := login(t, f, "scoped")
	sess := f.openStreamWith(t, func(r *http.Request) { r.AddCookie(cookie) }, 0)
	for _, name := range []string{"viewer", "scoped"} {
		if err := f.st.RevokeToken(context.Background(), f.tokenID(name)); err != nil {
			t.Fatal(err)
		}
	}
	s.ended(5*time.Second, "bearer token revoked in the store")
	sess.ended(5*time.Second, "session's token revoked in the store")
	// The other token's stream lives on.
	run := f.trigger("hello", "greet", "")
	other.until(finished(run))
}

func TestStreamEndsAtOnceOnLogoutAndRevocationSeen(t *testing.T) {
	// Without a periodic check in the test's time, only the server's own
	// knowledge ends the streams.
	f := newFixture(t, func(c *Config) { c.StreamRecheck = time.Hour })
	cookie, csrf := login(t, f, "viewer")
	byCookie := func(r *http.Request) { r.AddCookie(cookie) }
	s := f.openStreamWith(t, byCookie, 0)
	kept := f.openStream(t, "viewer", 0) // the same token, without the session
	f.run(t, []check{{name: "logout", req: req{method: "DELETE", path: "/api/v1/session", cookies: []*http.Cookie{cookie}, header: map[string]string{csrfHeader: csrf}}, status: 204}})
	s.ended(5*time.Second, "logout")

	// A token revoked elsewhere, then seen revoked by this server (a
	// request with it), ends its streams at once.
	op := f.openStream(t, "operator", 0)
	if err := f.st.RevokeToken(context.Background(), f.tokenID("operator")); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{{name: "revoked token refused", req: req{method: "GET", path: "/api/v1/summary", token: "operator"}, status: 401}})
	op.ended(5*time.Second, "a request with the revoked token")

	run := f.trigger("hello", "greet", "")
	kept.until(finished(run))
}

func TestStreamOutlivesReadTimeout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PingInterval = 10 * time.Millisecond })
	// A server whose read timeout, meant for requests, is short, as
	// cronbox serve sets one: net/http lifts it once a request is read,
	// so that it does not end a stream.
	hs := httptest.NewUnstartedServer(f.srv.Handler())
	hs.Config.ReadTimeout = 50 * time.Millisecond
	hs.Start()
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, "GET", hs.URL+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+f.tokens["viewer"])
	resp, err := hs.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Pings keep coming well past the read timeout.
	start := time.Now()
	br := bufio.NewReader(resp.Body)
	for time.Since(start) < 10*hs.Config.ReadTimeout {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("the stream ended after %v, past the server's read timeout of %v: %v", time.Since(start), hs.Config.ReadTimeout, err)
		}
	}
}
