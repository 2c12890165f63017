// Package testenv opens, for tests, what the engine and the server run on:
// a home's store and a runtime with Cronbox's host functions.
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// Open opens the store of home, data/cronbox.db, and a runtime with the
// host API and the tests' shared compilation cache. Both are closed when
// the test ends.
func Open(t testing.TB, home string) (*store.SQLite, *runtime.Runtime) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, homedir.Home(home).DB(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, Runtime(t)
}

// Runtime returns a runtime with the host API and the tests' shared
// compilation cache, closed when the test ends.
func Runtime(t testing.TB) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{
		CacheDir:    wasmtest.CompilationCacheDir(),
		HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// WaitFor checks cond every 10 ms until it holds, and fails the test,
// naming what it waited for, if it does not within 30 s: for a state of
// another process or connection that offers no event to wait on.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, 30*time.Second, what, cond, nil)
}

// WaitWithin is WaitFor with a deadline of its own, whose failure adds
// what detail returns (nil: nothing), such as the log of the process
// waited on.
func WaitWithin(t testing.TB, within time.Duration, what string, cond func() bool, detail func() string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			if detail != nil {
				t.Fatalf("timed out waiting for %s; %s", what, detail())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
