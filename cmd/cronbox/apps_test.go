package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cronbox/cronbox/engine/app"
)

// TestSampleApps checks that every app in the repository's apps folder
// loads without errors but for modules not built yet.
func TestSampleApps(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "apps")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	apps := 0
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		apps++
		a, err := app.Load(filepath.Join(dir, ent.Name()), app.Options{})
		if err != nil {
			t.Errorf("%s: %v", ent.Name(), err)
			continue
		}
		if len(a.Tasks) == 0 {
			t.Errorf("%s has no tasks", ent.Name())
		}
		for _, p := range a.Errors {
			if !errors.Is(p, app.ErrNotBuilt) {
				t.Errorf("%s: %v", ent.Name(), p)
			}
		}
		for _, p := range a.Warnings {
			t.Logf("%s: warning: %v", ent.Name(), p)
		}
	}
	if apps < 2 {
		t.Errorf("%d sample apps, want at least 2", apps)
	}
}
