package app

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadFixture(t *testing.T) *App {
	t.Helper()
	a, err := Load("testdata/apps/log-archiver", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func names(tasks []Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.Name)
	}
	return out
}

func find(tasks []Task, name string) Task {
	for _, t := range tasks {
		if t.Name == name {
			return t
		}
	}
	return Task{}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	const app = "log-archiver"
	t0 := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name      string
		overrides []Override
		names     []string                         // the merged tasks
		check     func(t *testing.T, tasks []Task) // more checks, may be nil
		errs      []string                         // CheckOverrides errors, parts of
		warns     []string                         // CheckOverrides warnings, parts of
	}{
		{
			name:  "none",
			names: []string{"cleanup", "rotate", "report"},
		},
		{
			name:      "enabled",
			overrides: []Override{{App: app, Task: "cleanup", Enabled: ptr(false)}},
			names:     []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				c := find(tasks, "cleanup")
				if c.Enabled || !slices.Equal(c.Overridden, []string{"enabled"}) {
					t.Errorf("cleanup: Enabled %v, Overridden %q; want false, [enabled]", c.Enabled, c.Overridden)
				}
				if r := find(tasks, "rotate"); r.Overridden != nil {
					t.Errorf("rotate: Overridden %q; want none", r.Overridden)
				}
			},
		},
		{
			name:      "enabled to the same value",
			overrides: []Override{{App: app, Task: "rotate", Enabled: ptr(true)}},
			names:     []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				if r := find(tasks, "rotate"); !r.Enabled || !slices.Equal(r.Overridden, []string{"enabled"}) {
					t.Errorf("rotate: Enabled %v, Overridden %q; want true, [enabled]", r.Enabled, r.Overridden)
				}
			},
		},
		{
			name: "schedule",
			overrides: []Override{
				{App: app, Task: "cleanup", Schedule: &ScheduleSpec{Cron: "0 3 * * *"}},
				{App: app, Task: "rotate", Schedule: &ScheduleSpec{}},
			},
			names: []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				if c := find(tasks, "cleanup"); c.Schedule != (ScheduleSpec{Cron: "0 3 * * *"}) || !slices.Equal(c.Overridden, []string{"schedule"}) {
					t.Errorf("cleanup: Schedule %+v, Overridden %q; want the override's, whole", c.Schedule, c.Overridden)
				}
				if r := find(tasks, "rotate"); !r.Schedule.IsZero() || !r.Valid() {
					t.Errorf("rotate: Schedule %+v, errors%s; want none (manual only)", r.Schedule, problemsString(r.Errors))
				}
			},
		},
		{
			name: "bad schedule",
			overrides: []Override{
				{App: app, Task: "cleanup", Schedule: &ScheduleSpec{Cron: "never"}},
				{App: app, Task: "rotate", Schedule: &ScheduleSpec{Cron: "@daily", Timezone: "Nowhere/Land"}},
			},
			names: []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				for _, name := range []string{"cleanup", "rotate"} {
					if task := find(tasks, name); task.Valid() {
						t.Errorf("%s is valid; want the bad schedule to disable it", name)
					}
				}
			},
			errs: []string{
				`override[cleanup].schedule.cron: expected 5 or 6 fields, found 1 in "never"`,
				`override[rotate].schedule.timezone: unknown time zone "Nowhere/Land"`,
			},
		},
		{
			name:      "environment",
			overrides: []Override{{App: app, Task: "cleanup", Environment: map[string]string{"RETENTION_DAYS": "30", "LOG_LEVEL": "DEBUG"}}},
			names:     []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				want := map[string]string{"RETENTION_DAYS": "30", "DRY_RUN": "false", "LOG_LEVEL": "DEBUG"}
				if c := find(tasks, "cleanup"); !maps.Equal(c.Environment, want) || !slices.Equal(c.Overridden, []string{"environment"}) {
					t.Errorf("cleanup: Environment %v, Overridden %q; want %v, [environment]", c.Environment, c.Overridden, want)
				}
			},
		},
		{
			name:      "environment of a task without one",
			overrides: []Override{{App: app, Task: "rotate", Environment: map[string]string{"A": "1"}}},
			names:     []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				if r := find(tasks, "rotate"); !maps.Equal(r.Environment, map[string]string{"A": "1"}) {
					t.Errorf("rotate: Environment %v", r.Environment)
				}
			},
		},
		{
			name:      "bad environment",
			overrides: []Override{{App: app, Task: "rotate", Environment: map[string]string{"A-B": "1"}}},
			names:     []string{"cleanup", "rotate", "report"},
			errs:      []string{"override[rotate].environment.A-B: environment variable name"},
			warns:     []string{`tasks[0].after[0]: task "rotate" has errors and will not run`},
		},
		{
			name: "all fields",
			overrides: []Override{{App: app, Task: "cleanup", Enabled: ptr(false), Schedule: &ScheduleSpec{Cron: "@hourly"},
				Environment: map[string]string{"X": "1"}}},
			names: []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				if c := find(tasks, "cleanup"); !slices.Equal(c.Overridden, []string{"enabled", "schedule", "environment"}) {
					t.Errorf("cleanup: Overridden %q", c.Overridden)
				}
			},
		},
		{
			name:      "deleted",
			overrides: []Override{{App: app, Task: "rotate", Deleted: true, Enabled: ptr(true)}},
			names:     []string{"cleanup", "report"},
			check: func(t *testing.T, tasks []Task) {
				c := find(tasks, "cleanup")
				if !c.Valid() || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, `task "rotate" was deleted by an override`) {
					t.Errorf("cleanup: errors%s warnings%s; want a warning about rotate", problemsString(c.Errors), problemsString(c.Warnings))
				}
			},
			warns: []string{`config/tasks.yaml:16:13: tasks[0].after[0]: task "rotate" was deleted by an override`},
		},
		{
			name: "custom",
			overrides: []Override{
				{App: app, Task: "zip", Custom: &TaskSpec{Module: "tasks/rotate.wasm", After: []string{"cleanup"},
					Limits: &LimitsSpec{Memory: "128MiB"}}, Enabled: ptr(false)},
				{App: app, Task: "backup", Custom: &TaskSpec{Name: "backup", Module: "tasks/cleanup.wasm", Schedule: &ScheduleSpec{Cron: "@daily"}}},
			},
			names: []string{"cleanup", "rotate", "report", "backup", "zip"},
			check: func(t *testing.T, tasks []Task) {
				z := find(tasks, "zip")
				if !z.Custom || !z.Valid() || z.Enabled || z.Limits.Memory != 128<<20 || !slices.Equal(z.Overridden, []string{"enabled"}) ||
					z.App != app || !strings.HasSuffix(z.Module, "/tasks/rotate.wasm") {
					t.Errorf("zip = %+v", z)
				}
				if b := find(tasks, "backup"); !b.Custom || !b.Valid() || b.Schedule.Cron != "@daily" {
					t.Errorf("backup = %+v", b)
				}
			},
		},
		{
			name: "custom with problems",
			overrides: []Override{
				{App: app, Task: "big", Custom: &TaskSpec{Module: "tasks/rotate.wasm", Limits: &LimitsSpec{Memory: "1GiB"}}},
				{App: app, Task: "escape", Custom: &TaskSpec{Module: "../hello/tasks/greet.wasm"}},
				{App: app, Task: "absolute", Custom: &TaskSpec{Module: "/etc/passwd"}},
				{App: app, Task: "lonely", Custom: &TaskSpec{Module: "tasks/rotate.wasm", After: []string{"nobody"}}},
				{App: app, Task: "loop", Custom: &TaskSpec{Module: "tasks/rotate.wasm", After: []string{"loop2"}}},
				{App: app, Task: "loop2", Custom: &TaskSpec{Module: "tasks/rotate.wasm", After: []string{"loop"}}},
			},
			names: []string{"cleanup", "rotate", "report", "absolute", "big", "escape", "lonely", "loop", "loop2"},
			check: func(t *testing.T, tasks []Task) {
				for _, task := range tasks[3:] {
					if task.Valid() {
						t.Errorf("%s is valid", task.Name)
					}
				}
			},
			errs: []string{
				`override[absolute].custom.module: "/etc/passwd" is an absolute path`,
				"override[big].custom.limits.memory: 1 GiB is more than the app's memory quota, 512 MiB",
				`override[escape].custom.module: "../hello/tasks/greet.wasm" contains ".."`,
				`override[lonely].custom.after[0]: no task "nobody" in this app`,
				"override[loop].custom.after[0]: dependency cycle: loop → loop2 → loop",
				"override[loop2].custom.after[0]: dependency cycle: loop2 → loop → loop2",
			},
		},
		{
			name: "custom named wrong",
			overrides: []Override{
				{App: app, Task: "a", Custom: &TaskSpec{Name: "b", Module: "tasks/rotate.wasm"}},
				{App: app, Task: "bad name", Custom: &TaskSpec{Module: "tasks/rotate.wasm"}},
			},
			names: []string{"cleanup", "rotate", "report"},
			errs: []string{
				`override[a].custom.name: "b" differs from the task the override is for, "a"`,
				`override[bad name]: invalid name "bad name"`,
			},
		},
		{
			name:      "custom colliding with the file",
			overrides: []Override{{App: app, Task: "rotate", Custom: &TaskSpec{Module: "tasks/cleanup.wasm"}, Enabled: ptr(false)}},
			names:     []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				r := find(tasks, "rotate")
				if r.Custom || !strings.HasSuffix(r.Module, "/rotate.wasm") || r.Enabled || !r.Valid() {
					t.Errorf("rotate = %+v; want the file's, disabled by the override", r)
				}
			},
			errs:  []string{`override[rotate].custom: config/tasks.yaml already defines task "rotate"; rename the custom task`},
			warns: []string{`tasks[0].after[0]: task "rotate" is disabled`},
		},
		{
			name: "deleted custom",
			overrides: []Override{
				{App: app, Task: "zip", Deleted: true, Custom: &TaskSpec{Module: "tasks/rotate.wasm"}},
			},
			names: []string{"cleanup", "rotate", "report"},
		},
		{
			name: "no such task",
			overrides: []Override{
				{App: app, Task: "gone", Enabled: ptr(false)},
				{App: app, Task: "gone2", Deleted: true},
			},
			names: []string{"cleanup", "rotate", "report"},
			warns: []string{
				`override[gone]: config/tasks.yaml has no task "gone"; the override has no effect`,
				`override[gone2]: config/tasks.yaml has no task "gone2" to delete; the override has no effect`,
			},
		},
		{
			name:      "other app",
			overrides: []Override{{App: "hello", Task: "rotate", Deleted: true}, {App: "hello", Task: "x"}},
			names:     []string{"cleanup", "rotate", "report"},
		},
		{
			name: "latest wins",
			overrides: []Override{
				{App: app, Task: "rotate", Enabled: ptr(false), UpdatedAt: t0.Add(time.Hour)},
				{App: app, Task: "rotate", Deleted: true, UpdatedAt: t0},
				{App: app, Task: "cleanup", Enabled: ptr(false), UpdatedAt: t0},
				{App: app, Task: "cleanup", Enabled: ptr(true), UpdatedAt: t0},
			},
			names: []string{"cleanup", "rotate", "report"},
			check: func(t *testing.T, tasks []Task) {
				if r := find(tasks, "rotate"); r.Enabled {
					t.Error("rotate is enabled; want the later override, which disables it")
				}
				if c := find(tasks, "cleanup"); !c.Enabled {
					t.Error("cleanup is disabled; want the later of two equal times to win")
				}
			},
			warns: []string{`tasks[0].after[0]: task "rotate" is disabled`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := loadFixture(t)
			before := make([]Task, len(a.Tasks))
			for i, task := range a.Tasks {
				before[i] = exported(task)
				before[i].Environment = maps.Clone(task.Environment)
			}
			tasks := Merge(a, tt.overrides)
			if got := names(tasks); !slices.Equal(got, tt.names) {
				t.Fatalf("tasks %q; want %q", got, tt.names)
			}
			if tt.check != nil {
				tt.check(t, tasks)
			}
			errs, warns := CheckOverrides(a, tt.overrides)
			matchProblems(t, "errors", errs, tt.errs)
			matchProblems(t, "warnings", warns, tt.warns)
			for i, task := range a.Tasks {
				if !reflect.DeepEqual(exported(task), before[i]) {
					t.Errorf("Merge changed the app's task %s", task.Name)
				}
			}
		})
	}
}

