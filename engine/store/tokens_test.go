package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	clk := newClock(epoch)
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s := openAt(t, path, Options{Now: clk.Now})
	ctx := t.Context()
	const secret = "cbx_0123456789abcdef"
	admin := Token{Name: "admin", Hash: HashToken(secret), Role: "admin"}
	scoped := Token{Name: "ci", Hash: HashToken("other"), Role: "operator", Apps: []string{"a", "b"}, CreatedAt: epoch.Add(-time.Hour)}

	create := []struct {
		name  string
		token Token
		want  error
	}{
		{"admin", admin, nil},
		{"scoped", scoped, nil},
		{"same hash", Token{Name: "again", Hash: HashToken(secret), Role: "viewer"}, ErrDuplicate},
		{"no name", Token{Hash: HashToken("x"), Role: "viewer"}, ErrInvalid},
		{"no role", Token{Name: "x", Hash: HashToken("x")}, ErrInvalid},
		{"no hash", Token{Name: "x", Role: "viewer"}, ErrInvalid},
	}
	ids := map[string]int64{}
	for _, tt := range create {
		t.Run("create "+tt.name, func(t *testing.T) {
			id, err := s.CreateToken(t.Context(), tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("CreateToken = %d, %v; want %v", id, err, tt.want)
			}
			ids[tt.name] = id
		})
	}
	admin.ID, admin.CreatedAt = ids["admin"], epoch
	scoped.ID = ids["scoped"]

	lookup := []struct {
		name   string
		secret string
		want   *Token
		err    error
	}{
		{"admin", secret, &admin, nil},
		{"scoped", "other", &scoped, nil},
		{"unknown", "guess", nil, ErrNotFound},
	}
	for _, tt := range lookup {
		t.Run("lookup "+tt.name, func(t *testing.T) {
			got, err := s.TokenByHash(t.Context(), HashToken(tt.secret))
			if !errors.Is(err, tt.err) || (tt.want != nil) != (got != nil) || got != nil && !tokensEqual(*got, *tt.want) {
				t.Errorf("TokenByHash = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}

	clk.Advance(time.Minute)
	if err := s.TouchToken(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchToken(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchToken(unknown) = %v, want %v", err, ErrNotFound)
	}
	clk.Advance(-time.Second) // a late touch does not move last use back
	if err := s.TouchToken(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	admin.LastUsedAt = epoch.Add(time.Minute)
	if got, err := s.TokenByHash(ctx, admin.Hash); err != nil || !tokensEqual(*got, admin) {
		t.Errorf("TokenByHash after use = %+v, %v; want %+v", got, err, admin)
	}

	clk.Advance(time.Hour)
	revoke := []struct {
		name string
		id   int64
		want error
	}{
		{"scoped", scoped.ID, nil},
		{"again", scoped.ID, nil},
		{"unknown", 999, ErrNotFound},
	}
	// A browser session of the token ends with it; another token's stays.
	for _, sess := range []Session{
		{IDHash: HashSession("of scoped"), TokenHash: scoped.Hash, CSRF: "c", ExpiresAt: epoch.Add(24 * time.Hour)},
		{IDHash: HashSession("of admin"), TokenHash: admin.Hash, CSRF: "c", ExpiresAt: epoch.Add(24 * time.Hour)},
	} {
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range revoke {
		t.Run("revoke "+tt.name, func(t *testing.T) {
			if err := s.RevokeToken(t.Context(), tt.id); !errors.Is(err, tt.want) {
				t.Errorf("RevokeToken = %v, want %v", err, tt.want)
			}
			clk.Advance(time.Minute) // a second revocation keeps the first time
		})
	}
	if _, ok, err := s.Session(ctx, HashSession("of scoped")); ok || err != nil {
		t.Errorf("the revoked token's session is still there (%v)", err)
	}
	if _, ok, err := s.Session(ctx, HashSession("of admin")); !ok || err != nil {
		t.Errorf("another token's session went with the revocation (%v)", err)
	}
	if got, err := s.TokenByHash(ctx, scoped.Hash); !errors.Is(err, ErrRevoked) || got != nil {
		t.Errorf("TokenByHash(revoked) = %+v, %v; want %v", got, err, ErrRevoked)
	}
	scoped.RevokedAt = epoch.Add(time.Hour + time.Minute - time.Second)
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || !tokensEqual(list[0], admin) || !tokensEqual(list[1], scoped) {
		t.Errorf("ListTokens = %+v, %v; want %+v, %+v", list, err, admin, scoped)
	}
	if !list[1].Revoked() || list[0].Revoked() {
		t.Error("Revoked() is wrong")
	}

	// Only hashes reach the disk.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s contains the token", filepath.Base(p))
		}
	}
}

// tokensEqual compares tokens, times with Equal.
func tokensEqual(a, b Token) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.LastUsedAt.Equal(b.LastUsedAt) || !a.RevokedAt.Equal(b.RevokedAt) {
		return false
	}
	for _, t := range []*Token{&a, &b} {
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	}
	return reflect.DeepEqual(a, b)
}
