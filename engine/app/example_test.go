package app_test

import (
	"errors"
	"fmt"

	"github.com/cronbox/cronbox/engine/app"
)

func ExampleLoad() {
	a, err := app.Load("testdata/apps/log-archiver", app.Options{})
	var invalid *app.InvalidError
	switch {
	case errors.As(err, &invalid):
		// Keep running the app's last good version, and show why.
		for _, p := range invalid.Problems {
			fmt.Println(p)
		}
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	for _, t := range a.Tasks {
		fmt.Printf("%s: schedule %q, timeout %v, memory %d MiB, runnable %v\n",
			t.Key(), t.Schedule.Cron, t.Limits.Timeout, t.Limits.Memory>>20, t.Valid())
	}
	// Output:
	// log-archiver/cleanup: schedule "H 1 * * *", timeout 2h0m0s, memory 64 MiB, runnable true
	// log-archiver/rotate: schedule "@every 5m", timeout 1m0s, memory 64 MiB, runnable true
	// log-archiver/report: schedule "", timeout 1m0s, memory 64 MiB, runnable true
}

func ExampleMerge() {
	a, err := app.Load("testdata/apps/log-archiver", app.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	off := false
	overrides := []app.Override{
		{App: "log-archiver", Task: "cleanup", Enabled: &off, Environment: map[string]string{"RETENTION_DAYS": "30"}},
		{App: "log-archiver", Task: "report", Deleted: true},
		{App: "log-archiver", Task: "compress", Custom: &app.TaskSpec{Module: "tasks/cleanup.wasm", After: []string{"cleanup"}}},
		{App: "log-archiver", Task: "gone", Enabled: &off},
	}
	for _, t := range app.Merge(a, overrides) {
		fmt.Printf("%s: enabled %v, custom %v, overridden %q, RETENTION_DAYS %q\n",
			t.Name, t.Enabled, t.Custom, t.Overridden, t.Environment["RETENTION_DAYS"])
	}
	_, warnings := app.CheckOverrides(a, overrides)
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	// Output:
	// cleanup: enabled false, custom false, overridden ["enabled" "environment"], RETENTION_DAYS "30"
	// rotate: enabled true, custom false, overridden [], RETENTION_DAYS ""
	// compress: enabled true, custom true, overridden [], RETENTION_DAYS ""
	// warning: override[compress].custom.after[0]: task "cleanup" is disabled, so it will not trigger this task
	// warning: override[gone]: config/tasks.yaml has no task "gone"; the override has no effect
}
