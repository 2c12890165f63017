package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestKeyFileIsCreatedWithMode0600AndKept(t *testing.T) {
	t.Setenv(KeyEnv, "")
	os.Unsetenv(KeyEnv)
	home := homedir.Home(t.TempDir())
	k1, err := LoadKey(home)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(home.SecretKey())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadKey(home)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != KeySize {
		t.Errorf("second LoadKey = %x, %v; want the first key %x", k2, err, k1)
	}
	if err := os.Chmod(home.SecretKey(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(home); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadKey of a key file others may read = %v, want a refusal", err)
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	home := homedir.Home(t.TempDir())
	key := bytes.Repeat([]byte{7}, KeySize)
	t.Setenv(KeyEnv, base64.StdEncoding.EncodeToString(key))
	got, err := LoadKey(home)
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("LoadKey = %x, %v; want %x", got, err, key)
	}
	if _, err := os.Stat(home.SecretKey()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was written although %s gives the key: %v", KeyEnv, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		t.Setenv(KeyEnv, bad)
		if _, err := LoadKey(home); err == nil || !strings.Contains(err.Error(), KeyEnv) {
			t.Errorf("LoadKey with %s=%q = %v, want an error naming it", KeyEnv, bad, err)
		}
	}
}

func TestSealedValuesOpenOnlyWithTheirKeyAppAndName(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	box, err := New(bytes.Repeat([]byte{1}, KeySize), st)
	if err != nil {
		t.Fatal(err)
	}
	const value = "s3cr3t-v4lue"
	if err := box.Set(ctx, "a", "TOKEN", []byte(value)); err != nil {
		t.Fatal(err)
	}
	if v, err := box.Value(ctx, "a", "TOKEN"); err != nil || v != value {
		t.Fatalf("Value = %q, %v; want %q", v, err, value)
	}
	sec, err := st.Secret(ctx, "a", "TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sec.Ciphertext, []byte(value)) {
		t.Error("the store holds the value in clear")
	}

	t.Run("wrong key", func(t *testing.T) {
		other, err := New(bytes.Repeat([]byte{2}, KeySize), st)
		if err != nil {
			t.Fatal(err)
		}
		v, err := other.Value(ctx, "a", "TOKEN")
		if !errors.Is(err, ErrWrongKey) || v != "" {
			t.Errorf("Value under another key = %q, %v; want %v", v, err, ErrWrongKey)
		}
	})
	t.Run("moved to another name", func(t *testing.T) {
		if err := st.PutSecret(ctx, store.Secret{App: "a", Name: "OTHER", Ciphertext: sec.Ciphertext}); err != nil {
			t.Fatal(err)
		}
		if v, err := box.Value(ctx, "a", "OTHER"); !errors.Is(err, ErrWrongKey) || v != "" {
			t.Errorf("Value of a ciphertext moved to another name = %q, %v; want %v", v, err, ErrWrongKey)
		}
	})
	t.Run("moved to another app", func(t *testing.T) {
		if err := st.PutSecret(ctx, store.Secret{App: "b", Name: "TOKEN", Ciphertext: sec.Ciphertext}); err != nil {
			t.Fatal(err)
		}
		if v, err := box.Value(ctx, "b", "TOKEN"); !errors.Is(err, ErrWrongKey) || v != "" {
			t.Errorf("Value of a ciphertext moved to another app = %q, %v; want %v", v, err, ErrWrongKey)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if _, err := box.Unseal("a", "TOKEN", sec.Ciphertext[:10]); !errors.Is(err, ErrWrongKey) {
			t.Errorf("Unseal of a truncated ciphertext = %v, want %v", err, ErrWrongKey)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := box.Value(ctx, "a", "NONE"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Value of a missing secret = %v, want %v", err, store.ErrNotFound)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		if err := box.Set(ctx, "a", "1x", []byte("v")); err == nil {
			t.Error("Set accepted the name 1x")
		}
	})
}

func TestExpand(t *testing.T) {
	vals := map[string]string{"TOKEN": "tok", "PASS": "pw"}
	lookup := func(name string) (string, error) {
		v, ok := vals[name]
		if !ok {
			return "", store.ErrNotFound
		}
		return v, nil
	}
	env := map[string]string{"A": "${secret:TOKEN}", "B": "user:${secret:PASS}@${secret:TOKEN}", "C": "plain ${secret"}
	got, err := Expand(env, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got["A"] != "tok" || got["B"] != "user:pw@tok" || got["C"] != "plain ${secret" {
		t.Errorf("Expand = %v", got)
	}
	if env["A"] != "${secret:TOKEN}" {
		t.Error("Expand changed its argument")
	}
	if refs := References(env); strings.Join(refs, ",") != "PASS,TOKEN" {
		t.Errorf("References = %v, want PASS, TOKEN", refs)
	}
	_, err = Expand(map[string]string{"X": "${secret:MISSING}"}, lookup)
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "secret MISSING") || !strings.Contains(err.Error(), "variable X") {
		t.Errorf("Expand of a missing secret = %v, want an error naming it", err)
	}
	if _, err := Expand(map[string]string{"X": "${secret:TOKEN}"}, nil); err == nil {
		t.Error("Expand without a lookup resolved a reference")
	}
	if _, err := Expand(map[string]string{"X": "${secret:bad-name}"}, lookup); err == nil {
		t.Error("Expand accepted a bad name")
	}
}

func FuzzExpand(f *testing.F) {
	seeds, err := filepath.Glob("testdata/expand/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, v string) {
		const secret = "VALUE"
		env := map[string]string{"V": v}
		refs := References(env)
		got, err := Expand(env, func(string) (string, error) { return secret, nil })
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Expand(%q) error %q holds a value", v, err)
			}
			return // a bad name: refused, never half-expanded
		}
		if len(refs) == 0 && got["V"] != v {
			t.Errorf("Expand(%q) without references = %q", v, got["V"])
		}
		for _, n := range refs {
			if ValidName(n) != nil {
				t.Errorf("Expand(%q) accepted the bad name %q", v, n)
			}
		}
	})
}

