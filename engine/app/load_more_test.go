package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cronbox/cronbox/engine/schedule"
)

func TestLoadChecksSchedules(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": "tasks:\n" +
			"  - name: ok\n    module: tasks/t.wasm\n    schedule: \"@daily\"\n" +
			"  - name: bad\n    module: tasks/t.wasm\n    schedule: { cron: \"61 * * * *\" }\n" +
			"  - name: late\n    module: tasks/t.wasm\n    schedule: { at: 2000-01-01T00:00:00Z }\n" +
			"  - name: manual\n    module: tasks/t.wasm\n",
		"tasks/t.wasm": wasmHeader,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"config/tasks.yaml:7:23: tasks[1].schedule.cron: minute: 61 is above the maximum 59",
	}
	if got := problemsString(a.Errors); got != problemsString(toProblems(want)) {
		t.Errorf("errors:%s\nwant:%s", got, problemsString(toProblems(want)))
	}
}

// toProblems makes problems whose Error is each of msgs.
func toProblems(msgs []string) []Problem {
	ps := make([]Problem, len(msgs))
	for i, m := range msgs {
		ps[i] = Problem{Message: m}
	}
	return ps
}

func TestLoadModuleSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "evil.wasm"), wasmHeader)
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": "tasks:\n" +
			"  - name: file-out\n    module: tasks/out.wasm\n" +
			"  - name: dir-out\n    module: linked/evil.wasm\n" +
			"  - name: inside\n    module: tasks/alias.wasm\n",
		"tasks/real.wasm": wasmHeader,
	})
	for link, target := range map[string]string{
		"tasks/out.wasm":   filepath.Join(outside, "evil.wasm"),
		"linked":           outside,
		"tasks/alias.wasm": "real.wasm",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("cannot make symlinks: %v", err)
		}
	}
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"tasks[0].module", "tasks[1].module"} {
		p, ok := findProblem(a.Errors, field)
		if !ok || !strings.Contains(p.Message, "leads out of the app folder through a symbolic link") {
			t.Errorf("%s: got %v, %v; want a symlink escape", field, p, ok)
		}
	}
	inside, _ := a.Task("inside")
	if want := filepath.Join(a.Dir, "tasks", "real.wasm"); !inside.Valid() || inside.Module != want {
		t.Errorf("inside: Module %q, errors%s; want %q, valid", inside.Module, problemsString(inside.Errors), want)
	}
	for _, name := range []string{"file-out", "dir-out"} {
		if task, _ := a.Task(name); task.Module != "" || task.Valid() {
			t.Errorf("%s: Module %q, valid %v; want none, invalid", name, task.Module, task.Valid())
		}
	}
}

func TestLoadGoSource(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml":          "tasks:\n  - name: cleanup\n  - name: report\n  - name: rotate\n  - name: tested\n",
		"tasks/cleanup/main.go":      "package main\n",
		"tasks/report/main.go":       "package main\n",
		"tasks/report.wasm":          wasmHeader,
		"tasks/rotate/main.go":       "package main\n",
		"tasks/rotate.wasm":          wasmHeader,
		"tasks/tested/main_test.go":  "package main\n",
		"tasks/tested/README.md":     "not Go\n",
		"tasks/tested/sub/ignore.go": "package sub\n",
	})
	// report's module is older than its source; rotate's is newer.
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"tasks/report.wasm", "tasks/rotate/main.go"} {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}

	cleanup, _ := a.Task("cleanup")
	if len(cleanup.Errors) != 1 || !errors.Is(cleanup.Errors[0], ErrNotBuilt) {
		t.Fatalf("cleanup errors:%s; want one wrapping ErrNotBuilt", problemsString(cleanup.Errors))
	}
	want := `config/tasks.yaml:2:5: tasks[0].module: "tasks/cleanup.wasm" is not built yet: build it from its Go source in tasks/cleanup/ (cronbox build)`
	if got := cleanup.Errors[0].Error(); got != want {
		t.Errorf("cleanup error = %s\nwant %s", got, want)
	}
	if cleanup.Module != filepath.Join(a.Dir, "tasks", "cleanup.wasm") || cleanup.Source != filepath.Join(a.Dir, "tasks", "cleanup") {
		t.Errorf("cleanup Module %q Source %q; want the module to build and its source", cleanup.Module, cleanup.Source)
	}

	report, _ := a.Task("report")
	if !report.Valid() || len(report.Warnings) != 1 || !strings.Contains(report.Warnings[0].Message, "older than its Go source") {
		t.Errorf("report errors:%s warnings:%s; want one warning about a stale module", problemsString(report.Errors), problemsString(report.Warnings))
	}
	rotate, _ := a.Task("rotate")
	if !rotate.Valid() || len(rotate.Warnings) != 0 || rotate.Source == "" {
		t.Errorf("rotate Source %q errors:%s warnings:%s; want a source and no problems", rotate.Source, problemsString(rotate.Errors), problemsString(rotate.Warnings))
	}
	tested, _ := a.Task("tested")
	if tested.Source != "" || len(tested.Errors) != 1 || errors.Is(tested.Errors[0], ErrNotBuilt) {
		t.Errorf("tested Source %q errors:%s; want a plain missing module (test files and subpackages are no source)", tested.Source, problemsString(tested.Errors))
	}
}

