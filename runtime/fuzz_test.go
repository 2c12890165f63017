package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/runtime"
)

// FuzzLoad feeds arbitrary bytes to Load, and runs what loads (seeds in
// testdata/fuzz/FuzzLoad: the modules of internal/wasmtest). Load must
// never panic, must refuse with one of the package's errors, and a module
// it accepts must run to some end within its limits.
func FuzzLoad(f *testing.F) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{Ceiling: runtime.Limits{Memory: 16 << 20, Timeout: time.Second, Output: 4 << 10}})
	if err != nil {
		f.Fatal(err)
	}
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := rt.Load(ctx, b)
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalidModule) && !errors.Is(err, runtime.ErrUnknownImport) &&
				!errors.Is(err, runtime.ErrNotCommand) && !errors.Is(err, runtime.ErrLimit) {
				t.Fatalf("Load error %v wraps none of the package's errors", err)
			}
			return
		}
		defer rt.Unload(ctx, m)
		res, err := rt.Run(ctx, m, runtime.Spec{Limits: runtime.Limits{Timeout: 100 * time.Millisecond}})
		if err != nil {
			return // e.g. a memory minimum above the limit, or a failing data segment
		}
		if res.Status == "" || res.Duration > 5*time.Second {
			t.Fatalf("run ended with status %q after %s", res.Status, res.Duration)
		}
	})
}
