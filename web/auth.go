package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// role is what a token may do; each role may do what the ones below it
// may.
type role int

const (
	roleNone     role = iota
	roleViewer        // reads
	roleOperator      // also triggers, cancels, switches tasks and apps on and off
	roleAdmin         // also changes task configuration, installs, exports and uninstalls apps
)

// Role names, as tokens store them.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

func parseRole(s string) role {
	switch s {
	case RoleViewer:
		return roleViewer
	case RoleOperator:
		return roleOperator
	case RoleAdmin:
		return roleAdmin
	}
	return roleNone
}

// ValidRole reports whether s names a role.
func ValidRole(s string) bool { return parseRole(s) != roleNone }

// sessionCookie is the name of the browser session's cookie.
const sessionCookie = "cronbox_session"

// csrfHeader carries a session's CSRF token on requests that change things.
const csrfHeader = "X-CSRF-Token"

// principal is who a request acts for: a token, through a bearer header
// or a browser session.
type principal struct {
	token store.Token
	role  role
	// apps are the apps it may see; nil means every app.
	apps map[string]bool
	// session is the browser session the request came with, if it did.
	session *session
	// local is the local admin of a request over the local socket.
	local bool
}

// sees reports whether p may see app's tasks, runs and events.
func (p *principal) sees(app string) bool { return p.apps == nil || p.apps[app] }