// matchProblems checks that each problem contains the matching part of
// want, in order.
func matchProblems(t *testing.T, what string, got []Problem, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.Contains(got[i].Error(), want[i])
	}
	if !ok {
		t.Errorf("%s:%s\nwant:%s", what, problemsString(got), problemsString(toProblems(want)))
	}
}

// TestMergeKeepsTheFilesProblems checks that a task's errors from
// config/tasks.yaml stay after Merge, and dependency errors are not
// repeated.
func TestMergeKeepsTheFilesProblems(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": "tasks:\n  - { name: a, after: [b] }\n  - { name: b, after: [a], misfire: x }\n",
		"tasks/a.wasm":      wasmHeader,
		"tasks/b.wasm":      wasmHeader,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, overrides := range [][]Override{nil, {{App: "demo", Task: "a", Enabled: ptr(true)}}} {
		tasks := Merge(a, overrides)
		for i, task := range tasks {
			if got, want := problemsString(task.Errors), problemsString(a.Tasks[i].Errors); got != want {
				t.Errorf("%s errors:%s\nwant:%s", task.Name, got, want)
			}
		}
	}
	if len(a.Tasks[1].Errors) != 2 {
		t.Errorf("b errors:%s; want a cycle and a bad misfire", problemsString(a.Tasks[1].Errors))
	}
}

