package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/hostapi"
)

// The tests below hold the store's KV to the behaviour hostapi's tests ask
// of MemoryKV and FileKV.

func TestKVBasics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv := openTest(t, Options{}).KV("a")
	if _, ok, err := kv.Get(ctx, "a"); ok || err != nil {
		t.Fatalf("Get(absent) = %v, %v", ok, err)
	}
	value := []byte("one")
	if err := kv.Set(ctx, "a", value); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // the KV keeps its own copy
	got, ok, err := kv.Get(ctx, "a")
	if err != nil || !ok || string(got) != "one" {
		t.Fatalf("Get(a) = %q, %v, %v", got, ok, err)
	}
	got[0] = 'Y' // and hands out copies
	if again, _, _ := kv.Get(ctx, "a"); string(again) != "one" {
		t.Fatalf("Get(a) after changing a returned value = %q", again)
	}
	for _, empty := range [][]byte{nil, {}} {
		if err := kv.Set(ctx, "a", empty); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := kv.Get(ctx, "a"); !ok || err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Get(a) of an empty value (%#v) = %#v, %v, %v", empty, got, ok, err)
		}
	}
	for _, k := range []string{"a", "absent"} {
		if err := kv.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q) = %v", k, err)
		}
	}
	if _, ok, _ := kv.Get(ctx, "a"); ok {
		t.Fatal("a survived Delete")
	}
}

func TestKVBinaryValues(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv := openTest(t, Options{}).KV("a")
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := map[string][]byte{
		"bytes":  all,
		"nul":    {0},
		"big":    []byte(strings.Repeat("x", 1<<20)),
		"utf-8?": {0xff, 0xfe, 'a'},
	}
	for k, v := range values {
		if err := kv.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range values {
		if got, ok, err := kv.Get(ctx, k); err != nil || !ok || !slices.Equal(got, v) {
			t.Errorf("Get(%q) = %d bytes, %v, %v; want %d bytes back as set", k, len(got), ok, err, len(v))
		}
	}
}

func TestKVInvalidKeys(t *testing.T) {
	t.Parallel()
	kv := openTest(t, Options{}).KV("a")
	for _, key := range []string{"", "a\x00b", "\xff"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			t.Parallel()
			if err := kv.Set(t.Context(), key, nil); !errors.Is(err, hostapi.ErrInvalidKey) {
				t.Errorf("Set(%q) = %v, want %v", key, err, hostapi.ErrInvalidKey)
			}
		})
	}
}

func TestKVNoApp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kv := openTest(t, Options{}).KV("")
	_, _, getErr := kv.Get(ctx, "a")
	_, listErr := kv.List(ctx, "", "", 1)
	for _, err := range []error{getErr, kv.Set(ctx, "a", nil), kv.Delete(ctx, "a"), listErr} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want %v", err, ErrInvalid)
		}
	}
}

func TestKVCanceled(t *testing.T) {
	t.Parallel()
	kv := openTest(t, Options{}).KV("a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, getErr := kv.Get(ctx, "a")
	_, listErr := kv.List(ctx, "", "", 1)
	for _, err := range []error{getErr, kv.Set(ctx, "a", nil), kv.Delete(ctx, "a"), listErr} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want %v", err, context.Canceled)
		}
	}
}

func TestKVList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, Options{})
	kv := s.KV("a")
	keys := []string{"a", "a/1", "a/2", "a/10", "ab", "b", "b/x", "é", "\U0010ffff", "\u00ff"}
	for _, k := range keys {
		if err := kv.Set(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	// Another app's keys are never listed.
	for _, k := range []string{"a/3", "aa", "c"} {
		if err := s.KV("b").Set(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name          string
		prefix, after string
		limit         int
		want          []string
	}{
		{"all", "", "", 100, []string{"a", "a/1", "a/10", "a/2", "ab", "b", "b/x", "é", "\u00ff", "\U0010ffff"}},
		{"prefix", "a/", "", 100, []string{"a/1", "a/10", "a/2"}},
		{"prefix includes itself", "a", "", 100, []string{"a", "a/1", "a/10", "a/2", "ab"}},
		{"after", "a/", "a/1", 100, []string{"a/10", "a/2"}},
		{"after absent key", "a/", "a/11", 100, []string{"a/2"}},
		{"after before prefix", "b", "a", 100, []string{"b", "b/x"}},
		{"after past prefix", "a/", "a/3", 100, nil},
		{"limit", "", "a/10", 2, []string{"a/2", "ab"}},
		{"zero limit", "", "", 0, nil},
		{"negative limit", "", "", -1, nil},
		{"no match", "c", "", 100, nil},
		{"non-ASCII", "\xc3", "", 100, []string{"é", "\u00ff"}},
		{"highest byte prefix", "\xf4\x8f\xbf", "", 100, []string{"\U0010ffff"}},
		{"after everything", "", "\U0010ffff", 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := kv.List(t.Context(), tt.prefix, tt.after, tt.limit)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("List(%q, %q, %d) = %q, %v; want %q", tt.prefix, tt.after, tt.limit, got, err, tt.want)
			}
		})
	}
}

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

// TestKVTenancy checks that apps never see each other's keys.
func TestKVTenancy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, Options{})
	a, b := s.KV("a"), s.KV("b")
	if err := a.Set(ctx, "secret", []byte("a's")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Get(ctx, "secret"); ok || err != nil {
		t.Errorf("b sees a's key: %v, %v", ok, err)
	}
	if keys, err := b.List(ctx, "", "", 10); len(keys) != 0 || err != nil {
		t.Errorf("b lists %q, %v", keys, err)
	}
	if err := b.Delete(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := a.Get(ctx, "secret"); !ok || err != nil || string(v) != "a's" {
		t.Errorf("a's key after b deleted its own = %q, %v, %v", v, ok, err)
	}
}
