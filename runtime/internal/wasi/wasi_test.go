package wasi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime/internal/jailfs"
)

// TestGuest runs each check of testdata/guest, a guest calling the WASI
// functions directly, against a fresh directory preopened as "/".
func TestGuest(t *testing.T) {
	wasm := wasmtest.Build(t, "testdata/guest")
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CompilationCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { r.Close(ctx) })
	if err := Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []string{"rights", "renumber", "sync", "prestat", "readlink", "link-times", "poll-stdin", "shutdown", "link-follow", "dir-rights"} {
		t.Run(check, func(t *testing.T) {
			t.Parallel()
			j, err := jailfs.New(t.TempDir(), false)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			var stdout, stderr bytes.Buffer
			cfg := wazero.NewModuleConfig().WithName("").WithArgs("guest", check).
				WithStdout(&stdout).WithStderr(&stderr).
				WithSysWalltime().WithSysNanotime().WithSysNanosleep().
				WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(j, "/"))
			mod, err := r.InstantiateModule(WithState(ctx, NewState([]FS{j})), compiled, cfg)
			if mod != nil {
				defer mod.Close(ctx)
			}
			var exit *sys.ExitError
			if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
				t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if stdout.String() != "ok\n" {
				t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}
