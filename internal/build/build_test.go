package build_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repoRoot is the module's root, where the SDKs are.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestDetectAndFind(t *testing.T) {
	t.Parallel()
	app := t.TempDir()
	write(t, filepath.Join(app, "tasks/g/main.go"), "package main\nfunc main() {}\n")
	write(t, filepath.Join(app, "tasks/c/main.c"), "int main(void) { return 0; }\n")
	write(t, filepath.Join(app, "tasks/r/Cargo.toml"), "[package]\nname = \"r\"\n")
	write(t, filepath.Join(app, "tasks/r/src/main.rs"), "fn main() {}\n")
	write(t, filepath.Join(app, "tasks/a/package.json"), "{}\n")
	write(t, filepath.Join(app, "tasks/a/assembly/index.ts"), "\n")
	// Not tasks: a package.json without assembly/, a C file not named
	// main.c, sources in skipped folders.
	write(t, filepath.Join(app, "tasks/web/package.json"), "{}\n")
	write(t, filepath.Join(app, "tasks/lib/util.c"), "\n")
	write(t, filepath.Join(app, "tasks/node_modules/x/main.c"), "\n")
	write(t, filepath.Join(app, "tasks/target/y/main.c"), "\n")
	write(t, filepath.Join(app, "tasks/.hidden/main.c"), "\n")

	got, err := build.Find(app)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, tg := range got {
		rel, _ := filepath.Rel(app, tg.Dir)
		seen = append(seen, filepath.ToSlash(rel)+":"+string(tg.Lang))
		if tg.Out != tg.Dir+".wasm" {
			t.Errorf("%s: Out %s", tg.Dir, tg.Out)
		}
	}
	want := []string{"tasks/a:assemblyscript", "tasks/c:c", "tasks/g:go", "tasks/r:rust"}
	if !slices.Equal(seen, want) {
		t.Errorf("Find: got %v, want %v", seen, want)
	}
	// A task folder itself.
	got, err = build.Find(filepath.Join(app, "tasks/c"))
	if err != nil || len(got) != 1 || got[0].Lang != build.C {
		t.Errorf("Find(tasks/c) = %v, %v", got, err)
	}
	if _, err := build.Find(filepath.Join(app, "tasks/web")); !errors.Is(err, build.ErrNoTasks) {
		t.Errorf("Find(tasks/web): %v, want ErrNoTasks", err)
	}
}

func TestStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "r/Cargo.toml"), "[package]\n")
	write(t, filepath.Join(dir, "r/src/bin/x.rs"), "fn main() {}\n")
	write(t, filepath.Join(dir, "r/target/debug/junk.rs"), "\n")
	write(t, filepath.Join(dir, "a/package.json"), "{}\n")
	write(t, filepath.Join(dir, "a/assembly/index.ts"), "\n")
	write(t, filepath.Join(dir, "c/main.c"), "\n")
	write(t, filepath.Join(dir, "c/util.h"), "\n")
	write(t, filepath.Join(dir, "c/main_test.c"), "\n")
	old := time.Now().Add(-time.Hour)
	newer := time.Now()
	cases := []struct {
		lang       build.Lang
		dir        string
		touch      string // a source whose change makes the module stale
		notASource string
	}{
		{build.Rust, "r", "src/bin/x.rs", "target/debug/junk.rs"},
		{build.AssemblyScript, "a", "assembly/index.ts", ""},
		{build.C, "c", "util.h", "main_test.c"},
	}
	for _, c := range cases {
		tg := build.Target{Dir: filepath.Join(dir, c.dir), Lang: c.lang, Out: filepath.Join(dir, c.dir+".wasm")}
		if !tg.Stale() {
			t.Errorf("%s: not stale without a module", c.lang)
		}
		srcs, err := tg.Sources()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			os.Chtimes(s, old, old)
		}
		if c.notASource != "" {
			os.Chtimes(filepath.Join(tg.Dir, c.notASource), newer, newer)
		}
		write(t, tg.Out, "x")
		if tg.Stale() {
			t.Errorf("%s: stale with a module newer than its sources %v", c.lang, srcs)
		}
		os.Chtimes(tg.Out, old.Add(time.Minute), old.Add(time.Minute))
		os.Chtimes(filepath.Join(tg.Dir, c.touch), newer, newer)
		if !tg.Stale() {
			t.Errorf("%s: not stale after %s changed", c.lang, c.touch)
		}
	}
}