func TestLoadAfterCycles(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": `tasks:
  - { name: a, module: tasks/t.wasm, after: [b] }
  - { name: b, module: tasks/t.wasm, after: [c] }
  - { name: c, module: tasks/t.wasm, after: [x, a] }
  - { name: d, module: tasks/t.wasm, after: [a] }
  - { name: x, module: tasks/t.wasm }
  - { name: p, module: tasks/t.wasm, after: [q] }
  - { name: q, module: tasks/t.wasm, after: [p, r] }
  - { name: r, module: tasks/t.wasm, after: [q] }
`,
		"tasks/t.wasm": wasmHeader,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "config/tasks.yaml:2:46: tasks[0].after[0]: dependency cycle: a → b → c → a",
		"b": "config/tasks.yaml:3:46: tasks[1].after[0]: dependency cycle: b → c → a → b",
		"c": "config/tasks.yaml:4:49: tasks[2].after[1]: dependency cycle: c → a → b → c",
		"p": "config/tasks.yaml:7:46: tasks[5].after[0]: dependency cycle: p → q → p",
		"q": "config/tasks.yaml:8:46: tasks[6].after[0]: dependency cycle: q → p → q",
		"r": "config/tasks.yaml:9:46: tasks[7].after[0]: dependency cycle: r → q → r",
	}
	for _, task := range a.Tasks {
		var got []string
		for _, p := range task.Errors {
			got = append(got, p.Error())
		}
		if w, ok := want[task.Name]; ok {
			if len(got) != 1 || got[0] != w {
				t.Errorf("%s: errors %q; want [%q]", task.Name, got, w)
			}
		} else if len(got) > 0 {
			t.Errorf("%s: errors %q; want none", task.Name, got)
		}
	}
	// d runs after a, which is in a cycle and so has errors.
	d, _ := a.Task("d")
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0].Message, `task "a" has errors`) {
		t.Errorf("d warnings:%s", problemsString(d.Warnings))
	}
}

// TestCyclesLarge checks cycle finding on a long cycle and on a dense
// component: fast, and each vertex gets a cycle.
func TestCyclesLarge(t *testing.T) {
	t.Parallel()
	const n = MaxTasks
	ring := make([][]int, n)
	dense := make([][]int, n)
	for i := range n {
		ring[i] = []int{(i + 1) % n}
		for j := 1; j <= 30; j++ {
			dense[i] = append(dense[i], (i+j*j)%n)
		}
	}
	for name, succ := range map[string][][]int{"ring": ring, "dense": dense} {
		got := cycles(succ)
		if len(got) != n {
			t.Fatalf("%s: got %d cycles; want %d", name, len(got), n)
		}
		checked := make(map[*int]bool) // paths are shared; check each once
		for _, c := range got {
			if !slices.Contains(succ[c.v], c.next) {
				t.Fatalf("%s: vertex %d: next %d is no successor", name, c.v, c.next)
			}
			if checked[&c.path[0]] {
				continue
			}
			checked[&c.path[0]] = true
			for i, v := range c.path {
				if w := c.path[(i+1)%len(c.path)]; !slices.Contains(succ[v], w) {
					t.Fatalf("%s: vertex %d: path has no edge %d → %d", name, c.v, v, w)
				}
			}
		}
		for _, c := range got {
			if c.start >= 0 && c.path[c.start] != c.v {
				t.Fatalf("%s: vertex %d: path[%d] = %d", name, c.v, c.start, c.path[c.start])
			}
		}
	}
}

func TestCycleString(t *testing.T) {
	t.Parallel()
	letters := strings.Split("a b c d e f g h i j k l", " ")
	name := func(v int) string { return letters[v] }
	tests := []struct {
		path  []int
		start int
		want  string
	}{
		{[]int{0, 1}, 0, "a → b → a"},
		{[]int{0, 1, 2}, 1, "b → c → a → b"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0, "a → b → c → d → e → f → g → h → i → … → a"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 5, "f → g → h → i → j → k → l → a → b → … → f"},
	}
	for _, tt := range tests {
		if got := cycleString(tt.path, tt.start, name); got != tt.want {
			t.Errorf("cycleString(%v, %d) = %q; want %q", tt.path, tt.start, got, tt.want)
		}
	}
}

func TestLoadManifestProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		manifest string
		want     string // the first problem
	}{
		{"name differs", "name: other\n", `app.yaml:1:7: name: "other" differs from the folder's name "demo"; rename one of them`},
		{"name missing", "version: 1.0.0\n", `app.yaml:1:1: name: is required: the app's name, equal to its folder's name "demo"`},
		{"name of wrong kind", "name: [demo]\n", "app.yaml:1:7: name: want a string, got a list"},
		{"unknown field", "name: demo\npermision: {}\n", `app.yaml:2:1: unknown field "permision"; did you mean "permissions"?`},
		{"enabled of wrong kind", "name: demo\nenabled: \"true\"\n", `app.yaml:2:10: enabled: want true or false, got "true"`},
		{"version on two lines", "name: demo\nversion: \"1\\n2\"\n", "app.yaml:2:10: version: want one line of at most 64 characters"},
		{"role invalid", "name: demo\nroles: [\"\"]\n", "app.yaml:2:9: roles[0]: invalid name: empty"},
		{"http entry invalid", "name: demo\npermissions: { http: [\"http://x\"] }\n", `app.yaml:2:23: permissions.http[0]: invalid allow-list entry "http://x"`},
		{"files of wrong kind", "name: demo\npermissions: { files: 1 }\n", `app.yaml:2:23: permissions.files: want true or false, got "1"`},
		{"concurrency zero", "name: demo\nquotas: { concurrency: 0 }\n", "app.yaml:2:24: quotas.concurrency: 0 is outside 1..1000"},
		{"quota memory not a size", "name: demo\nquotas: { memory: lots }\n", `app.yaml:2:19: quotas.memory: "lots" is not a size`},
		{"quota memory below a page", "name: demo\nquotas: { memory: 1KiB }\n", "app.yaml:2:19: quotas.memory: 1 KiB is less than one 64 KiB page"},
		{"quota kv not a size", "name: demo\nquotas: { kv: -5 }\n", `app.yaml:2:15: quotas.kv: "-5" is not a size`},
		{"quota files not a size", "name: demo\nquotas: { files: 1 TB of it }\n", `app.yaml:2:18: quotas.files: "1 TB of it" is not a size`},
		{"quota history not a size", "name: demo\nquotas: { history: much }\n", `app.yaml:2:20: quotas.history: "much" is not a size`},
		{"quota history too small", "name: demo\nquotas: { history: 1MiB }\n", `app.yaml:2:20: quotas.history: 1 MiB is less than 2 MiB`},
		{"empty", "", "app.yaml: is empty; it needs at least the app's name"},
		{"not a mapping", "- demo\n", "app.yaml:1:1: want a mapping, got a list"},
		{"not YAML", "name: [demo\n", "app.yaml:1: not valid YAML: did not find expected ',' or ']'"},
		{"two documents", "name: demo\n---\nname: demo\n", "app.yaml:2:1: has more than one YAML document; remove the second ---"},
		{"too large", "name: demo\n" + strings.Repeat("#", MaxFileSize), "app.yaml: is larger than 1 MiB"},
		{"billion laughs", "name: demo\nx:\n" + billionLaughs("  ") + "roles: *a8\n", `app.yaml:2:1: unknown field "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newApp(t, "demo", map[string]string{"app.yaml": tt.manifest})
			_, err := Load(dir, Options{})
			var invalid *InvalidError
			if !errors.As(err, &invalid) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load error = %v; want an *InvalidError", err)
			}
			if got := invalid.Problems[0].Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("problem = %s\nwant %s…", got, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "loading app demo: ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

// billionLaughs returns a YAML block mapping, each line starting with
// indent, whose keys a0 to a8 hold values that expand to 10, 100, …, 10^9
// strings through aliases.
func billionLaughs(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "%sa%d: &a%d [", indent, i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestLoadManifestWarnings(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"app.yaml": "name: demo\nroles: [wizard]\npermissions: { http: [a.example, A.example] }\n",
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`app.yaml:2:9: roles[0]: unknown role "wizard": not a token role (admin, operator, viewer), nor required by any of routes:`,
		`app.yaml:3:34: permissions.http[1]: "A.example" is listed twice`,
		"config/tasks.yaml: not found; the app has no tasks of its own",
	}
	if got := problemsString(a.Warnings); got != problemsString(toProblems(want)) {
		t.Errorf("warnings:%s\nwant:%s", got, problemsString(toProblems(want)))
	}
	if got := a.Manifest.Permissions.HTTP; len(got) != 1 {
		t.Errorf("HTTP = %q; want the repeat dropped", got)
	}
}

func TestLoadTasksFileProblems(t *testing.T) {
	t.Parallel()
	many := "tasks:\n" + strings.Repeat("  - { name: t }\n", MaxTasks+1)
	tests := []struct {
		name  string
		tasks string
		want  string // the first problem
	}{
		{"not YAML", "tasks:\n  - name: [t\n", "config/tasks.yaml:1: not valid YAML: did not find expected ',' or ']'"},
		{"tab indentation", "tasks:\n\t- name: t\n", "config/tasks.yaml:2: not valid YAML: found character that cannot start any token"},
		{"a list", "- name: t\n", "config/tasks.yaml:1:1: want a mapping with a tasks list, got a list"},
		{"unknown field", "task:\n  - name: t\n", `config/tasks.yaml:1:1: unknown field "task"; the file holds only the tasks list`},
		{"tasks twice", "tasks: []\ntasks: []\n", `config/tasks.yaml:2:1: "tasks" is given twice (first on line 1)`},
		{"tasks not a list", "tasks: { name: t }\n", "config/tasks.yaml:1:8: tasks: want a list of tasks, got a mapping"},
		{"too many tasks", many, "config/tasks.yaml:2:3: tasks: has 10001 tasks, more than 10000"},
		{"too large", strings.Repeat("#", MaxFileSize+1), "config/tasks.yaml: is larger than 1 MiB"},
		{"alias for the list", "x: &x [{ name: t }]\ntasks: *x\n", `config/tasks.yaml:1:1: unknown field "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newApp(t, "demo", map[string]string{"config/tasks.yaml": tt.tasks})
			start := time.Now()
			_, err := Load(dir, Options{})
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("Load error = %v; want an *InvalidError", err)
			}
			if got := invalid.Problems[0].Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("problem = %s\nwant %s…", got, tt.want)
			}
			// Not a speed target: a bomb that is expanded takes hours, so
			// only a bound far above any loaded machine's time is checked.
			if d := time.Since(start); d > 2*time.Minute {
				t.Errorf("Load took %v: the document was expanded", d)
			}
		})
	}
}