// scope returns the apps p may see, for store filters: nil means every
// app, an empty list none.
func (p *principal) scope() []string {
	if p.apps == nil {
		return nil
	}
	out := make([]string, 0, len(p.apps))
	for a := range p.apps {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// user names p in a run's history.
func (p *principal) user() string { return "token:" + p.token.Name }

type principalKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// session is a browser's login: the token it logged in with (by hash,
// never the token itself) and its CSRF token.
type session struct {
	// id is the hash of the session's cookie value, as the store keys it.
	id        store.SessionHash
	tokenHash store.TokenHash
	csrf      string
	// expires is when the session ends unless it is used before; stored
	// is the expiry last written to the store. Both are guarded by
	// sessions.mu.
	expires, stored time.Time
}

// sessionWriteEvery is how far, at most, a session's sliding expiry runs
// ahead of the one in the store before it is written again (less for a
// SessionTTL under two minutes): a busy UI does not write on every
// request, and a restart shortens a session by that much at most.
const sessionWriteEvery = time.Minute

// sessions are the browser sessions. The store records each under the
// SHA-256 of its cookie's value (never the value), so that a restart does
// not log browsers out; sessions caches them in memory by the cookie's
// value, and loads a session it does not hold from the store.
type sessions struct {
	st  store.Sessions
	log *slog.Logger

	mu sync.Mutex
	m  map[string]*session // by the cookie's value
	// removals counts removals, so that a session loaded from the store
	// is not cached if it may have been removed during the load.
	removals uint64
}

// get returns the live session of cookie value id, or nil, and slides its
// expiry to now+ttl.
func (ss *sessions) get(ctx context.Context, id string, now time.Time, ttl time.Duration) (*session, error) {
	for {
		ss.mu.Lock()
		if s := ss.m[id]; s != nil {
			if now.After(s.expires) {
				delete(ss.m, id)
				ss.removals++
				ss.mu.Unlock()
				ss.forget(ctx, id)
				return nil, nil
			}
			due := ss.slide(s, now, ttl)
			ss.mu.Unlock()
			return ss.write(ctx, id, s, due)
		}
		gen := ss.removals
		ss.mu.Unlock()

		st, ok, err := ss.st.Session(ctx, store.HashSession(id))
		if err != nil || !ok {
			return nil, err
		}
		if now.After(st.ExpiresAt) {
			ss.forget(ctx, id)
			return nil, nil
		}
		s := &session{id: store.HashSession(id), tokenHash: st.TokenHash, csrf: st.CSRF, expires: st.ExpiresAt, stored: st.ExpiresAt}
		ss.mu.Lock()
		if ss.removals != gen {
			// A session was removed while this one loaded: perhaps
			// this one, so look again rather than cache it.
			ss.mu.Unlock()
			continue
		}
		if cached := ss.m[id]; cached != nil { // loaded meanwhile
			s = cached
		} else {
			ss.m[id] = s
		}
		due := ss.slide(s, now, ttl)
		ss.mu.Unlock()
		return ss.write(ctx, id, s, due)
	}
}

// slide moves s's expiry to now+ttl and reports whether it is due to be
// written to the store, marking it written if so. ss.mu must be held.
func (ss *sessions) slide(s *session, now time.Time, ttl time.Duration) bool {
	if e := now.Add(ttl); e.After(s.expires) {
		s.expires = e
	}
	if s.expires.Sub(s.stored) < min(sessionWriteEvery, ttl/2) {
		return false
	}
	s.stored = s.expires
	return true
}

// write records s's expiry in the store if due, and returns s, or nil if
// the store no longer holds the session (removed or expired there).
func (ss *sessions) write(ctx context.Context, id string, s *session, due bool) (*session, error) {
	if !due {
		return s, nil
	}
	ss.mu.Lock()
	expires := s.stored
	ss.mu.Unlock()
	err := ss.st.TouchSession(context.WithoutCancel(ctx), store.HashSession(id), expires)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.mu.Lock()
		if ss.m[id] == s {
			delete(ss.m, id)
			ss.removals++
		}
		ss.mu.Unlock()
		return nil, nil
	case err != nil:
		// The session lives on; the store's expiry lags until the next
		// write.
		ss.log.WarnContext(ctx, "recording session use", slog.Any("error", err))
	}
	return s, nil
}

// add records a new session and returns its cookie value.
func (ss *sessions) add(ctx context.Context, s *session, now time.Time) (string, error) {
	id := randomString()
	s.id = store.HashSession(id)
	s.stored = s.expires
	err := ss.st.PutSession(context.WithoutCancel(ctx), store.Session{
		IDHash: s.id, TokenHash: s.tokenHash, CSRF: s.csrf, ExpiresAt: s.expires,
	})
	if err != nil {
		return "", err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, old := range ss.m {
		if now.After(old.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[id] = s
	return id, nil
}

// remove ends the session of cookie value id, in memory and in the store.
func (ss *sessions) remove(ctx context.Context, id string) error {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.removals++
	ss.mu.Unlock()
	return ss.st.DeleteSession(context.WithoutCancel(ctx), store.HashSession(id))
}

// forget deletes an expired session from the store, logging a failure: an
// expired session is refused anyway, and the next login prunes it.
func (ss *sessions) forget(ctx context.Context, id string) {
	if err := ss.st.DeleteSession(context.WithoutCancel(ctx), store.HashSession(id)); err != nil {
		ss.log.WarnContext(ctx, "deleting expired session", slog.Any("error", err))
	}
}

// randomString returns 32 random bytes, base64url-encoded.
func randomString() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenPrincipal looks a token up by its hash: nil for an unknown or
// revoked one; a revoked one's event streams end at once. It records the
// token's use at most every TouchEvery.
func (s *Server) tokenPrincipal(ctx context.Context, h store.TokenHash) (*principal, error) {
	t, err := s.st.Tokens.TokenByHash(ctx, h)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case errors.Is(err, store.ErrRevoked), err == nil && t.Revoked():
		s.endToken(h)
		return nil, nil
	case err != nil:
		return nil, err
	}
	p := &principal{token: *t, role: parseRole(t.Role)}
	if len(t.Apps) > 0 {
		p.apps = make(map[string]bool, len(t.Apps))
		for _, a := range t.Apps {
			name, _, _ := strings.Cut(a, ":") // "app:role" grants a role of the app
			p.apps[name] = true
		}
	}
	s.touch(ctx, t.ID)
	return p, nil
}

// touch records a token's use, at most every TouchEvery per token.
func (s *Server) touch(ctx context.Context, id int64) {
	now := s.cfg.Clock.Now()
	s.touchMu.Lock()
	last, ok := s.touched[id]
	due := !ok || now.Sub(last) >= s.cfg.TouchEvery
	if due {
		s.touched[id] = now
	}
	s.touchMu.Unlock()
	if !due {
		return
	}
	if err := s.st.Tokens.TouchToken(context.WithoutCancel(ctx), id); err != nil {
		s.log.WarnContext(ctx, "recording token use", slog.Int64("token", id), slog.Any("error", err))
	}
}

// authenticate finds the request's principal, from its bearer token or
// its session cookie, or answers 401. A request that changes things with
// a session cookie must carry the session's CSRF token (403 otherwise).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			writeError(w, s.log, r, err)
			return
		}
		if p == nil {
			writeUnauthorized(w)
			return
		}
		if p.session != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, p.session) {
			writeJSON(w, http.StatusForbidden, errorf(http.StatusForbidden, csrfHeader, "this request needs the session's CSRF token in the %s header", csrfHeader))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cronbox"`)
	writeJSON(w, http.StatusUnauthorized, errorf(http.StatusUnauthorized, "", "a valid token is needed: send Authorization: Bearer <token>, or log in"))
}

func csrfOK(r *http.Request, sess *session) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

type localConnKey struct{}

// LocalContext marks the requests of connection c as local: for
// http.Server.ConnContext of a server on a Unix socket that only the
// home's owner may open (its file mode is the authentication). A local
// request acts as an admin of every app, named "local", without a token.
// Never use it for a TCP listener.
func (s *Server) LocalContext(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*net.UnixConn); !ok {
		return ctx
	}
	return context.WithValue(ctx, localConnKey{}, true)
}

