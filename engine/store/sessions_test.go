package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestSessionsStored checks what the SQLite store keeps of a session: not
// the cookie's value, and the session across a restart.
func TestSessionsStored(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s := openAt(t, path, Options{})
	ctx := t.Context()
	a := Session{IDHash: HashSession("cookie-a"), TokenHash: HashToken("cbx_a"), CSRF: "csrf-a", ExpiresAt: epoch.Add(time.Hour)}
	if err := s.PutSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if count(t, s, `SELECT count(*) FROM sessions WHERE instr(id_hash, ?1) OR instr(token_hash, ?1) OR instr(csrf, ?1)`, []byte("cookie-a")) != 0 {
		t.Error("the cookie's value is stored")
	}
	later := epoch.Add(2 * time.Hour)
	if err := s.TouchSession(ctx, a.IDHash, later); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	if got, ok, err := s.Session(ctx, a.IDHash); err != nil || !ok || !got.ExpiresAt.Equal(later) || got.CSRF != a.CSRF || got.TokenHash != a.TokenHash {
		t.Fatalf("Session after reopening = %+v, %v, %v", got, ok, err)
	}
}

// TestSessionPruned checks that a put deletes the sessions that expired.
func TestSessionPruned(t *testing.T) {
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
}

// TestSessionSchema checks that the schema itself refuses hashes that are
// not SHA-256's.
func TestSessionSchema(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
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
