package app

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/runtime"
)

func TestLoadFullApp(t *testing.T) {
	t.Parallel()
	a, err := Load("testdata/apps/log-archiver", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Errors) > 0 || len(a.Warnings) > 0 {
		t.Fatalf("errors:%s\nwarnings:%s", problemsString(a.Errors), problemsString(a.Warnings))
	}
	dir, err := filepath.Abs("testdata/apps/log-archiver")
	if err != nil {
		t.Fatal(err)
	}
	if a.Dir != dir {
		t.Errorf("Dir = %q; want %q", a.Dir, dir)
	}
	wantManifest := Manifest{
		Name:        "log-archiver",
		Version:     "1.2.0",
		Description: "Archives and compresses old log files",
		Author:      "Cronbox authors",
		Enabled:     true,
		Roles:       []string{"operator"},
		Permissions: Permissions{HTTP: []string{"api.example.com", "*.example.org", "localhost:8080"}, Files: true, KV: true},
		Quotas:      Quotas{Concurrency: 2, Memory: 512 << 20, KV: 16 << 20, Files: 2 << 30, History: 512 << 20},
	}
	if !reflect.DeepEqual(a.Manifest, wantManifest) {
		t.Errorf("Manifest =\n%+v\nwant\n%+v", a.Manifest, wantManifest)
	}
	wantTasks := []Task{{
		App:           "log-archiver",
		Name:          "cleanup",
		Description:   "Archive and compress old log files",
		Enabled:       true,
		Schedule:      ScheduleSpec{Cron: "H 1 * * *", Timezone: "Europe/Berlin"},
		Module:        filepath.Join(dir, "tasks", "cleanup.wasm"),
		Args:          []string{"--verbose"},
		MaxRuntime:    10 * time.Minute,
		MaxFailures:   2,
		KillOnTimeout: false,
		HardLimit:     2 * time.Hour,
		Limits:        runtime.Limits{Memory: 64 << 20, Timeout: 2 * time.Hour, Output: 1 << 20},
		LogLimit:      2 << 20,
		Retry:         Retry{Max: 2, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute},
		Concurrency:   ConcurrencyReplace,
		Misfire:       MisfireRunOnce,
		MisfireWindow: 2 * time.Hour,
		After:         []string{"rotate"},
		Environment:   map[string]string{"RETENTION_DAYS": "90", "DRY_RUN": "false"},
		Config:        json.RawMessage(`{"paths":["/var/log/app","/var/log/web"],"keep":3,"compress":{"level":9}}`),
		Tags:          []string{"cleanup", "archival"},
		Retention:     Retention{Keep: 500, MaxAge: 720 * time.Hour},
	}, {
		App:           "log-archiver",
		Name:          "rotate",
		Enabled:       true,
		Schedule:      ScheduleSpec{Cron: "@every 5m"},
		Module:        filepath.Join(dir, "tasks", "rotate.wasm"),
		MaxRuntime:    time.Minute,
		KillOnTimeout: true,
		HardLimit:     time.Minute,
		Limits:        runtime.Limits{Memory: 64 << 20, Timeout: time.Minute, Output: 1 << 20},
		LogLimit:      DefaultLogLimit,
		Retry:         Retry{Backoff: 30 * time.Second, MaxBackoff: time.Hour},
		Concurrency:   ConcurrencyForbid,
		Misfire:       MisfireSkip,
		MisfireWindow: time.Hour,
		Config:        json.RawMessage(`{}`),
		Retention:     Retention{Keep: 1000},
	}, {
		App:           "log-archiver",
		Name:          "report",
		Enabled:       true,
		Schedule:      ScheduleSpec{At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		Module:        filepath.Join(dir, "tasks", "rotate.wasm"),
		MaxRuntime:    time.Minute,
		KillOnTimeout: true,
		HardLimit:     time.Minute,
		Limits:        runtime.Limits{Memory: 64 << 20, Timeout: time.Minute, Output: 1 << 20},
		LogLimit:      2 << 20,
		Retry:         Retry{Backoff: 30 * time.Second, MaxBackoff: time.Hour},
		Concurrency:   ConcurrencyForbid,
		Misfire:       MisfireSkip,
		MisfireWindow: time.Hour,
		Environment:   map[string]string{"LEVEL": "debug", "FORMAT": "text"},
		Config:        json.RawMessage(`{}`),
		Retention:     Retention{Keep: 1000},
	}}
	if len(a.Tasks) != len(wantTasks) {
		t.Fatalf("got %d tasks; want %d", len(a.Tasks), len(wantTasks))
	}
	for i, want := range wantTasks {
		got := exported(a.Tasks[i])
		if !got.Schedule.At.Equal(want.Schedule.At) {
			t.Errorf("task %s: Schedule.At = %v; want %v", want.Name, got.Schedule.At, want.Schedule.At)
		}
		got.Schedule.At, want.Schedule.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("task %d =\n%+v\nwant\n%+v", i, got, want)
		}
	}
	if got, ok := a.Task("rotate"); !ok || got.Key() != "log-archiver/rotate" || !got.Valid() {
		t.Errorf("Task(rotate) = %q, %v, valid %v", got.Key(), ok, got.Valid())
	}
	if _, ok := a.Task("nope"); ok {
		t.Error("Task(nope) found a task")
	}
}