func TestLazyMakesTheKeyOnFirstUse(t *testing.T) {
	t.Setenv(KeyEnv, "")
	os.Unsetenv(KeyEnv)
	home := homedir.Home(t.TempDir())
	l := OpenLazily(home, openStore(t))
	if _, err := os.Stat(home.SecretKey()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file before any use: %v", err)
	}
	if err := l.Set(t.Context(), "a", "K", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(home.SecretKey()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file after the first Set: %v, %v", fi, err)
	}
	if v, err := l.Value(t.Context(), "a", "K"); err != nil || v != "v" {
		t.Errorf("Value = %q, %v", v, err)
	}
}

// TestResolveSetting checks what a notification channel's settings get:
// an app's secrets in place of their references, nothing for the server's
// own settings, and no key file for a setting without a reference.
func TestResolveSetting(t *testing.T) {
	t.Setenv(KeyEnv, "")
	os.Unsetenv(KeyEnv)
	home := homedir.Home(t.TempDir())
	l := OpenLazily(home, openStore(t))
	ctx := t.Context()
	if v, err := l.Resolve(ctx, "a", "https://hooks.example/plain"); err != nil || v != "https://hooks.example/plain" {
		t.Errorf("Resolve without a reference = %q, %v", v, err)
	}
	if _, err := os.Stat(home.SecretKey()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a setting without a reference made a key file: %v", err)
	}
	if err := l.Set(ctx, "a", "HOOK", []byte("s3cr3t")); err != nil {
		t.Fatal(err)
	}
	if v, err := l.Resolve(ctx, "a", "https://hooks.example/${secret:HOOK}?x=1"); err != nil || v != "https://hooks.example/s3cr3t?x=1" {
		t.Errorf("Resolve = %q, %v", v, err)
	}
	_, err := l.Resolve(ctx, "b", "${secret:HOOK}")
	if err == nil || !strings.Contains(err.Error(), "HOOK") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("another app's secret: %v; want an error naming the secret, not its value", err)
	}
	if _, err := l.Resolve(ctx, "", "${secret:HOOK}"); err == nil || !strings.Contains(err.Error(), "server setting") {
		t.Errorf("a server setting's reference: %v", err)
	}
}