// principal returns who r acts for, or nil. A request over a local
// connection acts as the local admin; otherwise a bearer header wins over
// a cookie, and a malformed header counts as no valid token.
func (s *Server) principal(r *http.Request) (*principal, error) {
	if local, _ := r.Context().Value(localConnKey{}).(bool); local {
		return &principal{token: store.Token{Name: "local", Role: RoleAdmin}, role: roleAdmin, local: true}, nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return nil, nil
		}
		return s.tokenPrincipal(r.Context(), store.HashToken(strings.TrimSpace(tok)))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := s.sessions.get(r.Context(), c.Value, s.cfg.Clock.Now(), s.cfg.SessionTTL)
	if err != nil || sess == nil {
		return nil, err
	}
	p, err := s.tokenPrincipal(r.Context(), sess.tokenHash)
	if err != nil {
		return nil, err
	}
	if p == nil { // revoked since the login
		if err := s.sessions.remove(r.Context(), c.Value); err != nil {
			// The session stays refused: its token is checked on
			// every request.
			s.log.WarnContext(r.Context(), "deleting the session of a revoked token", slog.Any("error", err))
		}
		return nil, nil
	}
	p.session = sess
	return p, nil
}

// requireRole answers 403 to a principal below min.
func requireRole(min role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principalFrom(r.Context())
			if p == nil || p.role < min {
				writeJSON(w, http.StatusForbidden, errorf(http.StatusForbidden, "", "the token's role may not do this"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// metricsAuth lets any valid token read /metrics, or anyone when
// MetricsOpen.
func (s *Server) metricsAuth(next http.Handler) http.Handler {
	if s.cfg.MetricsOpen {
		return next
	}
	return s.authenticate(requireRole(roleViewer)(next))
}

// sessionBody is the answer of the session endpoints.
type sessionBody struct {
	Role string   `json:"role"`
	Apps []string `json:"apps"`
	CSRF string   `json:"csrf"`
}

func bodyOf(p *principal) sessionBody {
	b := sessionBody{Role: p.token.Role, Apps: p.scope()}
	if p.session != nil {
		b.CSRF = p.session.csrf
	}
	return b
}

// login checks a token and starts a browser session with it.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Token string `json:"token"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	if body.Token == "" {
		return errorf(http.StatusBadRequest, "token", "token is required")
	}
	h := store.HashToken(body.Token)
	p, err := s.tokenPrincipal(r.Context(), h)
	if err != nil {
		return err
	}
	if p == nil {
		writeUnauthorized(w)
		return nil
	}
	now := s.cfg.Clock.Now()
	p.session = &session{tokenHash: h, csrf: randomString(), expires: now.Add(s.cfg.SessionTTL)}
	id, err := s.sessions.add(r.Context(), p.session, now)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	return writeJSON(w, http.StatusOK, bodyOf(p))
}

// getSession answers who the request acts for, or 401.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	p, err := s.principal(r)
	if err != nil {
		return err
	}
	if p == nil {
		writeUnauthorized(w)
		return nil
	}
	return writeJSON(w, http.StatusOK, bodyOf(p))
}

// logout ends the browser session and clears its cookie. Ending a live
// session needs its CSRF token, like any change made with a cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		sess, err := s.sessions.get(r.Context(), c.Value, s.cfg.Clock.Now(), s.cfg.SessionTTL)
		if err != nil {
			return err
		}
		if sess != nil {
			if !csrfOK(r, sess) {
				return errorf(http.StatusForbidden, csrfHeader, "logging out needs the session's CSRF token in the %s header", csrfHeader)
			}
			if err := s.sessions.remove(r.Context(), c.Value); err != nil {
				return err
			}
			s.endSession(sess.id)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TokenPrefix starts every token NewToken makes, so that a leaked token is
// easy to recognise (and to search for).
const TokenPrefix = "cbx_"

// NewToken returns a new API token: TokenPrefix and 32 random bytes,
// base64url-encoded. Store only its hash (store.HashToken).
func NewToken() string { return TokenPrefix + randomString() }
