package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Secrets checks an implementation of store.Secrets. open returns a new,
// empty store for each test, whose clock is now.
func Secrets(t *testing.T, open func(t *testing.T, now func() time.Time) store.Secrets) {
	t.Run("Lifecycle", func(t *testing.T) { secretsAll(t, open) })
}

func secretsAll(t *testing.T, open func(t *testing.T, now func() time.Time) store.Secrets) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()

	for _, bad := range []store.Secret{
		{Name: "n", Ciphertext: []byte{1}},
		{App: "a", Ciphertext: []byte{1}},
		{App: "a", Name: "n"},
	} {
		if err := s.PutSecret(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutSecret(%+v) = %v, want %v", bad, err, store.ErrInvalid)
		}
	}
	put := func(app, name string, ct []byte) {
		t.Helper()
		if err := s.PutSecret(ctx, store.Secret{App: app, Name: name, Ciphertext: ct}); err != nil {
			t.Fatalf("PutSecret(%s, %s): %v", app, name, err)
		}
	}
	put("a", "TOKEN", []byte("ct1"))
	put("a", "API", []byte("ct2"))
	put("b", "TOKEN", []byte("ct3"))
	clk.Advance(time.Minute)
	put("a", "TOKEN", []byte("ct4")) // replaces

	got, err := s.Secret(ctx, "a", "TOKEN")
	if err != nil || got.App != "a" || got.Name != "TOKEN" || !bytes.Equal(got.Ciphertext, []byte("ct4")) || !got.UpdatedAt.Equal(epoch.Add(time.Minute)) {
		t.Errorf("Secret(a, TOKEN) = %+v, %v; want ct4 updated at %v", got, err, epoch.Add(time.Minute))
	}
	if got, err := s.Secret(ctx, "b", "TOKEN"); err != nil || !bytes.Equal(got.Ciphertext, []byte("ct3")) {
		t.Errorf("Secret(b, TOKEN) = %+v, %v; want ct3 (apps are apart)", got, err)
	}
	if _, err := s.Secret(ctx, "c", "TOKEN"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Secret(unknown) = %v, want %v", err, store.ErrNotFound)
	}

	list, err := s.ListSecrets(ctx, "a")
	if err != nil || len(list) != 2 || list[0].Name != "API" || list[1].Name != "TOKEN" {
		t.Fatalf("ListSecrets(a) = %+v, %v; want API, TOKEN", list, err)
	}
	for _, sec := range list {
		if sec.Ciphertext != nil || sec.App != "a" {
			t.Errorf("ListSecrets gave %+v: want app a and no ciphertext", sec)
		}
	}
	if !list[0].UpdatedAt.Equal(epoch) || !list[1].UpdatedAt.Equal(epoch.Add(time.Minute)) {
		t.Errorf("ListSecrets times = %v, %v; want %v, %v", list[0].UpdatedAt, list[1].UpdatedAt, epoch, epoch.Add(time.Minute))
	}
	if list, err := s.ListSecrets(ctx, "none"); err != nil || len(list) != 0 {
		t.Errorf("ListSecrets(none) = %+v, %v; want nothing", list, err)
	}

	if err := s.DeleteSecret(ctx, "a", "TOKEN"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, "a", "TOKEN"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSecret again = %v, want %v", err, store.ErrNotFound)
	}
	if _, err := s.Secret(ctx, "a", "TOKEN"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Secret after delete = %v, want %v", err, store.ErrNotFound)
	}
	if _, err := s.Secret(ctx, "b", "TOKEN"); err != nil {
		t.Errorf("deleting a's TOKEN touched b's: %v", err)
	}
}
