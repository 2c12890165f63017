// Package apps_test builds the sample apps written in C, Rust and
// AssemblyScript, runs their own native tests, and runs each task through
// the engine. A language whose toolchain is missing is skipped, unless
// CRONBOX_REQUIRE_TOOLCHAINS=1.
package apps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// copyApp copies the sample app name into home/apps, leaving out built
// modules and build folders, and returns the copy's folder.
func copyApp(t *testing.T, home, name string) string {
	t.Helper()
	dst := filepath.Join(home, "apps", name)
	err := filepath.WalkDir(name, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(name, p)
		if d.IsDir() {
			if d.Name() == "target" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, ".wasm") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// buildTask builds the task of the app copy in dir.
func buildTask(t *testing.T, dir, task string) {
	t.Helper()
	src := filepath.Join(dir, "tasks", task)
	lang := build.Detect(src)
	wasmtest.RequireToolchain(t, lang, src)
	err := build.Build(context.Background(), build.Target{Dir: src, Lang: lang, Out: src + ".wasm"},
		build.Options{CacheDir: filepath.Join(wasmtest.CacheDir(), "build")})
	if err != nil {
		t.Fatal(err)
	}
}

// native runs a task's own tests, natively, in its folder.
func native(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(args[0]); err != nil {
		if os.Getenv("CRONBOX_REQUIRE_TOOLCHAINS") == "1" {
			t.Fatalf("CRONBOX_REQUIRE_TOOLCHAINS=1: %v", err)
		}
		t.Logf("not running the task's native tests: %v", err)
		return
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v in %s: %v\n%s", args, dir, err, out)
	}
}

// runTask starts an engine over home, triggers app/task with input and
// returns the finished run.
func runTask(t *testing.T, home, app, task, input string) *store.Run {
	t.Helper()
	ctx := context.Background()
	st, rt := testenv.Open(t, home)
	e, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, Clock: engine.NewFakeClock(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(ctx)
	id, err := e.Trigger(ctx, app, task, []byte(input), "test")
	if err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(ctx)
	r, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded {
		logs, _ := st.RunLogs(ctx, id, 0, 100)
		t.Fatalf("run %s: %s\nlogs: %+v", r.Status, r.Error, logs)
	}
	return r
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return buf.String()
}

func TestLedgerC(t *testing.T) {
	home := t.TempDir()
	dir := copyApp(t, home, "ledger")
	buildTask(t, dir, "totals")
	sdk, _ := filepath.Abs(filepath.Join("..", "sdk", "c"))
	bin := filepath.Join(t.TempDir(), "totals_test")
	native(t, filepath.Join(dir, "tasks", "totals"), nil, "cc", "-Wall", "-Werror", "-I", sdk, "-o", bin, "main_test.c", "csv.c")
	native(t, dir, nil, bin)
	// The CSV parser reads each run's input: fuzz it from its seeds.
	fuzz := filepath.Join(t.TempDir(), "fuzz")
	native(t, filepath.Join(dir, "tasks", "totals"), nil, "cc", "-Wall", "-Werror", "-fsanitize=address,undefined", "-g", "-I", sdk, "-o", fuzz, "fuzz_test.c", "csv.c")
	native(t, filepath.Join(dir, "tasks", "totals"), nil, fuzz, "testdata/fuzz")

	input := `{"csv": "date,account,amount\n2026-12-01,rent,-1200.00\n2026-12-01,\"food, drinks\",-12.50\n2026-12-03,salary,3000\n"}`
	r := runTask(t, home, "ledger", "totals", input)
	want := `{"rows":3,"batch":{"rent":-120000,"food, drinks":-1250,"salary":300000},"totals":{"rent":-120000,"food, drinks":-1250,"salary":300000}}`
	if got := compact(t, r.Result); got != want {
		t.Errorf("first run: %s\nwant %s", got, want)
	}
	// The totals are kept in the KV store: a second batch adds to them.
	r = runTask(t, home, "ledger", "totals", `{"csv": "account,amount\nrent,-1200\n"}`)
	want = `{"rows":1,"batch":{"rent":-120000},"totals":{"rent":-240000}}`
	if got := compact(t, r.Result); got != want {
		t.Errorf("second run: %s\nwant %s", got, want)
	}
}

func TestForecastRust(t *testing.T) {
	home := t.TempDir()
	dir := copyApp(t, home, "forecast")
	// The task's Cargo.toml takes the SDK from the repository, four
	// folders up: put a copy there.
	for _, f := range []string{"Cargo.toml", "src/lib.rs", "src/json.rs", "src/fake.rs", "src/host.rs"} {
		b, err := os.ReadFile(filepath.Join("..", "sdk", "rust", f))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(home, "sdk", "rust", f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	buildTask(t, dir, "summary")
	native(t, filepath.Join(dir, "tasks", "summary"),
		[]string{"CARGO_TARGET_DIR=" + filepath.Join(wasmtest.CacheDir(), "build", "cargo-native-forecast")},
		"cargo", "test", "--offline", "-q")

	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.String()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"hourly_units":{"temperature_2m":"°C"},"hourly":{"time":["2026-12-07T00:00","2026-12-07T01:00","2026-12-07T02:00"],"temperature_2m":[2.0,-1.0,5.5]}}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	// Point the app at the test server: allow it and name it in the config.
	for file, edit := range map[string][2]string{
		"app.yaml":          {"[api.open-meteo.com]", "[\"" + host + "\"]"},
		"config/tasks.yaml": {"https://api.open-meteo.com/v1/forecast", srv.URL + "/v1/forecast"},
	} {
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(edit[0])) {
			t.Fatalf("%s: %v, or no %s in it", file, err, edit[0])
		}
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(edit[0]), []byte(edit[1])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runTask(t, home, "forecast", "summary", `{"latitude": 48.1, "longitude": 11.6}`)
	want := `{"hours":3,"min":-1,"min_at":"2026-12-07T01:00","max":5.5,"max_at":"2026-12-07T02:00","mean":2.2,"unit":"°C"}`
	if got := compact(t, r.Result); got != want {
		t.Errorf("result %s\nwant %s", got, want)
	}
	if asked != "/v1/forecast?latitude=48.1&longitude=11.6&hourly=temperature_2m&forecast_days=1" {
		t.Errorf("the task asked for %s", asked)
	}
}

func TestPrimesAssemblyScript(t *testing.T) {
	home := t.TempDir()
	dir := copyApp(t, home, "primes")
	buildTask(t, dir, "count")
	// The native tests read ../../count.wasm and the SDK's fake host from
	// the repository: run them in the repository's copy, against the
	// module just built.
	src := filepath.Join("primes", "tasks", "count")
	b, err := os.ReadFile(filepath.Join(dir, "tasks", "count.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(t.TempDir(), "count.test.mjs")
	orig, err := os.ReadFile(filepath.Join(src, "test", "count.test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := filepath.Abs(filepath.Join("..", "sdk", "assemblyscript", "fake.mjs"))
	wasm := filepath.Join(filepath.Dir(test), "count.wasm")
	os.WriteFile(wasm, b, 0o644)
	orig = bytes.Replace(orig, []byte(`"../../../../../sdk/assemblyscript/fake.mjs"`), []byte(`"`+fake+`"`), 1)
	orig = bytes.Replace(orig, []byte(`new URL("../../count.wasm", import.meta.url)`), []byte(`"`+wasm+`"`), 1)
	os.WriteFile(test, orig, 0o644)
	native(t, filepath.Dir(test), nil, "node", "--test", test)

	r := runTask(t, home, "primes", "count", `{"limit": 200000}`)
	if got, want := compact(t, r.Result), `{"limit":200000,"primes":17984,"batches":2,"resumed_at":0}`; got != want {
		t.Errorf("result %s, want %s", got, want)
	}
}
