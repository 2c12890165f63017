package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTokensOnDisk checks that only a token's hash reaches the file.
func TestTokensOnDisk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s := openAt(t, path, Options{})
	const secret = "cbx_0123456789abcdef"
	id, err := s.CreateToken(t.Context(), Token{Name: "admin", Hash: HashToken(secret), Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TouchToken(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(t.Context(), id); err != nil {
		t.Fatal(err)
	}
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
