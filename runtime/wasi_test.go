package runtime_test

import (
	"context"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// TestWASI runs checks of Cronbox's WASI functions (see package
// runtime/internal/wasi) through Run, with a directory mounted as "/": the
// runtime gives each run its own descriptor table.
func TestWASI(t *testing.T) {
	t.Parallel()
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		t.Parallel()
		ctx := context.Background()
		rt, err := runtime.New(ctx, runtime.Config{CacheDir: wasmtest.CompilationCacheDir(), Tier: tier})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(ctx)
		m, _, err := rt.Load(ctx, wasmtest.Build(t, "internal/wasi/testdata/guest"))
		if err != nil {
			t.Fatal(err)
		}
		for _, check := range []string{"rights", "renumber", "poll-stdin"} {
			res, err := rt.Run(ctx, m, runtime.Spec{Args: []string{"guest", check}, Mounts: []runtime.Mount{{HostDir: t.TempDir(), GuestPath: "/"}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "ok\n" {
				t.Errorf("%s: status %s (%s), stdout %q", check, res.Status, res.Error, res.Stdout)
			}
		}
	})
}