// imports returns the modules a module imports from, and its exports.
func imports(t *testing.T, path string) (mods, exports []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cm.ImportedFunctions() {
		m, _, _ := f.Import()
		if !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	for name := range cm.ExportedFunctions() {
		exports = append(exports, name)
	}
	for name := range cm.ExportedMemories() {
		exports = append(exports, name)
	}
	slices.Sort(mods)
	slices.Sort(exports)
	return mods, exports
}

// TestBuildEachLanguage builds a task in each language against the SDK
// this binary carries (C, AssemblyScript) or the repository's crate
// (Rust), and checks the module imports only what Cronbox has.
func TestBuildEachLanguage(t *testing.T) {
	root, err := filepath.Abs(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[build.Lang]map[string]string{
		build.C: {"main.c": "#define CRONBOX_IMPLEMENTATION\n#include \"cronbox.h\"\nint main(void) { return cronbox_result(\"1\"); }\n"},
		build.Rust: {
			"Cargo.toml":  "[package]\nname = \"t\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\ncronbox = { path = " + `"` + filepath.ToSlash(filepath.Join(root, "sdk", "rust")) + `"` + " }\n",
			"src/main.rs": "fn main() { cronbox::set_result(\"1\").unwrap(); }\n",
		},
		build.AssemblyScript: {
			"package.json": "{}\n",
			// trace and Math.random import env.trace and env.seed unless
			// the build routes them to the SDK.
			"assembly/index.ts": "import { setResult } from \"cronbox\";\ntrace(\"t\");\nsetResult(Math.random() < 2 ? \"1\" : \"2\");\n",
		},
	}
	for lang, files := range tasks {
		t.Run(string(lang), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "task")
			for name, content := range files {
				write(t, filepath.Join(dir, name), content)
			}
			if got := build.Detect(dir); got != lang {
				t.Fatalf("Detect = %q, want %q", got, lang)
			}
			out := wasmtest.BuildTask(t, dir)
			mods, exports := imports(t, out)
			for _, m := range mods {
				if m != "cronbox" && m != "wasi_snapshot_preview1" {
					t.Errorf("the module imports from %q; Cronbox has only cronbox and wasi_snapshot_preview1", m)
				}
			}
			if !slices.Contains(mods, "cronbox") {
				t.Errorf("the module imports nothing from cronbox: %v", mods)
			}
			if !slices.Contains(exports, "_start") || !slices.Contains(exports, "memory") {
				t.Errorf("exports %v, want _start and memory", exports)
			}
		})
	}
}

func TestBuildFailureSaysWhy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bad")
	write(t, filepath.Join(dir, "main.c"), "int main(void) { return nope; }\n")
	wasmtest.RequireToolchain(t, build.C, dir)
	tg := build.Target{Dir: dir, Lang: build.C, Out: dir + ".wasm"}
	err := build.Build(context.Background(), tg, build.Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Build: %v, want the compiler's message", err)
	}
	if _, err := os.Stat(tg.Out); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s", tg.Out)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".build-*"))
	if len(left) > 0 {
		t.Errorf("a failed build left %v", left)
	}
}

func TestMissingToolchainSaysHowToInstall(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("CRONBOX_CLANG", "")
	t.Setenv("CRONBOX_ASC", "")
	t.Setenv("HOME", empty)
	for _, c := range []struct {
		lang build.Lang
		want string
	}{
		{build.C, "apt-get install -y clang lld wasi-libc"},
		{build.AssemblyScript, "apt-get install -y nodejs npm"},
	} {
		err := build.Toolchain(c.lang, empty)
		var te *build.ToolchainError
		if !errors.As(err, &te) || te.Lang != c.lang || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Toolchain(%s) = %v, want a ToolchainError saying %q", c.lang, err, c.want)
		}
		dir := filepath.Join(empty, string(c.lang))
		write(t, filepath.Join(dir, "main.c"), "int main(void){return 0;}\n")
		err = build.Build(context.Background(), build.Target{Dir: dir, Lang: c.lang, Out: dir + ".wasm"}, build.Options{CacheDir: empty})
		if !errors.As(err, &te) {
			t.Errorf("Build(%s) = %v, want a ToolchainError", c.lang, err)
		}
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]build.Lang{"go": build.Go, "C": build.C, "rust": build.Rust, "as": build.AssemblyScript, "assemblyscript": build.AssemblyScript} {
		if got, err := build.ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := build.ParseLang("cobol"); err == nil || !strings.Contains(err.Error(), "want go, c, rust or assemblyscript") {
		t.Errorf("ParseLang(cobol): %v", err)
	}
}
