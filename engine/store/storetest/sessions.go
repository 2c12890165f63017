package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Sessions checks an implementation of store.Sessions. open returns a new,
// empty store for each test, whose clock is now.
func Sessions(t *testing.T, open func(t *testing.T, now func() time.Time) store.Sessions) {
	t.Run("Lifecycle", func(t *testing.T) { sessionsAll(t, open) })
	t.Run("Expiry", func(t *testing.T) { sessionsExpiry(t, open) })
	t.Run("Refused", func(t *testing.T) { sessionsRefused(t, open) })
}

func sessionsAll(t *testing.T, open func(t *testing.T, now func() time.Time) store.Sessions) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	a := store.Session{IDHash: store.HashSession("cookie-a"), TokenHash: store.HashToken("cbx_a"), CSRF: "csrf-a", ExpiresAt: epoch.Add(time.Hour)}

	if err := s.PutSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, a); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("PutSession again = %v, want %v", err, store.ErrDuplicate)
	}
	got, ok, err := s.Session(ctx, a.IDHash)
	if err != nil || !ok || got != a {
		t.Fatalf("Session = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	if _, ok, err := s.Session(ctx, store.HashSession("cookie-a ")); ok || err != nil {
		t.Errorf("Session of another cookie = %v, %v; want none", ok, err)
	}
	// Touching moves the expiry forward, never back.
	later := epoch.Add(2 * time.Hour)
	if err := s.TouchSession(ctx, a.IDHash, later); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, a.IDHash, epoch.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Session(ctx, a.IDHash); !got.ExpiresAt.Equal(later) {
		t.Errorf("expires at %v after touches, want %v", got.ExpiresAt, later)
	}
	if err := s.TouchSession(ctx, store.HashSession("unknown"), later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of an unknown session = %v, want %v", err, store.ErrNotFound)
	}

	if err := s.DeleteSession(ctx, a.IDHash); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Session(ctx, a.IDHash); ok || err != nil {
		t.Errorf("Session after delete = %v, %v; want none", ok, err)
	}
	if err := s.DeleteSession(ctx, a.IDHash); err != nil {
		t.Errorf("DeleteSession again = %v, want nil", err)
	}
	if err := s.TouchSession(ctx, a.IDHash, later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession after delete = %v, want %v", err, store.ErrNotFound)
	}
}

func sessionsExpiry(t *testing.T, open func(t *testing.T, now func() time.Time) store.Sessions) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()
	old := store.Session{IDHash: store.HashSession("old"), TokenHash: store.HashToken("cbx_a"), CSRF: "x", ExpiresAt: epoch.Add(time.Minute)}
	if err := s.PutSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, ok, err := s.Session(ctx, old.IDHash); ok || err != nil {
		t.Errorf("Session at its expiry = %v, %v; want none", ok, err)
	}
	// An expired session cannot be revived.
	if err := s.TouchSession(ctx, old.IDHash, clk.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of an expired session = %v, want %v", err, store.ErrNotFound)
	}
	fresh := store.Session{IDHash: store.HashSession("new"), TokenHash: store.HashToken("cbx_a"), CSRF: "y", ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.PutSession(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Session(ctx, fresh.IDHash); !ok || err != nil {
		t.Errorf("Session of the new one = %v, %v", ok, err)
	}
}

func sessionsRefused(t *testing.T, open func(t *testing.T, now func() time.Time) store.Sessions) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	valid := store.Session{IDHash: store.HashSession("c"), TokenHash: store.HashToken("t"), CSRF: "x", ExpiresAt: epoch.Add(time.Hour)}
	for _, tt := range []struct {
		name   string
		change func(*store.Session)
	}{
		{"no id hash", func(s *store.Session) { s.IDHash = store.SessionHash{} }},
		{"no token hash", func(s *store.Session) { s.TokenHash = store.TokenHash{} }},
		{"no csrf", func(s *store.Session) { s.CSRF = "" }},
		{"no expiry", func(s *store.Session) { s.ExpiresAt = time.Time{} }},
	} {
		sess := valid
		tt.change(&sess)
		if err := s.PutSession(ctx, sess); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: PutSession = %v, want %v", tt.name, err, store.ErrInvalid)
		}
	}
}

// TokensSessions is what the TokenSessions suite checks: the sessions
// opened with a token end with it.
type TokensSessions interface {
	store.Tokens
	store.Sessions
}

// TokenSessions checks that revoking a token deletes its browser
// sessions, and only its own, in an implementation of both store.Tokens
// and store.Sessions. open returns a new, empty store for each test,
// whose clock is now.
func TokenSessions(t *testing.T, open func(t *testing.T, now func() time.Time) TokensSessions) {
	s := open(t, fixed(epoch))
	ctx := t.Context()
	mine, other := store.HashToken("cbx_mine"), store.HashToken("cbx_other")
	id, err := s.CreateToken(ctx, store.Token{Name: "mine", Hash: mine, Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateToken(ctx, store.Token{Name: "other", Hash: other, Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	for _, sess := range []store.Session{
		{IDHash: store.HashSession("of mine"), TokenHash: mine, CSRF: "c", ExpiresAt: epoch.Add(24 * time.Hour)},
		{IDHash: store.HashSession("of other"), TokenHash: other, CSRF: "c", ExpiresAt: epoch.Add(24 * time.Hour)},
	} {
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Session(ctx, store.HashSession("of mine")); ok || err != nil {
		t.Errorf("the revoked token's session is still there (%v)", err)
	}
	if _, ok, err := s.Session(ctx, store.HashSession("of other")); !ok || err != nil {
		t.Errorf("another token's session went with the revocation (%v)", err)
	}
}
