package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Bundles checks an implementation of store.Bundles. open returns a new,
// empty store for each test, whose clock is now.
func Bundles(t *testing.T, open func(t *testing.T, now func() time.Time) store.Bundles) {
	t.Run("Versions", func(t *testing.T) { bundlesVersions(t, open) })
	t.Run("Concurrent", func(t *testing.T) { bundlesConcurrent(t, open) })
}

func bundlesVersions(t *testing.T, open func(t *testing.T, now func() time.Time) store.Bundles) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()

	for _, bad := range []struct {
		b    store.AppBundle
		data []byte
	}{
		{store.AppBundle{Hash: "h"}, []byte("zip")},
		{store.AppBundle{App: "a"}, []byte("zip")},
		{store.AppBundle{App: "a", Hash: "h"}, nil},
	} {
		if _, _, err := s.PublishBundle(ctx, bad.b, bad.data); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PublishBundle(%+v, %q) = %v, want %v", bad.b, bad.data, err, store.ErrInvalid)
		}
	}
	if list, err := s.CurrentBundles(ctx); err != nil || len(list) != 0 {
		t.Fatalf("CurrentBundles of a new store = %v, %v; want none", list, err)
	}
	if _, err := s.BundleData(ctx, "a", "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BundleData of an unknown bundle = %v, want %v", err, store.ErrNotFound)
	}
	if _, published, err := s.RemoveBundle(ctx, "a", "n1", true); err != nil || published {
		t.Errorf("RemoveBundle of an unknown app = %v, %v; want nothing published", published, err)
	}

	publish := func(app, hash, data string, wantVersion int64, wantPublished bool) store.AppBundle {
		t.Helper()
		v, published, err := s.PublishBundle(ctx, store.AppBundle{App: app, Hash: hash, AppVersion: "1.0", Node: "n1"}, []byte(data))
		if err != nil {
			t.Fatalf("PublishBundle(%s, %s): %v", app, hash, err)
		}
		if v.App != app || v.Hash != hash || v.Version != wantVersion || published != wantPublished || v.Removed {
			t.Fatalf("PublishBundle(%s, %s) = %+v, %v; want version %d, published %v", app, hash, v, published, wantVersion, wantPublished)
		}
		return v
	}
	v1 := publish("a", "h1", "zip1", 1, true)
	if v1.Size != 4 || v1.AppVersion != "1.0" || v1.Node != "n1" || !v1.Published.Equal(epoch) {
		t.Errorf("version 1 = %+v; want size 4, app version 1.0, node n1, published at %v", v1, epoch)
	}
	clk.Advance(time.Minute)
	publish("a", "h1", "zip1", 1, false) // the same content: no new version
	publish("b", "h1", "other", 1, true) // apps are apart, even with one hash
	publish("a", "h2", "zip2", 2, true)
	publish("a", "h1", "zip1", 3, true) // back to the first content: a new version

	if data, err := s.BundleData(ctx, "a", "h2"); err != nil || !bytes.Equal(data, []byte("zip2")) {
		t.Errorf("BundleData(a, h2) = %q, %v; want zip2", data, err)
	}
	if data, err := s.BundleData(ctx, "b", "h1"); err != nil || !bytes.Equal(data, []byte("other")) {
		t.Errorf("BundleData(b, h1) = %q, %v; want other", data, err)
	}
	for _, c := range []struct {
		app, hash string
		want      bool
	}{{"a", "h1", true}, {"a", "h2", true}, {"a", "h3", false}, {"b", "h2", false}, {"c", "h1", false}} {
		if got, err := s.HasBundle(ctx, c.app, c.hash); err != nil || got != c.want {
			t.Errorf("HasBundle(%s, %s) = %v, %v; want %v", c.app, c.hash, got, err, c.want)
		}
	}

	clk.Advance(time.Minute)
	rm, published, err := s.RemoveBundle(ctx, "a", "n2", false)
	if err != nil || !published || !rm.Removed || rm.Version != 4 || rm.Hash != "h1" || rm.Node != "n2" || !rm.Published.Equal(epoch.Add(2*time.Minute)) {
		t.Fatalf("RemoveBundle(a) = %+v, %v, %v; want version 4, a tombstone of h1 by n2", rm, published, err)
	}
	if again, published, err := s.RemoveBundle(ctx, "a", "n2", false); err != nil || published || again.Version != 4 || again.Purged {
		t.Errorf("RemoveBundle(a) again = %+v, %v, %v; want version 4 as it was", again, published, err)
	}
	list, err := s.CurrentBundles(ctx)
	if err != nil {
		t.Fatalf("CurrentBundles: %v", err)
	}
	if got, want := brief(list), "a@4:h1:removed b@1:h1"; got != want {
		t.Errorf("CurrentBundles = %s, want %s", got, want)
	}
	// A purge of an app removed without one is a purged tombstone;
	// purging it again changes nothing.
	for range 2 {
		if p, _, err := s.RemoveBundle(ctx, "a", "n1", true); err != nil || p.Version != 5 || !p.Removed || !p.Purged || p.Node != "n1" {
			t.Errorf("RemoveBundle(a, purge) = %+v, %v; want version 5, a purged tombstone by n1", p, err)
		}
	}
	if list, _ = s.CurrentBundles(ctx); brief(list) != "a@5:h1:removed:purged b@1:h1" {
		t.Errorf("CurrentBundles after a purge = %s, want a@5:h1:removed:purged b@1:h1", brief(list))
	}
	// A removed app installed again: with the content it had, too.
	publish("a", "h1", "zip1", 6, true)
	if list, _ = s.CurrentBundles(ctx); brief(list) != "a@6:h1 b@1:h1" {
		t.Errorf("CurrentBundles after a new install = %s, want a@6:h1 b@1:h1", brief(list))
	}
}

// bundlesConcurrent publishes from several writers at once: every
// publication gets a version of its own.
func bundlesConcurrent(t *testing.T, open func(t *testing.T, now func() time.Time) store.Bundles) {
	t.Parallel()
	s := open(t, time.Now)
	ctx := t.Context()
	const writers = 4
	var wg sync.WaitGroup
	versions := make(chan int64, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hash := fmt.Sprintf("h%d", i)
			v, published, err := s.PublishBundle(ctx, store.AppBundle{App: "a", Hash: hash}, []byte(hash))
			if err != nil || !published {
				t.Errorf("PublishBundle(%s) = %v, %v", hash, published, err)
				return
			}
			versions <- v.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[int64]bool{}
	for v := range versions {
		seen[v] = true
	}
	if len(seen) != writers {
		t.Errorf("versions %v: want %d distinct", seen, writers)
	}
	list, err := s.CurrentBundles(ctx)
	if err != nil || len(list) != 1 || list[0].Version != writers {
		t.Errorf("CurrentBundles = %+v, %v; want version %d", list, err, writers)
	}
}

// brief is a listing of bundles as app@version:hash[:removed], for
// messages.
func brief(list []store.AppBundle) string {
	parts := make([]string, 0, len(list))
	for _, x := range list {
		s := fmt.Sprintf("%s@%d:%s", x.App, x.Version, x.Hash)
		if x.Removed {
			s += ":removed"
		}
		if x.Purged {
			s += ":purged"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
