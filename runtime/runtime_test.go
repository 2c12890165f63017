package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// testHost is a host module for the test guest: test.block waits until
// the run's context ends, as a host call stuck on the network would.
func testHost() runtime.HostModule {
	return runtime.HostModule{
		Name: "test",
		Instantiate: func(ctx context.Context, r wazero.Runtime) error {
			_, err := r.NewHostModuleBuilder("test").
				NewFunctionBuilder().
				WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, _ []uint64) {
					<-ctx.Done()
				}), nil, nil).
				Export("block").
				Instantiate(ctx)
			return err
		},
		Hint: "not a test host function",
	}
}

// firstCompile makes the first Load of the test guest happen alone.
var firstCompile sync.Once

// fixture is a runtime with the Go test guest loaded.
type fixture struct {
	rt    *runtime.Runtime
	guest *runtime.Module
}

func newFixture(t testing.TB, cfg runtime.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	cfg.HostModules = append(cfg.HostModules, testHost())
	if cfg.CacheDir == "" {
		cfg.CacheDir = wasmtest.CompilationCacheDir()
	}
	if cfg.Tier == 0 {
		cfg.Tier = runtime.TierNative // the tiered default is TestTiering's
	}
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	wasm := wasmtest.Build(t, "testdata/guest")
	// The first fixture compiles the guest into the shared on-disk cache
	// while the others wait, instead of all compiling it at once.
	var guest *runtime.Module
	firstCompile.Do(func() { guest, _, err = rt.Load(ctx, wasm) })
	if guest == nil && err == nil {
		guest, _, err = rt.Load(ctx, wasm)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{rt: rt, guest: guest}
}

// onTiers runs test once on each tier, as a subtest named after it.
func onTiers(t *testing.T, test func(t *testing.T, tier runtime.Tier)) {
	t.Helper()
	for _, tier := range []runtime.Tier{runtime.TierNative, runtime.TierInterpreter} {
		t.Run(tier.String(), func(t *testing.T) { test(t, tier) })
	}
}

func (f *fixture) run(t testing.TB, ctx context.Context, spec runtime.Spec, args ...string) *runtime.Result {
	t.Helper()
	spec.Args = append([]string{"guest"}, args...)
	res, err := f.rt.Run(ctx, f.guest, spec)
	if err != nil {
		t.Fatalf("Run(%v): %v", args, err)
	}
	return res
}

// runAsync is run for a goroutine other than the test's: a run that cannot
// start is a Result with an empty Status and the error as its Error.
func (f *fixture) runAsync(ctx context.Context, spec runtime.Spec, args ...string) *runtime.Result {
	spec.Args = append([]string{"guest"}, args...)
	res, err := f.rt.Run(ctx, f.guest, spec)
	if err != nil {
		return &runtime.Result{Error: err.Error()}
	}
	return res
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		t.Parallel()
		f := newFixture(t, runtime.Config{Tier: tier})
		allocMiB, allocBytes := "16", "16777216"
		if tier == runtime.TierInterpreter {
			allocMiB, allocBytes = "2", "2097152"
		}
		tests := []struct {
			name      string
			args      []string
			limits    runtime.Limits
			status    runtime.Status
			exitCode  int
			stdout    string // substring
			errorText string // substring of Result.Error
		}{
			{name: "succeeded", args: []string{"ok"}, status: runtime.StatusSucceeded, stdout: "hello from the guest"},
			{name: "failed with its exit code", args: []string{"exit", "3"}, status: runtime.StatusFailed, exitCode: 3, errorText: "exited with code 3: leaving with 3"},
			{name: "panic is a failure with the panic message", args: []string{"panic"}, status: runtime.StatusFailed, exitCode: 2, errorText: "panic: something broke"},
			{name: "trap names the trap and the function", args: []string{"trap"}, status: runtime.StatusTrapped, exitCode: -1, errorText: "trap: out of bounds memory access in main.main"},
			{name: "infinite loop times out", args: []string{"loop"}, limits: runtime.Limits{Timeout: 300 * time.Millisecond}, status: runtime.StatusTimedOut, exitCode: -1, errorText: "time limit of 300ms"},
			{name: "sleep times out", args: []string{"sleep"}, limits: runtime.Limits{Timeout: 300 * time.Millisecond}, status: runtime.StatusTimedOut, exitCode: -1},
			{name: "host call times out", args: []string{"block"}, limits: runtime.Limits{Timeout: 300 * time.Millisecond}, status: runtime.StatusTimedOut, exitCode: -1},
			{name: "memory bomb runs out of memory", args: []string{"membomb"}, limits: runtime.Limits{Memory: 32 << 20}, status: runtime.StatusOutOfMemory, exitCode: 2, errorText: "limit is 32 MiB"},
			// The interpreter fills a smaller allocation: 16 MiB take it
			// minutes under the race detector.
			{name: "allocation within the limit succeeds", args: []string{"alloc", allocMiB}, limits: runtime.Limits{Memory: 64 << 20}, status: runtime.StatusSucceeded, stdout: allocBytes},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res := f.run(t, context.Background(), runtime.Spec{Limits: tt.limits}, tt.args...)
				if res.Status != tt.status || res.ExitCode != tt.exitCode {
					t.Fatalf("status %s exit %d (%s); want %s exit %d\nstderr: %s", res.Status, res.ExitCode, res.Error, tt.status, tt.exitCode, res.Stderr)
				}
				if !strings.Contains(string(res.Stdout), tt.stdout) {
					t.Errorf("stdout %q; want it to contain %q", res.Stdout, tt.stdout)
				}
				if !strings.Contains(res.Error, tt.errorText) {
					t.Errorf("error %q; want it to contain %q", res.Error, tt.errorText)
				}
				if tt.status == runtime.StatusSucceeded && res.Error != "" {
					t.Errorf("error %q on success", res.Error)
				}
			})
		}
	})
}

