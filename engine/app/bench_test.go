package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoad loads an app of 1000 tasks as a large home holds them:
// each task a few lines, with a staggered schedule and a shared module.
func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "bench")
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tasks"), 0o755); err != nil {
		b.Fatal(err)
	}
	var y strings.Builder
	y.WriteString("tasks:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  - name: t%d\n    schedule: \"H H * * *\"\n    module: tasks/t.wasm\n", i)
	}
	files := map[string]string{
		ManifestPath:   "name: bench\n",
		TasksPath:      y.String(),
		"tasks/t.wasm": "\x00asm\x01\x00\x00\x00",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		a, err := Load(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(a.Tasks) != 1000 || len(a.Errors) > 0 {
			b.Fatalf("Load = %d tasks, errors %v", len(a.Tasks), a.Errors)
		}
	}
}
