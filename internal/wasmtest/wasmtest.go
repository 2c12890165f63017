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

	"github.com/cronbox/cronbox/internal/build"
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

// RequireToolchain skips the test when the toolchain of lang is missing,
// saying what to install, or fails it when CRONBOX_REQUIRE_TOOLCHAINS=1
// (as CI sets it). dir is the task's source folder.
func RequireToolchain(t testing.TB, lang build.Lang, dir string) {
	t.Helper()
	err := build.Toolchain(lang, dir)
	if err == nil {
		return
	}
	if os.Getenv("CRONBOX_REQUIRE_TOOLCHAINS") == "1" {
		t.Fatalf("CRONBOX_REQUIRE_TOOLCHAINS=1: %v", err)
	}
	t.Skipf("skipping: %v", err)
}

// BuildTask builds the task whose sources are in srcDir, in any language
// build knows, to a module in a temporary folder and returns its path. It
// skips the test when the toolchain is missing (see RequireToolchain).
// Builds keep their intermediate files (cargo's target folders) under
// CacheDir.
func BuildTask(t testing.TB, srcDir string) string {
	t.Helper()
	lang := build.Detect(srcDir)
	if lang == "" {
		t.Fatalf("no task source in %s", srcDir)
	}
	RequireToolchain(t, lang, srcDir)
	out := filepath.Join(t.TempDir(), filepath.Base(srcDir)+".wasm")
	err := build.Build(context.Background(), build.Target{Dir: srcDir, Lang: lang, Out: out},
		build.Options{CacheDir: filepath.Join(CacheDir(), "build")})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