// A stopped guest must stop at its limit, not some time after: within
// 100 ms of it, whether it spins, sleeps or waits in the host.
// TestTimeoutStops checks that every way a guest can keep busy, looping in
// Go, sleeping, blocking in a host call, spinning by hand or in a start
// function, or sleeping and then returning, ends as timed out.
func TestTimeoutStops(t *testing.T) {
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		f := newFixture(t, runtime.Config{Tier: tier})
		const limit = 200 * time.Millisecond
		hand := loadAll(t, f.rt, map[string][]byte{"spin": wasmtest.Spin(), "spin in start": wasmtest.SpinInStart(),
			"sleep and return": wasmtest.Sleep(time.Minute)})
		for _, name := range []string{"loop", "sleep", "block", "spin", "spin in start", "sleep and return"} {
			t.Run(name, func(t *testing.T) {
				var res *runtime.Result
				spec := runtime.Spec{Limits: runtime.Limits{Timeout: limit}}
				if m, ok := hand[name]; ok {
					var err error
					if res, err = f.rt.Run(context.Background(), m, spec); err != nil {
						t.Fatal(err)
					}
				} else {
					res = f.run(t, context.Background(), spec, name)
				}
				if res.Status != runtime.StatusTimedOut {
					t.Fatalf("status %s (%s); want timed_out", res.Status, res.Error)
				}
				// How promptly is measured by BenchmarkTimeoutLatency; on a
				// shared machine a test only checks that the stop came.
				if over := res.Duration - limit; over > 5*time.Second {
					t.Fatalf("stopped %s after its limit", over)
				}
			})
		}
	})
}

func loadAll(t testing.TB, rt *runtime.Runtime, mods map[string][]byte) map[string]*runtime.Module {
	t.Helper()
	out := map[string]*runtime.Module{}
	for name, b := range mods {
		m, _, err := rt.Load(context.Background(), b)
		if err != nil {
			t.Fatalf("loading %s: %v", name, err)
		}
		out[name] = m
	}
	return out
}

