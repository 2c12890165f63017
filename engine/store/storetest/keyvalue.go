package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/hostapi/kvtest"
)

// KeyValue checks an implementation of store.KeyValue: each app's
// namespace is a hostapi.KV (package kvtest), and apps never see each
// other's keys. open returns a new, empty store for each test.
func KeyValue(t *testing.T, open func(t *testing.T) store.KeyValue) {
	t.Run("KV", func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T) hostapi.KV { return open(t).KV("a") })
	})
	t.Run("KVBinaryValues", func(t *testing.T) { keyValueKVBinaryValues(t, open) })
	t.Run("KVNoApp", func(t *testing.T) { keyValueKVNoApp(t, open) })
	t.Run("KVTenancy", func(t *testing.T) { keyValueKVTenancy(t, open) })
}

func keyValueKVBinaryValues(t *testing.T, open func(*testing.T) store.KeyValue) {
	t.Parallel()
	ctx := t.Context()
	kv := open(t).KV("a")
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

func keyValueKVNoApp(t *testing.T, open func(*testing.T) store.KeyValue) {
	t.Parallel()
	ctx := t.Context()
	kv := open(t).KV("")
	_, _, getErr := kv.Get(ctx, "a")
	_, listErr := kv.List(ctx, "", "", 1)
	for _, err := range []error{getErr, kv.Set(ctx, "a", nil), kv.Delete(ctx, "a"), listErr} {
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("got %v, want %v", err, store.ErrInvalid)
		}
	}
}

// TestKVTenancy checks that apps never see each other's keys.
func keyValueKVTenancy(t *testing.T, open func(*testing.T) store.KeyValue) {
	t.Parallel()
	ctx := t.Context()
	s := open(t)
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
