package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Tokens checks an implementation of store.Tokens. open returns a new,
// empty store for each test, whose clock is now.
func Tokens(t *testing.T, open func(t *testing.T, now func() time.Time) store.Tokens) {
	t.Run("Lifecycle", func(t *testing.T) { tokensAll(t, open) })
}

func tokensAll(t *testing.T, open func(t *testing.T, now func() time.Time) store.Tokens) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()
	const secret = "cbx_0123456789abcdef"
	admin := store.Token{Name: "admin", Hash: store.HashToken(secret), Role: "admin"}
	scoped := store.Token{Name: "ci", Hash: store.HashToken("other"), Role: "operator", Apps: []string{"a", "b"}, CreatedAt: epoch.Add(-time.Hour)}

	create := []struct {
		name  string
		token store.Token
		want  error
	}{
		{"admin", admin, nil},
		{"scoped", scoped, nil},
		{"same hash", store.Token{Name: "again", Hash: store.HashToken(secret), Role: "viewer"}, store.ErrDuplicate},
		{"no name", store.Token{Hash: store.HashToken("x"), Role: "viewer"}, store.ErrInvalid},
		{"no role", store.Token{Name: "x", Hash: store.HashToken("x")}, store.ErrInvalid},
		{"no hash", store.Token{Name: "x", Role: "viewer"}, store.ErrInvalid},
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
		want   *store.Token
		err    error
	}{
		{"admin", secret, &admin, nil},
		{"scoped", "other", &scoped, nil},
		{"unknown", "guess", nil, store.ErrNotFound},
	}
	for _, tt := range lookup {
		t.Run("lookup "+tt.name, func(t *testing.T) {
			got, err := s.TokenByHash(t.Context(), store.HashToken(tt.secret))
			if !errors.Is(err, tt.err) || (tt.want != nil) != (got != nil) || got != nil && !tokensEqual(*got, *tt.want) {
				t.Errorf("TokenByHash = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}

	clk.Advance(time.Minute)
	if err := s.TouchToken(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchToken(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchToken(unknown) = %v, want %v", err, store.ErrNotFound)
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
		{"unknown", 999, store.ErrNotFound},
	}
	for _, tt := range revoke {
		t.Run("revoke "+tt.name, func(t *testing.T) {
			if err := s.RevokeToken(t.Context(), tt.id); !errors.Is(err, tt.want) {
				t.Errorf("RevokeToken = %v, want %v", err, tt.want)
			}
			clk.Advance(time.Minute) // a second revocation keeps the first time
		})
	}
	if got, err := s.TokenByHash(ctx, scoped.Hash); !errors.Is(err, store.ErrRevoked) || got != nil {
		t.Errorf("TokenByHash(revoked) = %+v, %v; want %v", got, err, store.ErrRevoked)
	}
	scoped.RevokedAt = epoch.Add(time.Hour + time.Minute - time.Second)
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || !tokensEqual(list[0], admin) || !tokensEqual(list[1], scoped) {
		t.Errorf("ListTokens = %+v, %v; want %+v, %+v", list, err, admin, scoped)
	}
	if !list[1].Revoked() || list[0].Revoked() {
		t.Error("Revoked() is wrong")
	}

}

// tokensEqual compares tokens, times with Equal.
func tokensEqual(a, b store.Token) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.LastUsedAt.Equal(b.LastUsedAt) || !a.RevokedAt.Equal(b.RevokedAt) {
		return false
	}
	for _, t := range []*store.Token{&a, &b} {
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	}
	return reflect.DeepEqual(a, b)
}