func TestCancelStopsRunInHostCall(t *testing.T) {
	t.Parallel()
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		t.Parallel()
		f := newFixture(t, runtime.Config{Tier: tier})
		for _, scenario := range []string{"block", "loop", "sleep"} {
			t.Run(scenario, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithCancelCause(context.Background())
				done := make(chan *runtime.Result)
				go func() { done <- f.runAsync(ctx, runtime.Spec{}, scenario) }()
				testenv.WaitFor(t, "the guest to start", func() bool { return len(f.rt.Instances()) > 0 })
				cancel(errors.New("stopped by the test"))
				select {
				case res := <-done:
					if res.Status != runtime.StatusCancelled || !strings.Contains(res.Error, "stopped by the test") {
						t.Fatalf("status %s (%s); want cancelled by the test", res.Status, res.Error)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("run did not end after cancel")
				}
			})
		}
	})
}

func TestHandAssembledModules(t *testing.T) {
	t.Parallel()
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		t.Parallel()
		f := newFixture(t, runtime.Config{Tier: tier})
		tests := []struct {
			name   string
			wasm   []byte
			status runtime.Status
			stdout string
			errSub string
		}{
			{name: "minimal non-Go command", wasm: wasmtest.Hello(), status: runtime.StatusSucceeded, stdout: "hello\n"},
			{name: "counting loop", wasm: wasmtest.Loop(1_000_000), status: runtime.StatusSucceeded},
			{name: "unreachable", wasm: wasmtest.Unreachable(), status: runtime.StatusTrapped, errSub: "trap: unreachable"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				m, _, err := f.rt.Load(context.Background(), tt.wasm)
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.rt.Run(context.Background(), m, runtime.Spec{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != tt.status || string(res.Stdout) != tt.stdout || !strings.Contains(res.Error, tt.errSub) {
					t.Fatalf("got %s %q %q; want %s %q %q", res.Status, res.Stdout, res.Error, tt.status, tt.stdout, tt.errSub)
				}
			})
		}
	})
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	tests := []struct {
		name string
		wasm []byte
		is   error
		text string
	}{
		{name: "empty file", wasm: nil, is: runtime.ErrInvalidModule, text: "the file is empty"},
		{name: "garbage", wasm: []byte("#!/bin/sh\necho hi\n"), is: runtime.ErrInvalidModule, text: "not a WebAssembly binary"},
		{name: "random bytes after a valid header", wasm: append([]byte("\x00asm\x01\x00\x00\x00"), 0x0a, 0xff, 0xff, 0x01, 0x02), is: runtime.ErrInvalidModule},
		{name: "truncated module", wasm: wasmtest.Hello()[:40], is: runtime.ErrInvalidModule},
		{name: "component", wasm: []byte("\x00asm\x0d\x00\x01\x00"), is: runtime.ErrInvalidModule, text: "component"},
		{name: "unknown cronbox function", wasm: wasmtest.Importing("test", "foo"), is: runtime.ErrUnknownImport, text: "unknown import test.foo — not a test host function"},
		{name: "unknown module", wasm: wasmtest.Importing("env", "abort"), is: runtime.ErrUnknownImport, text: `env.abort: Cronbox provides no module "env"`},
		{name: "wrong signature", wasm: wasmtest.Importing("wasi_snapshot_preview1", "fd_write"), is: runtime.ErrUnknownImport, text: "is imported as () -> () but Cronbox defines it as (i32, i32, i32, i32) -> (i32)"},
		{name: "no _start", wasm: wasmtest.NoStart(), is: runtime.ErrNotCommand, text: "exports no _start"},
		{name: "four billion locals", wasm: wasmtest.ManyLocals(1<<32 - 1), is: runtime.ErrLimit, text: "declares 4294967295 locals; at most 50000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := f.rt.Load(context.Background(), tt.wasm)
			if !errors.Is(err, tt.is) || !strings.Contains(fmt.Sprint(err), tt.text) {
				t.Fatalf("Load error %v; want %v containing %q", err, tt.is, tt.text)
			}
		})
	}
}

