package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/hostapi"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"a/", "a0", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"\xc3", "\xc4", true},
	}
	for _, tt := range tests {
		if got, ok := prefixEnd(tt.prefix); got != tt.want || ok != tt.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
}

// TestKVPaging lists a namespace page by page, as kv_list does.
func TestKVPaging(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv := openTest(t, Options{}).KV("a")
	var want []string
	for i := range 50 {
		k := fmt.Sprintf("p/%03d", i)
		want = append(want, k)
		if err := kv.Set(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Set(ctx, "q", nil); err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{1, 7, 50, 51} {
		var got []string
		for after := ""; ; {
			keys, err := kv.List(ctx, "p/", after, page)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keys...)
			if len(keys) < page {
				break
			}
			after = keys[len(keys)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: %q, want %q", page, got, want)
		}
	}
}

// TestKVMatchesMemoryKV runs random operations on the store's KV and on
// hostapi's MemoryKV and compares every answer.
func TestKVMatchesMemoryKV(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv, mem := openTest(t, Options{}).KV("a"), hostapi.NewMemoryKV()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		b := make([]byte, 1+rng.IntN(3))
		for i := range b {
			b[i] = "ab/é"[rng.IntN(4)]
		}
		return strings.ToValidUTF8(string(b), "é")
	}
	for i := range 600 {
		k := key()
		switch rng.IntN(3) {
		case 0, 1:
			v := []byte(fmt.Sprint(i))
			if err := errors.Join(kv.Set(ctx, k, v), mem.Set(ctx, k, v)); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := errors.Join(kv.Delete(ctx, k), mem.Delete(ctx, k)); err != nil {
				t.Fatal(err)
			}
		}
		got, gotOK, err := kv.Get(ctx, k)
		want, wantOK, _ := mem.Get(ctx, k)
		if err != nil || gotOK != wantOK || !slices.Equal(got, want) {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q, %v", k, got, gotOK, err, want, wantOK)
		}
		prefix, after, limit := key()[:rng.IntN(2)], key(), rng.IntN(5)
		if rng.IntN(4) == 0 {
			after = ""
		}
		gotKeys, err := kv.List(ctx, prefix, after, limit)
		wantKeys, _ := mem.List(ctx, prefix, after, limit)
		if err != nil || !slices.Equal(gotKeys, wantKeys) {
			t.Fatalf("List(%q, %q, %d) = %q, %v; want %q", prefix, after, limit, gotKeys, err, wantKeys)
		}
	}
}

func TestKVConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv := openTest(t, Options{}).KV("a")
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
	keys, err := kv.List(ctx, "", "", 1000)
	if err != nil || len(keys) != 100 {
		t.Fatalf("KV has %d keys (%v), want 100", len(keys), err)
	}
}

// TestKVUsageTriggers checks that the byte counts kv_usage keeps agree
// with the keys and values held, after writes that a quota refused.
func TestKVUsageTriggers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, Options{})
	kv := s.KVWithQuota("a", 100)
	for _, w := range []struct {
		key string
		n   int
	}{{"k1", 48}, {"k2", 48}, {"k3", 0}, {"k1", 49}, {"k1", 8}, {"k3", 38}} {
		_ = kv.Set(ctx, w.key, make([]byte, w.n)) // some are refused: the counts must not move then
	}
	if err := kv.Delete(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := s.KV("b").Set(ctx, "big", make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	checkKVUsage(t, s)
}

// checkKVUsage compares what kv_usage says each app holds with what its
// rows hold.
func checkKVUsage(t *testing.T, s *SQLite) {
	t.Helper()
	rows, err := s.rdb.QueryContext(t.Context(), `SELECT app, (SELECT bytes FROM kv_usage u WHERE u.app = kv.app),
		sum(length(CAST(key AS BLOB)) + length(value)) FROM kv GROUP BY app`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var app string
		var usage, held int64
		if err := rows.Scan(&app, &usage, &held); err != nil {
			t.Fatal(err)
		}
		if usage != held {
			t.Errorf("app %s: kv_usage says %d bytes, its keys and values hold %d", app, usage, held)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKVUsageOfEarlierData opens a store made before kv_usage existed: the
// migration counts what its apps held.
func TestKVUsageOfEarlierData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	old := rawDB(t, path)
	if err := migrate(ctx, old, migrations()[:1], epoch); err != nil {
		t.Fatal(err)
	}
	for i, app := range []string{"a", "b"} {
		for j := range 10 {
			if _, err := old.ExecContext(ctx, `INSERT INTO kv (app, key, value) VALUES (?, ?, ?)`, app, fmt.Sprint("ключ", j), make([]byte, 100*(i+1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	old.Close()
	s := openAt(t, path, Options{})
	checkKVUsage(t, s)
	var a int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT bytes FROM kv_usage WHERE app = 'a'`).Scan(&a); err != nil || a != 10*(9+100) {
		t.Errorf("app a: kv_usage %d, %v; want %d", a, err, 10*(9+100))
	}
	if err := s.KVWithQuota("a", a).Set(ctx, "x", nil); !errors.Is(err, hostapi.ErrQuota) {
		t.Errorf("a full store took another key: %v", err)
	}
}
