package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
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
	apps, quickest := 0, time.Duration(0)
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
		for _, task := range a.Tasks {
			sched, err := schedule.Parse(schedule.Spec{Cron: task.Schedule.Cron, Timezone: task.Schedule.Timezone, At: task.Schedule.At}, task.Key())
			if err != nil || task.Schedule.Cron == "" {
				continue
			}
			first := sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			if gap := sched.Next(first).Sub(first); quickest == 0 || gap < quickest {
				quickest = gap
			}
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
	// A newcomer's first serve shows a run within seconds.
	if quickest == 0 || quickest > 15*time.Second {
		t.Errorf("the quickest sample task fires every %v; want one every 15s or faster", quickest)
	}
	if apps < 2 {
		t.Errorf("%d sample apps, want at least 2", apps)
	}
}