func TestMemoryMinimumAboveLimitDoesNotStart(t *testing.T) {
	t.Parallel()
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		t.Parallel()
		f := newFixture(t, runtime.Config{Tier: tier})
		m, _, err := f.rt.Load(context.Background(), wasmtest.BigMemory(2048)) // 128 MiB
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.rt.Run(context.Background(), m, runtime.Spec{Limits: runtime.Limits{Memory: 64 << 20}})
		if !errors.Is(err, runtime.ErrLimit) || !strings.Contains(err.Error(), "needs 128 MiB of memory at start; the limit is 64 MiB") {
			t.Fatalf("Run error %v; want a memory limit error", err)
		}
		res, err := f.rt.Run(context.Background(), m, runtime.Spec{Limits: runtime.Limits{Memory: 256 << 20}})
		if err != nil || res.Status != runtime.StatusSucceeded {
			t.Fatalf("with room: %v %v", res, err)
		}
	})
}

// A guest that fills its memory must not move the host's heap: guest
// memory lives outside it.
func TestMemoryBombLeavesHostHeapFlat(t *testing.T) {
	f := newFixture(t, runtime.Config{})
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	const limit = 256 << 20
	for range 3 {
		res := f.run(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Memory: limit}}, "membomb")
		if res.Status != runtime.StatusOutOfMemory {
			t.Fatalf("status %s (%s); want out_of_memory", res.Status, res.Error)
		}
		if res.PeakMemory > limit || res.PeakMemory < limit/2 {
			t.Fatalf("peak memory %d; want near the %d limit", res.PeakMemory, limit)
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Fatalf("host heap grew by %d MiB while guests used %d MiB each", grew>>20, limit>>20)
	}
}

func TestOutputFloodIsTruncated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	var live bytes.Buffer
	res := f.run(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Output: 1 << 20}, Stdout: &live}, "flood", "64")
	if res.Status != runtime.StatusSucceeded {
		t.Fatalf("status %s (%s)", res.Status, res.Error)
	}
	if len(res.Stdout) != 1<<20 || res.StdoutDropped != 64<<20-1<<20 || !res.Truncated() {
		t.Fatalf("kept %d, dropped %d; want 1 MiB kept and 63 MiB dropped", len(res.Stdout), res.StdoutDropped)
	}
	if !bytes.Equal(live.Bytes(), res.Stdout) {
		t.Fatalf("live output (%d bytes) differs from the kept output", live.Len())
	}
}

// Pooled memory is reused between runs; the next guest must find it zeroed.
func TestReusedMemoryIsZeroed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{IdleMemories: 1})
	for i := range 3 {
		res := f.run(t, context.Background(), runtime.Spec{}, "memory")
		if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "clean\n" {
			t.Fatalf("run %d: %s %q %s", i, res.Status, res.Stdout, res.Error)
		}
	}
}

