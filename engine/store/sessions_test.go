package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	clk := newClock(epoch)
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s := openAt(t, path, Options{Now: clk.Now})
	ctx := t.Context()
	a := Session{IDHash: HashSession("cookie-a"), TokenHash: HashToken("cbx_a"), CSRF: "csrf-a", ExpiresAt: epoch.Add(time.Hour)}

	if err := s.PutSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, a); !errors.Is(err, ErrDuplicate) {
		t.Errorf("PutSession again = %v, want %v", err, ErrDuplicate)
	}
	got, ok, err := s.Session(ctx, a.IDHash)
	if err != nil || !ok || got != a {
		t.Fatalf("Session = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	if _, ok, err := s.Session(ctx, HashSession("cookie-a ")); ok || err != nil {
		t.Errorf("Session of another cookie = %v, %v; want none", ok, err)
	}
	if count(t, s, `SELECT count(*) FROM sessions WHERE instr(id_hash, ?1) OR instr(token_hash, ?1) OR instr(csrf, ?1)`, []byte("cookie-a")) != 0 {
		t.Error("the cookie's value is stored")
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
	if err := s.TouchSession(ctx, HashSession("unknown"), later); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchSession of an unknown session = %v, want %v", err, ErrNotFound)
	}

	// The session survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{Now: clk.Now})
	if got, ok, err := s.Session(ctx, a.IDHash); err != nil || !ok || !got.ExpiresAt.Equal(later) || got.CSRF != a.CSRF || got.TokenHash != a.TokenHash {
		t.Fatalf("Session after reopening = %+v, %v, %v", got, ok, err)
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
	if err := s.TouchSession(ctx, a.IDHash, later); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchSession after delete = %v, want %v", err, ErrNotFound)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock(epoch)
	s := openTest(t, Options{Now: clk.Now})
	ctx := t.Context()
	old := Session{IDHash: HashSession("old"), TokenHash: HashToken("cbx_a"), CSRF: "x", ExpiresAt: epoch.Add(time.Minute)}
	if err := s.PutSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, ok, err := s.Session(ctx, old.IDHash); ok || err != nil {
		t.Errorf("Session at its expiry = %v, %v; want none", ok, err)
	}
	// An expired session cannot be revived.
	if err := s.TouchSession(ctx, old.IDHash, clk.Now().Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchSession of an expired session = %v, want %v", err, ErrNotFound)
	}
	if n := count(t, s, `SELECT count(*) FROM sessions`); n != 1 {
		t.Fatalf("%d sessions before the next put, want the expired one", n)
	}
	fresh := Session{IDHash: HashSession("new"), TokenHash: HashToken("cbx_a"), CSRF: "y", ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.PutSession(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM sessions WHERE id_hash = ?`, old.IDHash[:]); n != 0 {
		t.Error("the expired session was not pruned by the next put")
	}
	if _, ok, err := s.Session(ctx, fresh.IDHash); !ok || err != nil {
		t.Errorf("Session of the new one = %v, %v", ok, err)
	}
}

func TestSessionRefused(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	valid := Session{IDHash: HashSession("c"), TokenHash: HashToken("t"), CSRF: "x", ExpiresAt: epoch.Add(time.Hour)}
	for _, tt := range []struct {
		name   string
		change func(*Session)
	}{
		{"no id hash", func(s *Session) { s.IDHash = SessionHash{} }},
		{"no token hash", func(s *Session) { s.TokenHash = TokenHash{} }},
		{"no csrf", func(s *Session) { s.CSRF = "" }},
		{"no expiry", func(s *Session) { s.ExpiresAt = time.Time{} }},
	} {
		sess := valid
		tt.change(&sess)
		if err := s.PutSession(ctx, sess); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PutSession = %v, want %v", tt.name, err, ErrInvalid)
		}
	}
	// The schema refuses hashes of another length than SHA-256's.
	for _, tt := range []struct {
		name      string
		id, token []byte
	}{
		{"short id hash", make([]byte, 31), make([]byte, 32)},
		{"long id hash", make([]byte, 33), make([]byte, 32)},
		{"short token hash", make([]byte, 32), make([]byte, 16)},
		{"text id", nil, make([]byte, 32)},
	} {
		err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var id any = tt.id
			if tt.id == nil {
				id = "not a hash"
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, token_hash, csrf, expires_at) VALUES (?, ?, 'x', ?)`,
				id, tt.token, formatTime(epoch.Add(time.Hour)))
			return err
		})
		if err == nil {
			t.Errorf("%s: inserted", tt.name)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions recorded, want none", n)
	}
}
