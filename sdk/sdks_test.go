//go:build !wasip1

package sdk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// runSuite runs a test suite of one of the other languages' SDKs in dir.
// It skips when the program is missing, unless
// CRONBOX_REQUIRE_TOOLCHAINS=1.
func runSuite(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(args[0]); err != nil {
		if os.Getenv("CRONBOX_REQUIRE_TOOLCHAINS") == "1" {
			t.Fatalf("CRONBOX_REQUIRE_TOOLCHAINS=1: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v in %s: %v\n%s", args, dir, err, out)
	}
}

// TestCSDK compiles the C SDK's tests natively, against its fake host,
// with the address and undefined-behaviour sanitizers, and runs them.
func TestCSDK(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sdk_test")
	runSuite(t, "c/test", nil, "cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-g", "-I..", "-o", bin, "sdk_test.c")
	runSuite(t, ".", nil, bin)
}

// TestCSDKFuzz mutates the seeds in c/test/testdata/fuzz through the C
// SDK's parsers of outside input (response metadata, JSON members, the
// result check, the fake's request parser) under the sanitizers.
func TestCSDKFuzz(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fuzz")
	runSuite(t, "c/test", nil, "cc", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-g", "-I..", "-o", bin, "fuzz_test.c")
	runSuite(t, "c/test", nil, bin, "testdata/fuzz")
}

// TestRustSDK runs the Rust crate's tests natively, against its fake
// host, offline.
func TestRustSDK(t *testing.T) {
	runSuite(t, "rust", []string{"CARGO_TARGET_DIR=" + filepath.Join(wasmtest.CacheDir(), "build", "cargo-native-sdk")},
		"cargo", "test", "--offline", "-q")
}

// TestAssemblyScriptSDK builds a task that uses every function of the
// AssemblyScript SDK and runs it in Node against the fake host.
func TestAssemblyScriptSDK(t *testing.T) {
	wasmtest.RequireToolchain(t, build.AssemblyScript, "assemblyscript")
	dir := t.TempDir()
	// The suite runs asc itself: tell it which, as build finds it.
	task := filepath.Join(dir, "task")
	os.MkdirAll(filepath.Join(task, "assembly"), 0o755)
	os.WriteFile(filepath.Join(task, "package.json"), []byte("{}\n"), 0o644)
	src, err := os.ReadFile("assemblyscript/test/task.ts")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(task, "assembly", "index.ts"), src, 0o644)
	out := wasmtest.BuildTask(t, task)
	runSuite(t, "assemblyscript", []string{"CRONBOX_SDK_TEST_WASM=" + out}, "node", "--test", "test/")
}