// TestLoadDefaults checks every default of app.yaml and of a task.
func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"config/tasks.yaml": "tasks:\n  - name: t\n",
		"tasks/t.wasm":      wasmHeader,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantManifest := Manifest{
		Name: "demo", Enabled: true,
		Permissions: Permissions{KV: true},
		Quotas:      Quotas{Concurrency: DefaultConcurrency, Memory: DefaultQuotaMemory, KV: DefaultQuotaKV, Files: DefaultQuotaFiles, History: DefaultQuotaHistory},
	}
	if !reflect.DeepEqual(a.Manifest, wantManifest) {
		t.Errorf("Manifest = %+v; want %+v", a.Manifest, wantManifest)
	}
	want := Task{
		App:           "demo",
		Name:          "t",
		Enabled:       true,
		Module:        filepath.Join(a.Dir, "tasks", "t.wasm"),
		MaxRuntime:    runtime.DefaultTimeout,
		KillOnTimeout: true,
		HardLimit:     runtime.DefaultTimeout,
		Limits:        runtime.Limits{Memory: runtime.DefaultMemory, Timeout: runtime.DefaultTimeout, Output: runtime.DefaultOutput},
		LogLimit:      DefaultLogLimit,
		Retry:         Retry{Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff},
		Concurrency:   ConcurrencyForbid,
		Misfire:       MisfireSkip,
		MisfireWindow: DefaultMisfireWindow,
		Config:        json.RawMessage("{}"),
		Retention:     Retention{Keep: DefaultKeep},
	}
	if len(a.Tasks) != 1 || !reflect.DeepEqual(exported(a.Tasks[0]), want) {
		t.Fatalf("Tasks = %+v; want [%+v]", a.Tasks, want)
	}
	if len(a.Errors)+len(a.Warnings) > 0 {
		t.Errorf("problems:%s%s", problemsString(a.Errors), problemsString(a.Warnings))
	}
}