// TestLoadAliasBomb checks that alias bombs stop with a problem that says
// why: the decoder's budget, or the size limit of the value they are in.
// The budget is what bounds the time; a bomb expanded in full would take
// minutes and hit the test's timeout, not a clock of its own, which a busy
// machine would trip.
func TestLoadAliasBomb(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, manifest, tasks, want string }{
		{"roles", "name: demo\nx:\n" + billionLaughs("  ") + "roles: *a8\n", "", "roles[0]: want a string, got a list"},
		{"config", "", "tasks:\n  - name: t\n    config:\n" + billionLaughs("      "), "tasks[0].config: is more than 1 MiB as JSON"},
		{"merge keys", "", "tasks:\n  - name: t\n    config:\n" + mergeBomb("      "), "expands to more than 1048576 values or 16 MiB of text"},
		{"merge keys in a map", "", "tasks:\n  - name: t\n    args:\n" + mergeBomb("      - ") +
			"  - name: u\n    environment: *m8\n", "expands to more than 1048576 values or 16 MiB of text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"config/tasks.yaml": tt.tasks}
			if tt.manifest != "" {
				files["app.yaml"] = tt.manifest
			}
			a, err := Load(newApp(t, "demo", files), Options{})
			var ps []Problem
			var invalid *InvalidError
			switch {
			case errors.As(err, &invalid):
				ps = invalid.Problems
			case err != nil:
				t.Fatal(err)
			default:
				ps = a.Errors
			}
			found := false
			for _, p := range ps {
				found = found || strings.Contains(p.Error(), tt.want)
			}
			if !found {
				t.Errorf("problems:%s\nwant one with %q", problemsString(ps), tt.want)
			}
		})
	}
}