// TestMergeFields checks that an override's fields are applied and checked
// by the checker of config/tasks.yaml: a good value replaces the file's
// block, a bad one is the task's error with the message the file gets.
func TestMergeFields(t *testing.T) {
	t.Parallel()
	a := loadFixture(t)
	const app = "log-archiver"
	file := find(a.Tasks, "cleanup")
	good := Override{App: app, Task: "cleanup", Fields: &OverrideFields{
		Termination: &TerminationSpec{MaxRuntime: "30s", MaxFailures: 4},
		Limits:      &LimitsSpec{Memory: "32MiB", Logs: "2KiB"},
		Retry:       &RetrySpec{Max: 2, Backoff: "5s"},
		Concurrency: "allow",
		Misfire:     "run-once", MisfireWindow: "2h",
		Retention: &RetentionSpec{Keep: ptr(7), MaxAge: "48h"},
	}}
	tasks := Merge(a, []Override{good})
	got := find(tasks, "cleanup")
	if len(got.Errors) > 0 {
		t.Fatalf("good fields: errors %v", got.Errors)
	}
	if got.MaxRuntime != 30*time.Second || got.Limits.Timeout != 30*time.Second || got.MaxFailures != 4 ||
		got.Limits.Memory != 32<<20 || got.LogLimit != 2<<10 || got.Retry.Max != 2 || got.Retry.Backoff != 5*time.Second ||
		got.Concurrency != ConcurrencyAllow || got.Misfire != MisfireRunOnce || got.MisfireWindow != 2*time.Hour ||
		got.Retention.Keep != 7 || got.Retention.MaxAge != 48*time.Hour {
		t.Errorf("good fields not applied: %+v", got)
	}
	want := []string{"termination", "limits", "retry", "concurrency", "misfire", "retention"}
	if !slices.Equal(got.Overridden, want) {
		t.Errorf("Overridden = %v, want %v", got.Overridden, want)
	}
	if again := find(a.Tasks, "cleanup"); !reflect.DeepEqual(again.Overridden, file.Overridden) || again.Limits != file.Limits {
		t.Error("Merge changed the app's tasks")
	}

	// Each bad value: the file's checker gives the problem, under the
	// override's prefix, with the message tasks.yaml gets.
	bad := []struct {
		fields OverrideFields
		field  string
	}{
		{OverrideFields{Termination: &TerminationSpec{MaxFailures: -1}}, "termination.maxFailures"},
		{OverrideFields{Limits: &LimitsSpec{Memory: "1KiB"}}, "limits.memory"},
		{OverrideFields{Retry: &RetrySpec{Max: -1}}, "retry.max"},
		{OverrideFields{Concurrency: "sometimes"}, "concurrency"},
		{OverrideFields{Misfire: "later"}, "misfire"},
		{OverrideFields{Retention: &RetentionSpec{MaxAge: "soon"}}, "retention.maxAge"},
	}
	for _, b := range bad {
		o := Override{App: app, Task: "cleanup", Fields: &b.fields}
		errs, _ := CheckOverrides(a, []Override{o})
		if len(errs) != 1 || errs[0].Field != "override[cleanup]."+b.field {
			t.Errorf("%s: CheckOverrides errors = %v, want one at override[cleanup].%s", b.field, errs, b.field)
			continue
		}
		// The same block in a task of the file gets the same message.
		c := &checker{}
		x := newTaskContext(a.Dir, a.Manifest, a.opts)
		spec := TaskSpec{Name: "cleanup", Termination: b.fields.Termination, Limits: b.fields.Limits, Retry: b.fields.Retry,
			Concurrency: b.fields.Concurrency, Misfire: b.fields.Misfire, Retention: b.fields.Retention}
		x.task(c, spec)
		var fileMsg string
		for _, p := range c.errs {
			if p.Field == b.field {
				fileMsg = p.Message
			}
		}
		if fileMsg == "" || errs[0].Message != fileMsg {
			t.Errorf("%s: override message %q, tasks.yaml's %q", b.field, errs[0].Message, fileMsg)
		}
		if find(Merge(a, []Override{o}), "cleanup").Errors == nil {
			t.Errorf("%s: the merged task has no error", b.field)
		}
	}
}
