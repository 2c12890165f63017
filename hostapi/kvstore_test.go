package hostapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestTableMatchesNaive checks the sorted index against a linear scan over
// random operations.
func TestTableMatchesNaive(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		b := make([]byte, 1+rng.IntN(3))
		for i := range b {
			b[i] = "ab/"[rng.IntN(3)]
		}
		return string(b)
	}
	tab := newTable(nil)
	naive := map[string]bool{}
	for range 5000 {
		switch k := key(); rng.IntN(3) {
		case 0, 1:
			tab.set(k, nil)
			naive[k] = true
		case 2:
			tab.delete(k)
			delete(naive, k)
		}
		prefix, after, limit := key()[:rng.IntN(2)], key(), rng.IntN(5)
		if rng.IntN(4) == 0 {
			after = ""
		}
		var want []string
		for k := range naive {
			if strings.HasPrefix(k, prefix) && k > after {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		want = want[:min(limit, len(want))]
		if got := tab.list(prefix, after, limit); !slices.Equal(got, want) {
			t.Fatalf("list(%q, %q, %d) = %q, want %q", prefix, after, limit, got, want)
		}
	}
}

func TestFileKVPersists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.json")
	kv, err := OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenFileKV created the file: %v", err)
	}
	for k, v := range map[string]string{"a": "1", "b": "\x00\xff binary", "c": "3"} {
		if err := kv.Set(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}

	reopened, err := OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := reopened.List(ctx, "", "", 10)
	if err != nil || !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("keys after reopening = %q, %v", keys, err)
	}
	if v, ok, err := reopened.Get(ctx, "b"); err != nil || !ok || string(v) != "\x00\xff binary" {
		t.Fatalf("Get(b) after reopening = %q, %v, %v", v, ok, err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the file (no temporary files left)", len(entries))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestFileKVFailedWrite checks that a change that cannot be written is not
// kept in memory either, and that the old file is left as it was.
func TestFileKVFailedWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.json")
	kv, err := OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Set(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A directory in the way makes the rename fail, even for root.
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := kv.Set(ctx, "b", []byte("2")); err == nil {
		t.Fatal("Set succeeded with a directory in place of the file")
	}
	if err := kv.Delete(ctx, "a"); err == nil {
		t.Fatal("Delete succeeded with a directory in place of the file")
	}
	keys, _ := kv.List(ctx, "", "", 10)
	if !slices.Equal(keys, []string{"a"}) {
		t.Errorf("keys after failed writes = %q, want [a]", keys)
	}
	after, err := os.ReadFile(path + ".moved")
	if err != nil || string(after) != string(before) {
		t.Errorf("the old file changed: %q, %v", after, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want 2 (temporary files removed)", len(entries))
	}
}

func TestFileKVConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.json")
	kv, err := OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				k := fmt.Sprintf("w%d/%02d", w, i)
				if err := kv.Set(ctx, k, []byte(k)); err != nil {
					t.Error(err)
				}
				if _, err := kv.List(ctx, "", "", 5); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	reopened, err := OpenFileKV(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := reopened.List(ctx, "", "", 1000)
	if err != nil || len(keys) != 100 {
		t.Fatalf("reopened KV has %d keys (%v), want 100", len(keys), err)
	}
}

func TestFileKVLoadErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"corrupt", "{not json", "loading kv file"},
		{"unknown format", `{"format":2,"entries":{}}`, "unknown format 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			kv, err := OpenFileKV(path)
			if err != nil {
				t.Fatalf("OpenFileKV = %v; the file is read lazily", err)
			}
			if _, _, err := kv.Get(ctx, "a"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Get = %v, want an error mentioning %q", err, tt.want)
			}
			if err := kv.Set(ctx, "a", nil); err == nil {
				t.Error("Set on an unreadable file succeeded")
			}
		})
	}
}

func TestOpenFileKVErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, path := range map[string]string{
		"empty path":        "",
		"missing directory": filepath.Join(dir, "missing", "kv.json"),
		"directory":         dir,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := OpenFileKV(path); err == nil {
				t.Errorf("OpenFileKV(%q) succeeded", path)
			}
		})
	}
}
