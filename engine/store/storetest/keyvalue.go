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
// other's keys, and KVWithQuota holds an app to its quota, which KVUsage
// reports. open returns a new, empty store for each test.
func KeyValue(t *testing.T, open func(t *testing.T) store.KeyValue) {
	t.Run("KV", func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T) hostapi.KV { return open(t).KV("a") })
	})
	t.Run("BinaryValues", func(t *testing.T) { keyValueBinaryValues(t, open) })
	t.Run("NoApp", func(t *testing.T) { keyValueNoApp(t, open) })
	t.Run("Tenancy", func(t *testing.T) { keyValueTenancy(t, open) })
	t.Run("Quota", func(t *testing.T) { keyValueQuota(t, open) })
}

func keyValueBinaryValues(t *testing.T, open func(*testing.T) store.KeyValue) {
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

func keyValueNoApp(t *testing.T, open func(*testing.T) store.KeyValue) {
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

// keyValueTenancy checks that apps never see each other's keys.
func keyValueTenancy(t *testing.T, open func(*testing.T) store.KeyValue) {
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

// keyValueQuota holds an app's key-value store to its quota: a write past it
// fails and stores nothing, writes that shrink or free room go through,
// and another app's store is not counted.
func keyValueQuota(t *testing.T, open func(*testing.T) store.KeyValue) {
	t.Parallel()
	ctx := t.Context()
	s := open(t)
	kv := s.KVWithQuota("a", 100)
	mustSet := func(kv hostapi.KV, key string, n int) {
		t.Helper()
		if err := kv.Set(ctx, key, make([]byte, n)); err != nil {
			t.Fatalf("Set(%q, %d bytes): %v", key, n, err)
		}
	}
	mustSet(kv, "k1", 48) // 50 bytes held
	mustSet(kv, "k2", 48) // 100: the quota, exactly
	if err := kv.Set(ctx, "k3", nil); !errors.Is(err, hostapi.ErrQuota) {
		t.Fatalf("a write past the quota: %v, want ErrQuota", err)
	}
	if _, ok, _ := kv.Get(ctx, "k3"); ok {
		t.Error("a refused write stored its key")
	}
	if err := kv.Set(ctx, "k1", make([]byte, 49)); !errors.Is(err, hostapi.ErrQuota) {
		t.Errorf("growing a value past the quota: %v, want ErrQuota", err)
	}
	mustSet(kv, "k1", 8)  // shrinking: 60 held
	mustSet(kv, "k3", 38) // 100 again
	if err := kv.Delete(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	mustSet(kv, "k4", 48) // the room k2 left
	// Unicode keys count in bytes, as stored.
	if err := kv.Set(ctx, "é", nil); !errors.Is(err, hostapi.ErrQuota) {
		t.Errorf("a two-byte key past the quota: %v, want ErrQuota", err)
	}
	// Another app, and the same app without a quota, are not held to it.
	mustSet(s.KVWithQuota("b", 100), "k", 98)
	mustSet(s.KV("a"), "big", 1000)
	if err := kv.Set(ctx, "k5", nil); !errors.Is(err, hostapi.ErrQuota) {
		t.Errorf("the quota no longer counts writes made without it: %v", err)
	}
	if err := s.KVWithQuota("c", 0).Set(ctx, "k", nil); !errors.Is(err, hostapi.ErrQuota) {
		t.Errorf("a quota of 0 let a key in: %v", err)
	}
	for app, want := range map[string]int64{"a": 100 + 3 + 1000, "b": 99, "c": 0, "nope": 0} {
		if n, err := s.KVUsage(ctx, app); err != nil || n != want {
			t.Errorf("KVUsage(%s) = %d, %v; want %d", app, n, err, want)
		}
	}
}
