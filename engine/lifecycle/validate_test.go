package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

var (
	testRuntimeOnce sync.Once
	testRuntime     *runtime.Runtime
	testRuntimeErr  error
)

// sharedRuntime is one runtime for the package's tests, caching compiled
// code where the other tests of the module do.
func sharedRuntime(t testing.TB) *runtime.Runtime {
	t.Helper()
	testRuntimeOnce.Do(func() {
		testRuntime, testRuntimeErr = NewRuntime(context.Background(), wasmtest.CompilationCacheDir())
	})
	if testRuntimeErr != nil {
		t.Fatal(testRuntimeErr)
	}
	return testRuntime
}

func TestValidate(t *testing.T) {
	t.Parallel()
	type want struct {
		errs, warns []string // substrings of findings, in any order
		ok, strict  bool     // Report.OK(false), Report.OK(true)
	}
	tests := []struct {
		name   string
		change map[string][]byte // over demoFiles; nil value deletes
		link   string            // a symlink to make in the app
		want   want
	}{
		{name: "valid", want: want{ok: true, strict: true}},
		{name: "schema error with position", change: map[string][]byte{"config/tasks.yaml": []byte("tasks:\n  - name: hello\n    limits: { memory: lots }\n")},
			want: want{errs: []string{`config/tasks.yaml:3:23: tasks[0].limits.memory: "lots" is not a size`}}},
		{name: "unknown field in app.yaml", change: map[string][]byte{"app.yaml": []byte("name: demo\npermisions: {}\n")},
			want: want{errs: []string{`app.yaml:2:1: unknown field "permisions"`}}},
		{name: "bad schedule", change: map[string][]byte{"config/tasks.yaml": []byte("tasks:\n  - name: hello\n    schedule: \"61 * * * *\"\n")},
			want: want{errs: []string{"config/tasks.yaml:3:15: tasks[0].schedule"}}},
		{name: "module missing", change: map[string][]byte{"tasks/hello.wasm": nil},
			want: want{errs: []string{"tasks[0].module"}}},
		{name: "module not wasm", change: map[string][]byte{"tasks/hello.wasm": []byte("#!/bin/sh\n")},
			want: want{errs: []string{"tasks/hello.wasm: task hello: "}}},
		{name: "unknown host function", change: map[string][]byte{"tasks/hello.wasm": wasmtest.Importing("cronbox", "launch_missiles")},
			want: want{errs: []string{"launch_missiles"}}},
		{name: "module needs more memory than its limit", change: map[string][]byte{
			"tasks/hello.wasm":  wasmtest.BigMemory(2048), // 128 MiB
			"config/tasks.yaml": []byte("tasks:\n  - name: hello\n    limits: { memory: 64MiB }\n")},
			want: want{errs: []string{"more than the task's limit"}}},
		{name: "unused module", change: map[string][]byte{"tasks/old.wasm": wasmtest.Hello()},
			want: want{warns: []string{"tasks/old.wasm: no task or route uses this module"}, ok: true}},
		{name: "wide and internal hosts", change: map[string][]byte{"app.yaml": []byte("name: demo\npermissions:\n  http: [\"*.com\", localhost:8080, 169.254.169.254, api.example.com]\n")},
			want: want{warns: []string{"every host under .com", "Cronbox host itself", "link-local"}, ok: true}},
		{name: "unknown role", change: map[string][]byte{"app.yaml": []byte("name: demo\nroles: [wizard]\n")},
			want: want{warns: []string{"unknown role"}, ok: true}},
		{name: "names differing in case", change: map[string][]byte{"TASKS/x": []byte("x")},
			want: want{errs: []string{`tasks: differs from "TASKS" only in case`}}},
		{name: "folders differing in case, deeper", change: map[string][]byte{"a/B/x": []byte("x"), "a/b/y": []byte("y")},
			want: want{errs: []string{`a/b: differs from "a/B" only in case`}}},
		{name: "NFC and NFD of one name", change: map[string][]byte{"caf\u00e9": []byte("x"), "cafe\u0301": []byte("y")},
			want: want{errs: []string{`"caf\u00e9" holds the non-ASCII character`, `"cafe\u0301" holds a combining mark (U+0301`}}},
		{name: "right-to-left override", change: map[string][]byte{"docs/invoice\u202etxt.exe": []byte("x")},
			want: want{errs: []string{`"docs/invoice\u202etxt.exe" holds an invisible formatting character (U+202E`}}},
		{name: "hidden files are not exported", change: map[string][]byte{".notes/caf\u00e9": []byte("x"), ".notes/CAF": []byte("x"), ".notes/caf": []byte("x")},
			want: want{ok: true, strict: true}},
		{name: "hidden module", change: map[string][]byte{".build/hello.wasm": wasmtest.Hello(), "config/tasks.yaml": []byte("tasks:\n  - name: hello\n    module: .build/hello.wasm\n")},
			want: want{errs: []string{".build/hello.wasm: task hello: is hidden"}}},
		{name: "symlink", link: "passwd", want: want{warns: []string{"passwd: is a symlink"}, ok: true}},
		{name: "name differs from folder", change: map[string][]byte{"app.yaml": []byte("name: other\n")},
			want: want{errs: []string{"differs from the folder's name"}}},
		{name: "no app.yaml", change: map[string][]byte{"app.yaml": nil}, want: want{errs: []string{"app.yaml"}}},
		{name: "init task", change: map[string][]byte{"config/tasks.yaml": []byte("tasks:\n  - name: init\n    module: tasks/hello.wasm\n")},
			want: want{ok: true, strict: true}},
		{name: "init task with a schedule", change: map[string][]byte{"config/tasks.yaml": []byte("tasks:\n  - name: init\n    module: tasks/hello.wasm\n    schedule: \"H * * * *\"\n")},
			want: want{warns: []string{"config/tasks.yaml: schedule: the init task runs once each time the app is loaded"}, ok: true}},
		{name: "route", change: map[string][]byte{"app.yaml": []byte("name: demo\nroles: [reader]\nroutes:\n  - {path: /status, module: routes/status.wasm, roles: [reader, public]}\n"), "routes/status.wasm": wasmtest.Hello()},
			want: want{ok: true, strict: true}},
		{name: "route with an unknown role", change: map[string][]byte{"app.yaml": []byte("name: demo\nroutes:\n  - {path: /status, module: routes/status.wasm, roles: [reader]}\n"), "routes/status.wasm": wasmtest.Hello()},
			want: want{errs: []string{`routes[0].roles[0]: "reader" is not public, viewer, operator, admin nor one of the app's roles`}}},
		{name: "route module not wasm", change: map[string][]byte{"app.yaml": []byte("name: demo\nroutes:\n  - {path: /status, module: routes/status.wasm}\n"), "routes/status.wasm": []byte("#!/bin/sh\n")},
			want: want{errs: []string{"routes/status.wasm: routes[0].module: "}}},
		{name: "route module needs more memory than its limit", change: map[string][]byte{"app.yaml": []byte("name: demo\nroutes:\n  - {path: /status, module: routes/status.wasm, memory: 64MiB}\n"), "routes/status.wasm": wasmtest.BigMemory(2048)},
			want: want{errs: []string{"more than the route's limit of 64 MiB"}}},
		{name: "unused route module", change: map[string][]byte{"routes/old.wasm": wasmtest.Hello()},
			want: want{warns: []string{"routes/old.wasm: no task or route uses this module"}, ok: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "demo")
			files := demoFiles("demo")
			for p, b := range tt.change {
				if b == nil {
					delete(files, p)
				} else {
					files[p] = b
				}
			}
			writeFiles(t, dir, files)
			if tt.link != "" {
				os.Symlink("/etc/passwd", filepath.Join(dir, tt.link))
			}
			rep, err := Validate(context.Background(), dir, ValidateOptions{Runtime: sharedRuntime(t)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK(false) != tt.want.ok || rep.OK(true) != tt.want.strict {
				t.Errorf("OK = %v, strict %v; want %v, %v; report %+v", rep.OK(false), rep.OK(true), tt.want.ok, tt.want.strict, rep)
			}
			check := func(kind string, got []Finding, want []string) {
				if len(want) == 0 && len(got) != 0 {
					t.Errorf("%s = %v, want none", kind, got)
				}
				for _, w := range want {
					found := false
					for _, f := range got {
						found = found || strings.Contains(f.String(), w)
					}
					if !found {
						t.Errorf("%s = %v, want one containing %q", kind, got, w)
					}
				}
			}
			check("errors", rep.Errors, tt.want.errs)
			if tt.want.warns != nil || tt.want.strict {
				check("warnings", rep.Warnings, tt.want.warns)
			}
		})
	}
	t.Run("missing folder", func(t *testing.T) {
		t.Parallel()
		_, err := Validate(context.Background(), filepath.Join(t.TempDir(), "nope"), ValidateOptions{})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

// TestValidateRelativeDir validates an app named by a relative path, as
// `cronbox app validate` does with the default home: its modules are the
// ones its tasks use.
func TestValidateRelativeDir(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "demo"), demoFiles("demo"))
	t.Chdir(root)
	rep, err := Validate(context.Background(), "demo", ValidateOptions{Runtime: sharedRuntime(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK(true) {
		t.Errorf("report %+v; want no errors or warnings", rep)
	}
}
