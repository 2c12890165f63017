package lifecycle

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/build"
)

func TestNew(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	now := time.Date(2031, 7, 8, 9, 0, 0, 0, time.UTC)
	desc := `Says "hi": a demo, #1 & more`
	dir, err := New(home, "my-app", NewOptions{Description: desc, Author: "Ada: L. <ada@example.com>", Version: "2.0", Roles: []string{"operator", " viewer "}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Load(dir, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := a.Manifest
	if m.Name != "my-app" || m.Description != desc || m.Author != "Ada: L. <ada@example.com>" || m.Version != "2.0" || !slices.Equal(m.Roles, []string{"operator", "viewer"}) || !m.Enabled {
		t.Errorf("manifest = %+v", m)
	}
	if len(a.Tasks) != 2 || a.Tasks[0].Name != TemplateTask || a.Tasks[1].Name != app.InitTask || !errors.Is(a.Tasks[0].Errors[0], app.ErrNotBuilt) {
		t.Errorf("tasks = %+v", a.Tasks)
	}
	for _, f := range []string{"README.md", "go.mod", "tasks/hello/main.go", "tasks/hello/main_test.go"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>") {
			t.Errorf("%s holds template text:\n%s", f, b)
		}
	}
	src, _ := os.ReadFile(filepath.Join(dir, "tasks/hello/main.go"))
	if !strings.Contains(string(src), "// Copyright 2031 Ada: L. <ada@example.com>") {
		t.Errorf("main.go has no copyright line:\n%s", src)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "main.go", src, 0); err != nil {
		t.Errorf("main.go does not parse: %v", err)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !strings.Contains(string(readme), "created on 2031-07-08") {
		t.Errorf("README.md:\n%s", readme)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	replace := "replace github.com/cronbox/cronbox => " + sdkReplace()
	if !strings.Contains(string(gomod), replace) {
		t.Errorf("go.mod:\n%s\nwant %q", gomod, replace)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(sdkReplace()), "sdk", "sdk.go")); err != nil {
		t.Errorf("the SDK is not where go.mod says: %v", err)
	}
	emptyStaging(t, home)

	if _, err := New(home, "my-app", NewOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second New: err = %v, want ErrExists", err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		app  string
		opts NewOptions
		want error
	}{
		{name: "dot dot", app: "..", want: app.ErrInvalidName},
		{name: "path", app: "a/b", want: app.ErrInvalidName},
		{name: "parent path", app: "../evil", want: app.ErrInvalidName},
		{name: "absolute", app: "/tmp/x", want: app.ErrInvalidName},
		{name: "hidden", app: ".x", want: app.ErrInvalidName},
		{name: "empty", app: "", want: app.ErrInvalidName},
		{name: "space", app: "my app", want: app.ErrInvalidName},
		{name: "too long", app: strings.Repeat("a", 65), want: app.ErrInvalidName},
		{name: "bad role", app: "ok", opts: NewOptions{Roles: []string{"a b"}}, want: app.ErrInvalidName},
		{name: "two-line description", app: "ok", opts: NewOptions{Description: "a\nb"}},
		{name: "long version", app: "ok", opts: NewOptions{Version: strings.Repeat("1", 65)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			_, err := New(home, tt.app, tt.opts)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if ents, _ := os.ReadDir(filepath.Join(home, "apps")); len(ents) != 0 {
				t.Errorf("apps holds %d entries", len(ents))
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(home), "evil")); err == nil {
				t.Error("wrote outside the home")
			}
		})
	}
}

// TestSDKSource checks what EnsureSDK extracts: the SDK without tests,
// under a go.mod that requires nothing, importing only the standard
// library and itself, so that an app builds offline.
func TestSDKSource(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir, err := EnsureSDK(home)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EnsureSDK(home)
	if err != nil || again != dir {
		t.Errorf("second EnsureSDK = %s, %v", again, err)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if strings.Contains(string(gomod), "require") || !strings.HasPrefix(string(gomod), "module github.com/cronbox/cronbox\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	fset := token.NewFileSet()
	n := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		n++
		if strings.HasSuffix(p, "_test.go") {
			t.Errorf("%s is a test file", p)
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(path, cronbox.SDKModule+"/sdk") {
				t.Errorf("%s imports %s, which is neither the standard library nor the SDK", p, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("the SDK has %d Go files", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(home, "data", "sdk")); len(ents) != 1 {
		t.Errorf("data/sdk holds %d entries, want 1", len(ents))
	}
}

// TestNewEachLanguage creates an app in each language: its task's files,
// filled in, beside a copy of the language's SDK; the app loads with only
// its module missing.
func TestNewEachLanguage(t *testing.T) {
	t.Parallel()
	files := map[build.Lang][]string{
		build.Go:             {"go.mod", "tasks/hello/main.go", "tasks/hello/main_test.go"},
		build.C:              {"tasks/hello/main.c", "tasks/hello/main_test.c", "tasks/hello/cronbox.h"},
		build.Rust:           {"tasks/hello/Cargo.toml", "tasks/hello/src/main.rs", "tasks/hello/.cargo/config.toml", "tasks/hello/cronbox/Cargo.toml", "tasks/hello/cronbox/src/lib.rs", "tasks/hello/cronbox/src/fake.rs"},
		build.AssemblyScript: {"tasks/hello/package.json", "tasks/hello/assembly/index.ts", "tasks/hello/lib/cronbox.ts", "tasks/hello/test/fake.mjs", "tasks/hello/test/task.test.mjs"},
	}
	for lang, want := range files {
		home := t.TempDir()
		dir, err := New(home, "app-"+string(lang), NewOptions{Lang: lang, Author: "Ada", Description: "A demo"})
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if got := build.Detect(filepath.Join(dir, "tasks", "hello")); got != lang {
			t.Errorf("%s: the task's folder reads as %q", lang, got)
		}
		for _, f := range append(want, "README.md", "app.yaml", "config/tasks.yaml") {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Errorf("%s: %v", lang, err)
				continue
			}
			copied := slices.ContainsFunc(vendored[lang], func(v [2]string) bool { return strings.HasPrefix(f, "tasks/hello/"+v[1]) })
			if !copied && (strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>")) {
				t.Errorf("%s: %s holds template text", lang, f)
			}
		}
		// Every file of the language's SDK in the repository is copied.
		for _, v := range vendored[lang] {
			src := filepath.Join("..", "..", filepath.FromSlash(v[0]))
			err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					if e != nil && e.IsDir() && (e.Name() == "target" || e.Name() == "tests") {
						return filepath.SkipDir
					}
					return err
				}
				if strings.HasSuffix(p, ".lock") || strings.HasPrefix(e.Name(), ".") {
					return nil
				}
				rel, _ := filepath.Rel(src, p)
				got, err := os.ReadFile(filepath.Join(dir, "tasks", "hello", filepath.FromSlash(v[1]), rel))
				orig, _ := os.ReadFile(p)
				if err != nil || string(got) != string(orig) {
					t.Errorf("%s: %s is not copied into the task (%v)", lang, p, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		a, err := app.Load(dir, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The task and the init task, which runs its module.
		if len(a.Tasks) != 2 || a.Tasks[1].Name != app.InitTask || a.Tasks[1].Module != a.Tasks[0].Module {
			t.Errorf("%s: tasks = %+v", lang, a.Tasks)
		}
		for _, task := range a.Tasks {
			if len(task.Errors) != 1 || !errors.Is(task.Errors[0], app.ErrNotBuilt) {
				t.Errorf("%s: task %s: errors %v, want that it is not built", lang, task.Name, task.Errors)
			}
		}
		if _, err := os.Stat(filepath.Join(home, "data", "sdk")); (err == nil) != (lang == build.Go) {
			t.Errorf("%s: the Go SDK extracted: %v", lang, err == nil)
		}
	}
	if _, err := New(t.TempDir(), "x", NewOptions{Lang: "cobol"}); err == nil || !strings.Contains(err.Error(), `language "cobol"`) {
		t.Errorf("New in cobol: %v", err)
	}
}
