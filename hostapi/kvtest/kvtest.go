// Package kvtest holds the behaviour every hostapi.KV must have, as a test
// suite that each implementation runs against itself.
package kvtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cronbox/cronbox/hostapi"
)

// Run runs the suite; open returns an empty KV for one test.
func Run(t *testing.T, open func(t *testing.T) hostapi.KV) {
	t.Run("basics", func(t *testing.T) { t.Parallel(); basics(t, open(t)) })
	t.Run("invalid keys", func(t *testing.T) { t.Parallel(); invalidKeys(t, open(t)) })
	t.Run("canceled", func(t *testing.T) { t.Parallel(); canceled(t, open(t)) })
	t.Run("list", func(t *testing.T) { t.Parallel(); list(t, open(t)) })
}

func basics(t *testing.T, kv hostapi.KV) {
	ctx := t.Context()
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
		if got, ok, err := kv.Get(ctx, "a"); !ok || err != nil || len(got) != 0 {
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

func invalidKeys(t *testing.T, kv hostapi.KV) {
	for _, key := range []string{"", "a\x00b", "\xff"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if err := kv.Set(t.Context(), key, nil); !errors.Is(err, hostapi.ErrInvalidKey) {
				t.Errorf("Set(%q) = %v, want %v", key, err, hostapi.ErrInvalidKey)
			}
		})
	}
}

func canceled(t *testing.T, kv hostapi.KV) {
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

func list(t *testing.T, kv hostapi.KV) {
	ctx := t.Context()
	for _, k := range []string{"a", "a/1", "a/2", "a/10", "ab", "b", "b/x", "é", "\U0010ffff", "\u00ff"} {
		if err := kv.Set(ctx, k, []byte(k)); err != nil {
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
		got, err := kv.List(ctx, tt.prefix, tt.after, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: List(%q, %q, %d) = %q, %v; want %q", tt.name, tt.prefix, tt.after, tt.limit, got, err, tt.want)
		}
	}
}
