package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// A look after a quiet period reloads a changed app folder at once when
// it is complete, and otherwise waits for two looks a settle period apart
// to agree, as a look after a poll always does.
func TestWatchQuietLookLoadsCompleteApps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBundle(t, Config{})
	b.start()
	rl := b.recordReloads()
	const settle = time.Hour // no change is confirmed unless the test says
	l, err := b.engine.newWatchLoop(ctx, WatchConfig{Settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	l.n.close() // the test takes the looks itself
	t.Cleanup(l.quiet.stop)
	look := func(quiet bool) {
		t.Helper()
		l.look(ctx, quiet)
		b.idle()
	}
	loaded := func(name string) bool {
		t.Helper()
		got := rl.of(name)
		if len(got) > 1 || len(got) == 1 && got[0].Message != "" {
			t.Fatalf("app %s reloads %+v; want at most one, without an error", name, got)
		}
		return len(got) == 1
	}
	wasm := wasmtest.Hello()
	job := "tasks:\n  - name: job\n    module: tasks/job.wasm\n"

	// Copied in place: not loaded while a module is missing or cut short.
	writeApp(t, b.home, testApp{name: "copied", tasks: job})
	module := filepath.Join(b.home, "apps", "copied", "tasks", "job.wasm")
	look(true)
	mustWrite(t, module, string(wasm[:len(wasm)-3]))
	look(true)
	if loaded("copied") {
		t.Fatal("loaded half-copied")
	}
	mustWrite(t, module, string(wasm))
	look(true)
	if !loaded("copied") {
		t.Fatal("the copied app was not loaded once complete")
	}

	// Renamed in: loaded at the first look.
	staging := filepath.Join(b.home, "staging")
	writeApp(t, staging, testApp{name: "renamed", tasks: job, modules: map[string][]byte{"job": wasm}})
	if err := os.Rename(filepath.Join(staging, "apps", "renamed"), filepath.Join(b.home, "apps", "renamed")); err != nil {
		t.Fatal(err)
	}
	look(true)
	if !loaded("renamed") {
		t.Fatal("the renamed app was not loaded at the first look")
	}

	// A look after a poll waits for a second look a settle period later,
	// and so does a look after a quiet period at an app with a problem.
	writeApp(t, b.home, testApp{name: "polled", tasks: job, modules: map[string][]byte{"job": wasm}})
	look(false)
	if loaded("polled") {
		t.Fatal("loaded at the first look after a poll")
	}
	b.clock.Advance(settle)
	look(false)
	if !loaded("polled") {
		t.Fatal("the polled app was not loaded at the second look")
	}
	writeApp(t, b.home, testApp{name: "broken", tasks: "tasks: [\n"})
	look(true)
	if got := rl.of("broken"); len(got) != 0 {
		t.Fatalf("broken app reloads %+v at the first look", got)
	}
	b.clock.Advance(settle)
	look(true)
	if got := rl.of("broken"); len(got) != 1 || got[0].Message == "" {
		t.Fatalf("broken app reloads %+v; want one, with its error", got)
	}
}

// Every cut of a module but at the end of a section is not whole.
func TestWasmWholeCuts(t *testing.T) {
	t.Parallel()
	for _, wasm := range [][]byte{wasmtest.Hello(), wasmtest.Loop(3), wasmtest.BigMemory(2)} {
		if !wasmWhole(wasm) {
			t.Fatalf("a whole module (%d bytes) is not whole", len(wasm))
		}
		ends := sectionEnds(wasm)
		for n := range len(wasm) {
			if wasmWhole(wasm[:n]) != ends[n] {
				t.Fatalf("the first %d of %d bytes: whole %v, want %v", n, len(wasm), !ends[n], ends[n])
			}
		}
	}
}

// sectionEnds marks the offsets of wasm at which a section ends.
func sectionEnds(wasm []byte) map[int]bool {
	ends := map[int]bool{8: true}
	for off := 8; off < len(wasm); {
		size, n := 0, 0
		for shift := 0; ; shift += 7 {
			c := wasm[off+1+n]
			n++
			size |= int(c&0x7f) << shift
			if c < 0x80 {
				break
			}
		}
		off += 1 + n + size
		ends[off] = true
	}
	return ends
}

func FuzzWasmWhole(f *testing.F) {
	f.Add(wasmtest.Hello())
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		whole := wasmWhole(b)
		if whole && (len(b) < 8 || string(b[:4]) != "\x00asm") {
			t.Fatalf("%q is whole", b)
		}
		if whole && !sectionEnds(b)[len(b)] {
			t.Fatalf("%q is whole but its sections do not end with it", b)
		}
	})
}