// TestLoadDefaultsFollowLimits checks that defaults never exceed the
// ceiling and the app's memory quota.
func TestLoadDefaultsFollowLimits(t *testing.T) {
	t.Parallel()
	dir := newApp(t, "demo", map[string]string{
		"app.yaml":          "name: demo\nquotas: { memory: 16MiB }\n",
		"config/tasks.yaml": "tasks:\n  - name: t\n    termination: { killOnTimeout: false }\n",
		"tasks/t.wasm":      wasmHeader,
	})
	a, err := Load(dir, Options{Ceiling: runtime.Limits{Timeout: 30 * time.Second, Output: 1 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.Limits{Memory: 16 << 20, Timeout: 30 * time.Second, Output: 1 << 10}
	if got := a.Tasks[0].Limits; got != want {
		t.Errorf("Limits = %+v; want %+v", got, want)
	}
	if got := a.Tasks[0].MaxRuntime; got != 30*time.Second {
		t.Errorf("MaxRuntime = %v; want 30s", got)
	}
}

// taskHeader starts the tasks.yaml of the problem tables: task t is on
// line 2, its fields from line 3, indented by four spaces.
const taskHeader = "tasks:\n  - name: t\n"

func TestLoadTaskProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tasks     string // config/tasks.yaml
		field     string
		line, col int
		msg       string // a part of the message
		warning   bool
	}{
		{"unknown field", taskHeader + "    shedule: \"@daily\"\n", "tasks[0]", 3, 5, `unknown field "shedule"; did you mean "schedule"?`, false},
		{"unknown field, no suggestion", taskHeader + "    xyzzy: 1\n", "tasks[0]", 3, 5, `unknown field "xyzzy"; known fields: after, args,`, false},
		{"unknown nested field", taskHeader + "    limits: { memroy: 64MiB }\n", "tasks[0].limits", 3, 15, `did you mean "memory"?`, false},
		{"repeated field", taskHeader + "    enabled: true\n    enabled: false\n", "tasks[0]", 4, 5, `"enabled" is given twice (first on line 3)`, false},
		{"bool of wrong kind", taskHeader + "    enabled: yes\n", "tasks[0].enabled", 3, 14, `want true or false, got "yes"`, false},
		{"string of wrong kind", taskHeader + "    description: [a]\n", "tasks[0].description", 3, 18, "want a string, got a list", false},
		{"list of wrong kind", taskHeader + "    args: --verbose\n", "tasks[0].args", 3, 11, `want a list, got "--verbose"`, false},
		{"mapping of wrong kind", taskHeader + "    limits: 64MiB\n", "tasks[0].limits", 3, 13, `want a mapping, got "64MiB"`, false},
		{"arg with NUL", taskHeader + "    args: [\"a\\0b\"]\n", "tasks[0].args[0]", 3, 12, "NUL", false},
		{"task not a mapping", "tasks:\n  - cleanup\n", "tasks[0]", 2, 5, `want a mapping, got "cleanup"`, false},
		{"name missing", "tasks:\n  - description: x\n", "tasks[0].name", 2, 5, "is required", false},
		{"name invalid", "tasks:\n  - name: bad name\n", "tasks[0].name", 2, 11, `only letters, digits, '-' and '_' are allowed, not ' '`, false},
		{"name too long", "tasks:\n  - name: " + strings.Repeat("a", 65) + "\n", "tasks[0].name", 2, 11, "longer than 64", false},
		{"name repeated", taskHeader + "  - name: t\n", "tasks[1].name", 3, 11, `"t" is already the name of tasks[0] (line 2)`, false},
		{"cron and at", taskHeader + "    schedule: { cron: \"@daily\", at: 2026-01-01T00:00:00Z }\n", "tasks[0].schedule", 3, 15, "either cron or at", false},
		{"blank cron", taskHeader + "    schedule: { cron: \" \" }\n", "tasks[0].schedule.cron", 3, 23, "is blank", false},
		{"timezone without cron", taskHeader + "    schedule: { timezone: UTC }\n", "tasks[0].schedule.timezone", 3, 27, "applies only to cron", false},
		{"unknown timezone", taskHeader + "    schedule: { cron: \"@daily\", timezone: Mars/Olympus }\n", "tasks[0].schedule.timezone", 3, 43, `unknown time zone "Mars/Olympus"`, false},
		{"at without zone", taskHeader + "    schedule: { at: \"2026-12-01T10:00:00\" }\n", "tasks[0].schedule.at", 3, 21, "want a time with a zone offset", false},
		{"module absolute", taskHeader + "    module: /etc/passwd\n", "tasks[0].module", 3, 13, "is an absolute path", false},
		{"module with ..", taskHeader + "    module: ../x.wasm\n", "tasks[0].module", 3, 13, `contains ".."`, false},
		{"module with inner ..", taskHeader + "    module: tasks/../../x.wasm\n", "tasks[0].module", 3, 13, `contains ".."`, false},
		{"module with a non-ASCII name", taskHeader + "    module: tasks/caf\u00e9.wasm\n", "tasks[0].module", 3, 13, `"tasks/caf\u00e9.wasm" holds the non-ASCII character 'é' (U+00E9); file and folder names in an app may hold only printable ASCII`, false},
		{"module with a bidirectional override", taskHeader + "    module: \"tasks/x\\u202egpj.wasm\"\n", "tasks[0].module", 3, 13, `"tasks/x\u202egpj.wasm" holds an invisible formatting character (U+202E`, false},
		{"module not wasm", taskHeader + "    module: tasks/t.go\n", "tasks[0].module", 3, 13, "is not a .wasm file", false},
		{"module missing", taskHeader + "    module: tasks/gone.wasm\n", "tasks[0].module", 3, 13, `"tasks/gone.wasm" does not exist`, false},
		{"default module missing", "tasks:\n  - name: gone\n", "tasks[0].module", 2, 5, `"tasks/gone.wasm" does not exist`, false},
		{"module a directory", taskHeader + "    module: tasks/dir.wasm\n", "tasks[0].module", 3, 13, "is not a regular file", false},
		{"maxRuntime not a duration", taskHeader + "    termination: { maxRuntime: soon }\n", "tasks[0].termination.maxRuntime", 3, 32, `"soon" is not a duration; want a duration such as 30s, 5m or 1h30m, or a whole number of seconds`, false},
		{"maxRuntime zero", taskHeader + "    termination: { maxRuntime: 0 }\n", "tasks[0].termination.maxRuntime", 3, 32, `"0" is not positive`, false},
		{"maxRuntime above ceiling", taskHeader + "    termination: { maxRuntime: 25h }\n", "tasks[0].termination.maxRuntime", 3, 32, "25h0m0s is more than the longest a run may take, 24h0m0s", false},
		{"maxFailures not a number", taskHeader + "    termination: { maxFailures: lots }\n", "tasks[0].termination.maxFailures", 3, 33, `want a whole number, got "lots"`, false},
		{"maxFailures negative", taskHeader + "    termination: { maxFailures: -1 }\n", "tasks[0].termination.maxFailures", 3, 33, "is negative", false},
		{"hardLimit below maxRuntime", taskHeader + "    termination: { maxRuntime: 1h, killOnTimeout: false, hardLimit: 30m }\n", "tasks[0].termination.hardLimit", 3, 69, "30m0s is shorter than maxRuntime 1h0m0s", false},
		{"hardLimit while killing", taskHeader + "    termination: { hardLimit: 2h }\n", "tasks[0].termination.hardLimit", 3, 31, "has no effect while killOnTimeout is true", true},
		{"memory not a size", taskHeader + "    limits: { memory: lots }\n", "tasks[0].limits.memory", 3, 23, `"lots" is not a size`, false},
		{"memory below a page", taskHeader + "    limits: { memory: 1KiB }\n", "tasks[0].limits.memory", 3, 23, "1 KiB is less than one 64 KiB page", false},
		{"memory above ceiling", taskHeader + "    limits: { memory: 8GiB }\n", "tasks[0].limits.memory", 3, 23, "8 GiB is more than the most a run may have, 4 GiB", false},
		{"memory above quota", taskHeader + "    limits: { memory: 2GiB }\n", "tasks[0].limits.memory", 3, 23, "2 GiB is more than the app's memory quota, 1 GiB", false},
		{"output zero", taskHeader + "    limits: { output: 0 }\n", "tasks[0].limits.output", 3, 23, "must be more than 0 B", false},
		{"output above ceiling", taskHeader + "    limits: { output: 128MiB }\n", "tasks[0].limits.output", 3, 23, "128 MiB is more than the most a run may keep, 64 MiB", false},
		{"logs zero", taskHeader + "    limits: { logs: 0 }\n", "tasks[0].limits.logs", 3, 21, "must be more than 0 B", false},
		{"logs above ceiling", taskHeader + "    limits: { logs: 65MiB }\n", "tasks[0].limits.logs", 3, 21, "65 MiB is more than the most a run may keep, 64 MiB", false},
		{"logs not a size", taskHeader + "    limits: { logs: lots }\n", "tasks[0].limits.logs", 3, 21, "is not a size", false},
		{"retry max too large", taskHeader + "    retry: { max: 101 }\n", "tasks[0].retry.max", 3, 19, "101 is outside 0..100", false},
		{"retry backoff bad", taskHeader + "    retry: { max: 1, backoff: 5 }\n", "tasks[0].retry.backoff", 3, 31, `"5" is not a duration; want a duration such as 30s, 5m or 1h30m`, false},
		{"retry backoff too long", taskHeader + "    retry: { max: 1, backoff: 48h }\n", "tasks[0].retry.backoff", 3, 31, "48h0m0s is more than 24h0m0s", false},
		{"retry maxBackoff below backoff", taskHeader + "    retry: { max: 1, backoff: 2m, maxBackoff: 1m }\n", "tasks[0].retry.maxBackoff", 3, 47, "1m0s is shorter than backoff 2m0s", false},
		{"retry backoff without max", taskHeader + "    retry: { backoff: 1m }\n", "tasks[0].retry", 3, 12, "has no effect while max is 0", true},
		{"concurrency unknown", taskHeader + "    concurrency: sometimes\n", "tasks[0].concurrency", 3, 18, `"sometimes" is not a policy; want allow, forbid (the default) or replace`, false},
		{"misfire unknown", taskHeader + "    misfire: later\n", "tasks[0].misfire", 3, 14, `"later" is not a policy; want skip (the default) or run-once`, false},
		{"misfireWindow too long", taskHeader + "    misfire: run-once\n    misfireWindow: 30d\n", "tasks[0].misfireWindow", 4, 20, `"30d" is not a duration`, false},
		{"misfireWindow without run-once", taskHeader + "    misfireWindow: 2h\n", "tasks[0].misfireWindow", 3, 20, "has no effect unless misfire is run-once", true},
		{"after unknown", taskHeader + "    after: [rotate]\n", "tasks[0].after[0]", 3, 13, `no task "rotate" in this app`, false},
		{"after itself", taskHeader + "    after: [t]\n", "tasks[0].after[0]", 3, 13, "cannot run after itself", false},
		{"after other app", taskHeader + "    after: [other/x]\n", "tasks[0].after[0]", 3, 13, "only run after tasks of its own app", false},
		{"after twice", taskHeader + "    after: [u, u]\n  - name: u\n", "tasks[0].after[1]", 3, 16, `"u" is listed twice`, true},
		{"after disabled task", taskHeader + "    after: [u]\n  - name: u\n    enabled: false\n", "tasks[0].after[0]", 3, 13, `task "u" is disabled`, true},
		{"after broken task", taskHeader + "    after: [u]\n  - name: u\n    misfire: x\n", "tasks[0].after[0]", 3, 13, `task "u" has errors and will not run`, true},
		{"environment name", taskHeader + "    environment: { 1X: a }\n", "tasks[0].environment.1X", 3, 24, "must not start with a digit", false},
		{"environment name character", taskHeader + "    environment: { A-B: a }\n", "tasks[0].environment.A-B", 3, 25, "may hold only letters, digits and '_'", false},
		{"environment value", taskHeader + "    environment: { A: { b: c } }\n", "tasks[0].environment.A", 3, 23, "want a string, got a mapping", false},
		{"config a list", taskHeader + "    config: [1, 2]\n", "tasks[0].config", 3, 13, `want a mapping (a JSON object), got "[1,2]"`, false},
		{"config infinite", taskHeader + "    config: { x: .inf }\n", "tasks[0].config.x", 3, 18, `".inf" cannot be written as a JSON number`, false},
		{"config alias in itself", taskHeader + "    config: &c { x: *c }\n", "tasks[0].config.x.x", 3, 21, "alias *c is used inside the value it names", false},
		{"config too deep", taskHeader + "    config: " + strings.Repeat("[", 120) + strings.Repeat("]", 120) + "\n", "tasks[0].config" + strings.Repeat("[0]", 99), 3, 112, "nested more than 100 levels deep", false},
		{"tag invalid", taskHeader + "    tags: [a b]\n", "tasks[0].tags[0]", 3, 12, "only letters, digits", false},
		{"tag twice", taskHeader + "    tags: [a, a]\n", "tasks[0].tags[1]", 3, 15, `"a" is listed twice`, true},
		{"retention keep zero", taskHeader + "    retention: { keep: 0 }\n", "tasks[0].retention.keep", 3, 24, "0 is outside 1..1000000", false},
		{"retention maxAge bad", taskHeader + "    retention: { maxAge: forever }\n", "tasks[0].retention.maxAge", 3, 26, `"forever" is not a duration`, false},
		{"merge key not a mapping", taskHeader + "    environment: { <<: [a] }\n", "tasks[0].environment", 3, 25, `want a mapping to merge (<<), got "a"`, false},
		{"unknown alias target kind", taskHeader + "    limits: &l { memory: 1MiB }\n    retry: *l\n", "tasks[0].retry", 3, 18, `unknown field "memory"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newApp(t, "demo", map[string]string{
				"config/tasks.yaml": tt.tasks,
				"tasks/t.wasm":      wasmHeader,
				"tasks/u.wasm":      wasmHeader,
				"tasks/dir.wasm/x":  "",
			})
			a, err := Load(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ps := a.Errors
			if tt.warning {
				ps = a.Warnings
			}
			p, ok := findProblem(ps, tt.field)
			if !ok {
				t.Fatalf("no problem at %s; errors:%s\nwarnings:%s", tt.field, problemsString(a.Errors), problemsString(a.Warnings))
			}
			if p.File != TasksPath || p.Line != tt.line || p.Column != tt.col || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("problem = %v\nwant %s:%d:%d: %s: …%s…", p, TasksPath, tt.line, tt.col, tt.field, tt.msg)
			}
			if tt.warning {
				for _, e := range a.Errors {
					if strings.HasPrefix(e.Field, "tasks[0]") {
						t.Errorf("unexpected error: %v", e)
					}
				}
			}
			if !tt.warning {
				// The problem disables its task, which stays listed if it
				// has a name of its own.
				for _, task := range a.Tasks {
					if strings.HasPrefix(tt.field, "tasks[0]") && task.Name == "t" && task.Valid() {
						t.Errorf("task t is valid despite %v", p)
					}
				}
			}
		})
	}
}