// A module's data is in its memory when the guest starts, every run, and
// nothing that a run of it or of another module wrote is: pooled memory is
// reset to the image of the module it goes to, whether it held that
// module's image, another's or none, and whether put, the scrubber or the
// next run reset it. Each guest checks all its memory and the page it grows
// (MemoryCheck), then overwrites both.
func TestReusedMemoryHoldsTheModulesData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{IdleMemories: 2})
	ctx := context.Background()
	load := func(wasm []byte) *runtime.Module {
		t.Helper()
		m, _, err := f.rt.Load(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	modules := []*runtime.Module{
		// Within what put resets itself.
		load(wasmtest.MemoryCheck(1, false, wasmtest.Segment{Offset: 16, Bytes: []byte("small")})),
		// Beyond it, with data across a page and at the memory's end.
		load(wasmtest.MemoryCheck(3, true,
			wasmtest.Segment{Offset: 1<<16 - 3, Bytes: []byte("across")},
			wasmtest.Segment{Offset: 1 << 17, Bytes: bytes.Repeat([]byte{7}, 300)},
			wasmtest.Segment{Offset: 3<<16 - 4, Bytes: []byte("end!")})),
		// No data at all.
		load(wasmtest.MemoryCheck(2, true)),
	}
	for i := range 60 {
		m := modules[i%len(modules)]
		if i%7 == 0 {
			m = modules[1]
		}
		res, err := f.rt.Run(ctx, m, runtime.Spec{})
		if err != nil || res.Status != runtime.StatusSucceeded {
			t.Fatalf("run %d: %v %v", i, res, err)
		}
	}
}

func TestArgsEnvClocksRandom(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	res := f.run(t, context.Background(), runtime.Spec{Env: []string{"GREETING=hi there"}}, "echo", "a", "b c")
	if string(res.Stdout) != "a b c\nhi there\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	if _, err := f.rt.Run(context.Background(), f.guest, runtime.Spec{Env: []string{"NOEQUALS"}}); err == nil {
		t.Fatal("an env entry without = was accepted")
	}

	var seen []string
	for range 2 {
		res := f.run(t, context.Background(), runtime.Spec{}, "clock")
		lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
		if len(lines) != 3 {
			t.Fatalf("stdout %q", res.Stdout)
		}
		now, err := time.Parse(time.RFC3339, lines[0])
		if err != nil || time.Since(now).Abs() > time.Minute {
			t.Fatalf("guest wall clock %q is not the host's (%v)", lines[0], err)
		}
		if lines[1] != "true" {
			t.Fatal("guest monotonic clock did not advance over a sleep")
		}
		seen = append(seen, lines[2])
	}
	if seen[0] == seen[1] || seen[0] == strings.Repeat("0", 32) {
		t.Fatalf("guest random is not random: %q", seen)
	}
}

func TestMountedDirectoryIsAJail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	root := t.TempDir()
	jail := filepath.Join(root, "jail")
	if err := os.Mkdir(jail, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(root, "secret.txt"), []byte("TOP SECRET"), 0o600))
	must(t, os.WriteFile(filepath.Join(jail, "note.txt"), []byte("inside"), 0o600))
	must(t, os.Symlink("..", filepath.Join(jail, "up")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(jail, "passwd")))
	must(t, os.Symlink("../secret.txt", filepath.Join(jail, "secret")))

	for _, guestRoot := range []string{"/data", "/"} {
		spec := runtime.Spec{Mounts: []runtime.Mount{{HostDir: jail, GuestPath: guestRoot}}}
		p := func(rel string) string { return strings.TrimSuffix(guestRoot, "/") + "/" + rel }
		t.Run(guestRoot, func(t *testing.T) {
			res := f.run(t, context.Background(), spec, "read", p("note.txt"))
			if string(res.Stdout) != "read: inside\n" {
				t.Fatalf("reading inside the jail: %q %s", res.Stdout, res.Error)
			}
			for _, path := range []string{p("../secret.txt"), p("up/secret.txt"), p("secret"), p("passwd"), "/etc/passwd", p("../../../../etc/passwd")} {
				res := f.run(t, context.Background(), spec, "read", path)
				if res.Status != runtime.StatusFailed || bytes.Contains(res.Stdout, []byte("SECRET")) || bytes.Contains(res.Stdout, []byte("root:")) {
					t.Errorf("read %s: %s %q; want denied", path, res.Status, res.Stdout)
				}
			}
			// "/data/../x" leaves the mount (denied); "/../x" is "/x", inside it.
			res = f.run(t, context.Background(), spec, "write", p("../escaped.txt"))
			if _, err := os.Stat(filepath.Join(root, "escaped.txt")); err == nil {
				t.Error("a file was written outside the jail")
			}
			if res.Status == runtime.StatusSucceeded {
				if _, err := os.Stat(filepath.Join(jail, "escaped.txt")); err != nil || guestRoot != "/" {
					t.Errorf("write of %s succeeded, but not inside the jail", p("../escaped.txt"))
				}
			}
		})
	}
	res := f.run(t, context.Background(), runtime.Spec{}, "read", "/etc/passwd")
	if res.Status != runtime.StatusFailed {
		t.Errorf("without a mount, read /etc/passwd: %s %q", res.Status, res.Stdout)
	}
	ro := runtime.Spec{Mounts: []runtime.Mount{{HostDir: jail, GuestPath: "/data", ReadOnly: true}}}
	if res := f.run(t, context.Background(), ro, "write", "/data/new.txt"); res.Status != runtime.StatusFailed {
		t.Errorf("write to a read-only mount: %s", res.Status)
	}
}

