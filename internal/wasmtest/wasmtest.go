// Package wasmtest provides WebAssembly modules for tests: Go programs built
// for WASI (cached between runs, so a suite compiles each module once) and
// small modules assembled by hand.
package wasmtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/internal/gobuild"
)

var (
	cacheOnce sync.Once
	cache     *gobuild.Cache
)

// CacheDir is where built test modules are kept: $CRONBOX_TEST_CACHE, or
// cronbox-test-wasm in the user cache directory.
func CacheDir() string {
	if d := os.Getenv("CRONBOX_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "cronbox-test-wasm")
}

// Build compiles the Go main package in srcDir (relative to the calling
// test's package directory, e.g. "testdata/loop") to a wasip1 module and
// returns its bytes.
func Build(t testing.TB, srcDir string) []byte {
	t.Helper()
	b, err := os.ReadFile(BuildFile(t, srcDir))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BuildFile is Build, returning the path of the cached module instead.
func BuildFile(t testing.TB, srcDir string) string {
	t.Helper()
	cacheOnce.Do(func() { cache = &gobuild.Cache{Dir: CacheDir()} })
	p, err := cache.Build(context.Background(), srcDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CompilationCacheDir is where tests keep wazero's compiled machine code
// between runs, beside the modules: compiling a Go guest takes seconds,
// tens of seconds under -race.
func CompilationCacheDir() string { return filepath.Join(CacheDir(), "wazero") }
