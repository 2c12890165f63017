package wasmtest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The hand-assembled modules must be valid, and the runnable ones must do
// what their doc comments say.
func TestAssembledModules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)

	tests := []struct {
		name    string
		wasm    []byte
		run     bool
		stdout  string
		wantErr string
	}{
		{name: "hello", wasm: Hello(), run: true, stdout: "hello\n"},
		{name: "loop", wasm: Loop(1000), run: true},
		{name: "unreachable", wasm: Unreachable(), run: true, wantErr: "unreachable"},
		{name: "spin", wasm: Spin()},
		{name: "spin in start", wasm: SpinInStart()},
		{name: "big memory", wasm: BigMemory(100)},
		{name: "no start", wasm: NoStart()},
		{name: "importing", wasm: Importing("env", "f")},
		{name: "many locals", wasm: ManyLocals(1000), run: true},
		{name: "sleep", wasm: Sleep(time.Millisecond), run: true},
		{name: "memory check", wasm: MemoryCheck(2, true, Segment{8, []byte("data")}, Segment{1<<16 - 2, []byte("span")}), run: true},
		{name: "memory check failing", wasm: memoryCheckOf(MemoryCheck(1, false, Segment{8, []byte("data")})), run: true, wantErr: "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := r.CompileModule(ctx, tt.wasm)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if !tt.run {
				return
			}
			var out bytes.Buffer
			_, err = r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName("").WithStdout(&out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if out.String() != tt.stdout {
				t.Fatalf("stdout = %q; want %q", out.String(), tt.stdout)
			}
		})
	}
}

// memoryCheckOf returns a MemoryCheck module whose data differs from what
// its guest expects (the first byte of data changed).
func memoryCheckOf(wasm []byte) []byte {
	out := bytes.Clone(wasm)
	i := bytes.LastIndex(out, []byte("data"))
	out[i] = 'D'
	return out
}
