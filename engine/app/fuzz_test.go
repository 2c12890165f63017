package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/runtime"
)

// fuzzDeadline is how long one input may take before the fuzz test calls
// it a hang. Loading is meant to take milliseconds.
const fuzzDeadline = 5 * time.Second

// The seed corpora are in testdata/fuzz/<FuzzName>/.

func FuzzLoadTasksYAML(f *testing.F) {
	dir := f.TempDir()
	for p, content := range map[string]string{
		"tasks/t.wasm": wasmHeader, "tasks/u.wasm": wasmHeader, "tasks/cleanup.wasm": wasmHeader,
		"tasks/src/main.go": "package main\n",
	} {
		writeFile(f, filepath.Join(dir, filepath.FromSlash(p)), content)
	}
	manifest := Manifest{Name: "demo", Enabled: true, Permissions: Permissions{KV: true},
		Quotas: Quotas{Concurrency: DefaultConcurrency, Memory: DefaultQuotaMemory, KV: DefaultQuotaKV, Files: DefaultQuotaFiles, History: DefaultQuotaHistory}}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		a := &App{Dir: dir, Manifest: manifest}
		if fatal := a.loadTasks(data); len(fatal) > 0 {
			for _, p := range fatal {
				if p.File != TasksPath || p.Message == "" {
					t.Fatalf("bad file problem %#v", p)
				}
			}
			return
		}
		seen := make(map[string]bool)
		for _, task := range a.Tasks {
			if err := ValidName(task.Name); err != nil || seen[task.Name] {
				t.Fatalf("task name %q: %v, repeated %v", task.Name, err, seen[task.Name])
			}
			seen[task.Name] = true
			if !task.Valid() {
				continue
			}
			l := task.Limits
			if l.Memory < pageSize || l.Memory > runtime.MaxMemory || l.Output < 1 || l.Output > runtime.MaxOutput ||
				l.Timeout <= 0 || l.Timeout > runtime.MaxTimeout || l.Timeout != task.HardLimit || task.MaxRuntime > task.HardLimit ||
				task.LogLimit < 1 || task.LogLimit > MaxLogLimit {
				t.Fatalf("task %s: limits %+v, logs %d, maxRuntime %v, hardLimit %v", task.Name, l, task.LogLimit, task.MaxRuntime, task.HardLimit)
			}
			if !inside(dir, task.Module) {
				t.Fatalf("task %s: module %q outside %q", task.Name, task.Module, dir)
			}
			if !json.Valid(task.Config) || task.Config[0] != '{' {
				t.Fatalf("task %s: config %q", task.Name, task.Config)
			}
			if task.Retry.Max > 0 && task.Retry.Delay(task.Retry.Max) > task.Retry.MaxBackoff {
				t.Fatalf("task %s: retry %+v", task.Name, task.Retry)
			}
		}
		for _, p := range append(a.Errors, a.Warnings...) {
			if p.File != TasksPath || p.Message == "" || p.Field != "" && !strings.HasPrefix(p.Field, "tasks[") {
				t.Fatalf("bad problem %#v", p)
			}
		}
		Merge(a, []Override{{App: "demo", Task: "t", Deleted: true}})
		if d := time.Since(start); d > fuzzDeadline {
			t.Fatalf("took %v", d)
		}
	})
}

func FuzzLoadAppYAML(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		m, warnings, errs := loadManifest(data, "demo")
		for _, p := range append(errs, warnings...) {
			if p.File != ManifestPath || p.Message == "" {
				t.Fatalf("bad problem %#v", p)
			}
		}
		if len(errs) == 0 {
			q := m.Quotas
			if m.Name != "demo" || q.Concurrency < 1 || q.Concurrency > MaxConcurrency || q.Memory < pageSize || q.History < minQuotaHistory {
				t.Fatalf("manifest %+v", m)
			}
		}
		if d := time.Since(start); d > fuzzDeadline {
			t.Fatalf("took %v", d)
		}
	})
}

func FuzzImportTasksFile(f *testing.F) {
	now := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		overrides, err := ImportTasksFile(data)
		if err != nil {
			return
		}
		// What was imported exports, and exporting is stable from then on.
		first, err := ExportTasksFile(overrides, now)
		if err != nil {
			t.Fatalf("exporting what was imported: %v", err)
		}
		again, err := ImportTasksFile(first)
		if err != nil {
			t.Fatalf("importing what was exported: %v\n%s", err, first)
		}
		second, err := ExportTasksFile(again, now)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("export not stable:\n%s\n%s", first, second)
		}
		if d := time.Since(start); d > fuzzDeadline {
			t.Fatalf("took %v", d)
		}
	})
}