// mergeBomb returns a YAML block mapping, each line starting with indent,
// whose keys m0 to m8 hold mappings that merge ten times the one before:
// small to write out, but 10^8 mappings to walk.
func mergeBomb(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "m0: &m0 {A: x}\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "%sm%d: &m%d {<<: [", indent, i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

func TestLoadEmptyTasksFile(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "# nothing yet\n", "tasks:\n", "tasks: []\n"} {
		dir := newApp(t, "demo", map[string]string{"config/tasks.yaml": content})
		a, err := Load(dir, Options{})
		if err != nil || len(a.Tasks) != 0 || len(a.Errors) != 0 {
			t.Errorf("%q: Load = %d tasks, errors%s, %v; want no tasks and no errors", content, len(a.Tasks), problemsString(a.Errors), err)
		}
	}
}

func TestLoadFailures(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "app.yaml")
	writeFile(t, outside, "name: demo\n")
	linked := newApp(t, "demo", map[string]string{"app.yaml": "name: x\n"})
	if err := os.Remove(filepath.Join(linked, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(linked, "app.yaml")); err != nil {
		t.Skipf("cannot make symlinks: %v", err)
	}
	notDir := filepath.Join(t.TempDir(), "demo")
	writeFile(t, notDir, "")

	noManifest := newApp(t, "demo", nil)
	if err := os.Remove(filepath.Join(noManifest, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	dirManifest := newApp(t, "demo", nil)
	if err := os.Remove(filepath.Join(dirManifest, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dirManifest, "app.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		dir     string
		invalid bool
		want    string
	}{
		{"no folder", filepath.Join(t.TempDir(), "gone"), false, "loading app gone: "},
		{"not a folder", notDir, false, "loading app demo: "},
		{"no app.yaml", noManifest, true, "loading app demo: app.yaml: not found; every app folder needs an app.yaml"},
		{"app.yaml a directory", dirManifest, true, "loading app demo: app.yaml: is not a regular file"},
		{"app.yaml linked out", linked, false, "loading app demo: openat app.yaml: path escapes from parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.dir, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || errors.Is(err, ErrInvalid) != tt.invalid {
				t.Errorf("Load error = %v; want %q… (invalid: %v)", err, tt.want, tt.invalid)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "gone"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing folder: %v; want fs.ErrNotExist", err)
	}
}

func TestLoadOtherLanguageSources(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml":          "tasks:\n  - name: c\n  - name: rust\n  - name: as\n  - name: web\n",
		"tasks/c/main.c":             "int main(void) { return 0; }\n",
		"tasks/rust/Cargo.toml":      "[package]\nname = \"rust\"\n",
		"tasks/rust/src/main.rs":     "fn main() {}\n",
		"tasks/rust.wasm":            wasmHeader,
		"tasks/as/package.json":      "{}\n",
		"tasks/as/assembly/index.ts": "\n",
		"tasks/web/package.json":     "{}\n",
	})
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "tasks/rust.wasm"), old, old); err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, lang := range map[string]string{"c": "C", "as": "AssemblyScript"} {
		task, _ := a.Task(name)
		if len(task.Errors) != 1 || !errors.Is(task.Errors[0], ErrNotBuilt) ||
			!strings.Contains(task.Errors[0].Error(), "build it from its "+lang+" source in tasks/"+name+"/") {
			t.Errorf("%s errors:%s; want one wrapping ErrNotBuilt naming its %s source", name, problemsString(task.Errors), lang)
		}
	}
	rust, _ := a.Task("rust")
	if !rust.Valid() || len(rust.Warnings) != 1 || !strings.Contains(rust.Warnings[0].Message, "older than its Rust source") {
		t.Errorf("rust errors:%s warnings:%s; want one warning about a stale module", problemsString(rust.Errors), problemsString(rust.Warnings))
	}
	web, _ := a.Task("web")
	if web.Source != "" || len(web.Errors) != 1 || errors.Is(web.Errors[0], ErrNotBuilt) {
		t.Errorf("web Source %q errors:%s; want a plain missing module (package.json alone is no task)", web.Source, problemsString(web.Errors))
	}
}

func TestTasksSharingAModule(t *testing.T) {
	t.Parallel()
	// The file system is asked once a load about a module the tasks
	// share; each task still gets the answer, its problems placed at its
	// own module field.
	dir := newApp(t, "shared", map[string]string{
		"tasks/t.wasm": wasmHeader,
		"config/tasks.yaml": `tasks:
  - name: a
    module: tasks/t.wasm
  - name: b
    module: tasks/t.wasm
  - name: c
    module: tasks/gone.wasm
  - name: d
    module: tasks/gone.wasm
`,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tasks) != 4 {
		t.Fatalf("%d tasks, want 4", len(a.Tasks))
	}
	want := filepath.Join(a.Dir, "tasks", "t.wasm")
	for _, task := range a.Tasks[:2] {
		if !task.Valid() || task.Module != want {
			t.Errorf("task %s: module %q, errors:%s; want %q, none", task.Name, task.Module, problemsString(task.Errors), want)
		}
	}
	for i, line := range []int{7, 9} {
		task := a.Tasks[2+i]
		if len(task.Errors) != 1 || task.Errors[0].Line != line || !strings.Contains(task.Errors[0].Message, `"tasks/gone.wasm" does not exist`) {
			t.Errorf("task %s errors:%s; want one, at line %d, that tasks/gone.wasm does not exist", task.Name, problemsString(task.Errors), line)
		}
	}
}

// TestLoadSharesCronText checks that the tasks that write the same cron
// expression share one copy of its text, as many tasks of a large home
// do, and that one written with spaces around it is the same expression.
func TestLoadSharesCronText(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": "tasks:\n" +
			"  - name: a\n    module: tasks/t.wasm\n    schedule: \"H H * * *\"\n" +
			"  - name: b\n    module: tasks/t.wasm\n    schedule: { cron: \" H H * * * \" }\n" +
			"  - name: c\n    module: tasks/t.wasm\n    schedule: \"H H * * 1\"\n",
		"tasks/t.wasm": wasmHeader,
	})
	a, err := Load(dir, Options{Schedules: new(schedule.Parser)})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tasks) != 3 || len(a.Errors) > 0 {
		t.Fatalf("%d tasks, errors:%s", len(a.Tasks), problemsString(a.Errors))
	}
	crons := []string{a.Tasks[0].Schedule.Cron, a.Tasks[1].Schedule.Cron, a.Tasks[2].Schedule.Cron}
	if crons[0] != "H H * * *" || crons[1] != crons[0] || crons[2] != "H H * * 1" {
		t.Fatalf("crons %q", crons)
	}
	if unsafe.StringData(crons[0]) != unsafe.StringData(crons[1]) {
		t.Error("two tasks of one cron expression hold a copy each")
	}
}