func TestDiskQuota(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "old.txt"), make([]byte, 1<<20), 0o644))
	const limit = 5<<20 + 512<<10
	quota := runtime.NewDiskQuota(limit)
	spec := runtime.Spec{Mounts: []runtime.Mount{{HostDir: dir, GuestPath: "/data", Quota: quota}}}

	res := f.run(t, context.Background(), spec, "fill", "/data/f")
	// 1 MiB and two entries were there; a sixth MiB no longer fits.
	if res.Status != runtime.StatusFailed || !strings.HasPrefix(string(res.Stdout), "wrote 4 MiB, then: ") {
		t.Fatalf("filling the disk: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 4<<20 || quota.Refusals() == 0 || quota.Used() > limit {
		t.Errorf("file of %d bytes, %d refusals, %d bytes used", fi.Size(), quota.Refusals(), quota.Used())
	}
	// The next run shares the quota: its file cannot grow at all.
	res = f.run(t, context.Background(), spec, "fill", "/data/g")
	if !strings.HasPrefix(string(res.Stdout), "wrote 0 MiB, then: ") {
		t.Errorf("second run: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	if fi, err := os.Stat(filepath.Join(dir, "g")); err != nil || fi.Size() != 0 {
		t.Errorf("second run's file: %v, %v", fi, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadCachesCompiledModules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, runtime.Config{CacheDir: dir})
	wasm := wasmtest.Build(t, "testdata/guest")
	again, hit, err := f.rt.Load(context.Background(), wasm)
	if err != nil || !hit || again != f.guest {
		t.Fatalf("second Load: hit=%v same=%v err=%v", hit, again == f.guest, err)
	}
	if st := f.rt.Stats(); st.Compiles != 1 || st.Hits != 1 || f.guest.Hits() != 1 {
		t.Fatalf("Stats %+v, module hits %d; want 1 compile and 1 hit", st, f.guest.Hits())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("compilation cache dir is empty (%v)", err)
	}
	if n := len(f.rt.Modules()); n != 1 {
		t.Fatalf("Modules() has %d; want 1", n)
	}
	f.rt.Unload(context.Background(), f.guest)
	if n := len(f.rt.Modules()); n != 0 {
		t.Fatalf("after Unload, Modules() has %d", n)
	}
}

func TestBadSpecsAndConfigs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, runtime.Config{})
	for name, spec := range map[string]runtime.Spec{
		"negative timeout":         {Limits: runtime.Limits{Timeout: -time.Second}},
		"memory above the ceiling": {Limits: runtime.Limits{Memory: 8 << 30}},
		"memory under a page":      {Limits: runtime.Limits{Memory: 1000}},
		"relative guest path":      {Mounts: []runtime.Mount{{HostDir: t.TempDir(), GuestPath: "data"}}},
		"missing host dir":         {Mounts: []runtime.Mount{{HostDir: "/nonexistent/cronbox", GuestPath: "/data"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.rt.Run(context.Background(), f.guest, spec); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := runtime.New(context.Background(), runtime.Config{Defaults: runtime.Limits{Memory: 8 << 30}}); !errors.Is(err, runtime.ErrLimit) {
		t.Fatalf("New with a default above the ceiling: %v", err)
	}
}

// Many hostile runs at once must not disturb a well-behaved task beside
// them, nor each other's outcome.
func TestHostileCrowd(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t, runtime.Config{})
	spin, _, err := f.rt.Load(context.Background(), wasmtest.Spin())
	must(t, err)
	type job struct {
		args   []string
		mod    *runtime.Module
		limits runtime.Limits
		want   runtime.Status
	}
	jobs := []job{
		{args: []string{"loop"}, limits: runtime.Limits{Timeout: 500 * time.Millisecond}, want: runtime.StatusTimedOut},
		{mod: spin, limits: runtime.Limits{Timeout: 500 * time.Millisecond}, want: runtime.StatusTimedOut},
		{args: []string{"membomb"}, limits: runtime.Limits{Memory: 24 << 20}, want: runtime.StatusOutOfMemory},
		{args: []string{"trap"}, want: runtime.StatusTrapped},
		{args: []string{"flood", "2"}, limits: runtime.Limits{Output: 64 << 10}, want: runtime.StatusSucceeded},
		{args: []string{"panic"}, want: runtime.StatusFailed},
		{args: []string{"sleep"}, limits: runtime.Limits{Timeout: 500 * time.Millisecond}, want: runtime.StatusTimedOut},
		{args: []string{"block"}, limits: runtime.Limits{Timeout: 500 * time.Millisecond}, want: runtime.StatusTimedOut},
	}
	const crowd = 200
	var wg sync.WaitGroup
	errs := make(chan error, crowd)
	for i := range crowd {
		j := jobs[i%len(jobs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := j.mod
			if m == nil {
				m = f.guest
			}
			res, err := f.rt.Run(context.Background(), m, runtime.Spec{Args: append([]string{"guest"}, j.args...), Limits: j.limits})
			if err != nil {
				errs <- err
				return
			}
			if res.Status != j.want {
				errs <- fmt.Errorf("%v: status %s (%s); want %s", j.args, res.Status, res.Error, j.want)
			}
		}()
	}
	crowdDone := make(chan struct{})
	go func() { wg.Wait(); close(crowdDone) }()

	good := 0
	for {
		select {
		case <-crowdDone:
		default:
			res := f.run(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Timeout: 30 * time.Second}}, "ok")
			if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "hello from the guest\n" {
				t.Fatalf("the well-behaved task failed amid the crowd: %s %s", res.Status, res.Error)
			}
			good++
			continue
		}
		break
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if good == 0 {
		t.Fatal("the well-behaved task never ran")
	}
	t.Logf("the well-behaved task succeeded %d times beside %d hostile runs", good, crowd)
	if n := len(f.rt.Instances()); n != 0 {
		t.Fatalf("%d instances left after every run ended", n)
	}
}

// Go cannot preempt a goroutine inside compiled guest code, so a guest
// that never yields would stall every stop-the-world of the host (every
// GC) until its run ended. Instrumented guests yield to Go regularly.
func TestSpinningGuestDoesNotStallTheHost(t *testing.T) {
	f := newFixture(t, runtime.Config{})
	done := make(chan *runtime.Result)
	go func() {
		done <- f.runAsync(context.Background(), runtime.Spec{Limits: runtime.Limits{Timeout: 3 * time.Second}}, "loop")
	}()
	testenv.WaitFor(t, "the guest to start", func() bool { return len(f.rt.Instances()) > 0 })
	for range 20 {
		goruntime.GC() // would hang here while the guest spins
	}
	select {
	case res := <-done:
		t.Fatalf("the guest ended (%s) before the collections did", res.Status)
	default:
	}
	if res := <-done; res.Status != runtime.StatusTimedOut {
		t.Fatalf("status %s (%s)", res.Status, res.Error)
	}
}
