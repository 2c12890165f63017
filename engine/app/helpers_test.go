package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wasmHeader is a module's first bytes; the package never reads further,
// so this is all a fake module needs.
const wasmHeader = "\x00asm\x01\x00\x00\x00"

// newApp writes an app folder named name in a temporary directory and
// returns its path. files maps slash paths to contents; an app.yaml naming
// the app is added unless files has one.
func newApp(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "apps", name)
	if _, ok := files["app.yaml"]; !ok {
		writeFile(t, filepath.Join(dir, "app.yaml"), "name: "+name+"\n")
	}
	for p, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), content)
	}
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exported returns t without its unexported fields, for comparisons.
func exported(t Task) Task {
	t.own, t.afterAt, t.file = problems{}, nil, ""
	return t
}

// findProblem returns the problem of ps at field, if any.
func findProblem(ps []Problem, field string) (Problem, bool) {
	for _, p := range ps {
		if p.Field == field {
			return p, true
		}
	}
	return Problem{}, false
}

// problemsString formats ps one per line, for failure messages.
func problemsString(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n\t" + p.Error())
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}
