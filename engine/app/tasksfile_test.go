package app

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTasksFileRoundTrip(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	overrides := []Override{
		{App: "log-archiver", Task: "rotate", Deleted: true, UpdatedAt: t0},
		{App: "log-archiver", Task: "cleanup", Enabled: ptr(false), Schedule: &ScheduleSpec{Cron: "0 3 * * *"},
			Environment: map[string]string{"LOG_LEVEL": "DEBUG"}, UpdatedAt: t0.Add(time.Minute)},
		{App: "hello", Task: "greet", Schedule: &ScheduleSpec{Cron: "H * * * *", Timezone: "Europe/Berlin"}, UpdatedAt: t0},
		{App: "hello", Task: "once", Schedule: &ScheduleSpec{At: t0.Add(24 * time.Hour)}, UpdatedAt: t0},
		{App: "hello", Task: "manual", Schedule: &ScheduleSpec{}, UpdatedAt: t0},
		{App: "hello", Task: "limited", UpdatedAt: t0, Fields: &OverrideFields{
			Termination: &TerminationSpec{MaxRuntime: "30s"}, Limits: &LimitsSpec{Memory: "32MiB", Logs: "1KiB"},
			Retry: &RetrySpec{Max: 3}, Concurrency: "replace", Misfire: "run-once", MisfireWindow: "2h",
			Retention: &RetentionSpec{Keep: ptr(5)},
		}},
		{App: "hello", Task: "backup", UpdatedAt: t0, Custom: &TaskSpec{
			Description: "Back up",
			Enabled:     ptr(true),
			Schedule:    &ScheduleSpec{Cron: "@daily"},
			Module:      "tasks/backup.wasm",
			Args:        []string{"-v"},
			Termination: &TerminationSpec{MaxRuntime: "600", MaxFailures: 3, KillOnTimeout: ptr(false), HardLimit: "2h"},
			Limits:      &LimitsSpec{Memory: "64MiB", Output: "1MiB"},
			Retry:       &RetrySpec{Max: 2, Backoff: "30s", MaxBackoff: "10m"},
			Concurrency: "allow", Misfire: "run-once", MisfireWindow: "2h",
			After:       []string{"greet"},
			Environment: map[string]string{"A": "1"},
			Config:      json.RawMessage(`{"keep":[1,2],"deep":{"x":null}}`),
			Tags:        []string{"backup"},
			Retention:   &RetentionSpec{Keep: ptr(10), MaxAge: "24h"},
		}},
	}
	now := t0.Add(time.Hour)
	data, err := ExportTasksFile(overrides, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImportTasksFile(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	// Export orders by app and task.
	want := []Override{overrides[6], overrides[2], overrides[5], overrides[4], overrides[3], overrides[1], overrides[0]}
	if len(got) != len(want) {
		t.Fatalf("got %d overrides; want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Errorf("%s: UpdatedAt %v; want %v", w.Task, g.UpdatedAt, w.UpdatedAt)
		}
		if g.Schedule != nil && w.Schedule != nil && !g.Schedule.At.Equal(w.Schedule.At) {
			t.Errorf("%s: Schedule.At %v; want %v", w.Task, g.Schedule.At, w.Schedule.At)
		}
		g.UpdatedAt, w.UpdatedAt = time.Time{}, time.Time{}
		if g.Schedule != nil && w.Schedule != nil {
			gs, ws := *g.Schedule, *w.Schedule
			gs.At, ws.At = time.Time{}, time.Time{}
			g.Schedule, w.Schedule = &gs, &ws
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("override %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The original engine's form is what plain entries look like.
	for _, part := range []string{`"version": "1.0"`, `"lastModified": "2026-01-16T11:30:00Z"`, `"schedule": "0 3 * * *"`,
		`"appName": "log-archiver"`, `"schedule": ""`, `"custom": true`} {
		if !strings.Contains(string(data), part) {
			t.Errorf("export lacks %s:\n%s", part, data)
		}
	}
}

// TestImportOriginalTasksFile reads the tasks.json of the original engine's
// documentation.
func TestImportOriginalTasksFile(t *testing.T) {
	t.Parallel()
	got, err := ImportTasksFile([]byte(`{
  "version": "1.0",
  "lastModified": "2026-01-16T10:30:00Z",
  "tasks": [
    {
      "name": "AppName_MaintenanceTask",
      "appName": "AppName",
      "enabled": false,
      "schedule": "0 3 * * *",
      "environment": {
        "LOG_LEVEL": "DEBUG"
      }
    }
  ]
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Override{{
		App: "AppName", Task: "AppName_MaintenanceTask", Enabled: ptr(false),
		Schedule:    &ScheduleSpec{Cron: "0 3 * * *"},
		Environment: map[string]string{"LOG_LEVEL": "DEBUG"},
		UpdatedAt:   time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestImportTasksFileErrors(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string {
		return `{"version":"1.0","lastModified":"2026-01-16T10:30:00Z","tasks":[{"name":"t","appName":"a"` + fields + `}]}`
	}
	tests := []struct{ name, file, want string }{
		{"empty", ``, "not valid JSON: unexpected EOF"},
		{"not JSON", `{"version": 1.0,}`, "not valid JSON: invalid character '}'"},
		{"trailing data", `{"version":"1.0"} {}`, "unexpected data after the JSON value"},
		{"not an object", `[]`, "want a mapping, got a list"},
		{"no version", `{"tasks":[]}`, `version: is required: "1.0"`},
		{"other version", `{"version":"2.0","tasks":[]}`, `version: "2.0" is not supported; want "1.0"`},
		{"version a number", `{"version":1.0}`, ``}, // taken as written, like a number in YAML
		{"unknown top field", `{"version":"1.0","task":[]}`, `unknown field "task"; did you mean "tasks"?`},
		{"repeated field", `{"version":"1.0","version":"1.0"}`, `"version" is given twice`},
		{"bad time", `{"version":"1.0","lastModified":"yesterday"}`, `lastModified: want a time with a zone offset`},
		{"unknown entry field", entry(`,"enabeld":true`), `tasks[0]: unknown field "enabeld"; did you mean "enabled"?`},
		{"enabled a string", entry(`,"enabled":"no"`), `tasks[0].enabled: want true or false, got "no"`},
		{"unknown override field", entry(`,"fields":{"limits":{"cpu":1}}`), `tasks[0].fields.limits: unknown field "cpu"`},
		{"schedule a number", entry(`,"schedule":5`), ``},
		{"schedule unknown field", entry(`,"schedule":{"crom":"x"}`), `tasks[0].schedule: unknown field "crom"; did you mean "cron"?`},
		{"bad app name", `{"version":"1.0","tasks":[{"name":"t","appName":"a/b"}]}`, `tasks[0].appName: invalid name "a/b"`},
		{"no task name", `{"version":"1.0","tasks":[{"appName":"a"}]}`, `tasks[0].name: invalid name: empty`},
		{"twice", `{"version":"1.0","tasks":[{"name":"t","appName":"a"},{"name":"t","appName":"a"}]}`, `tasks[1]: a/t is already in tasks[0]`},
		{"bad environment", entry(`,"environment":{"A B":"x"}`), `tasks[0].environment.A B: environment variable name "A B" may hold only`},
		{"environment value", entry(`,"environment":{"A":1}`), ``},
		{"custom without definition", entry(`,"custom":true`), `tasks[0].definition: is required for a custom task`},
		{"definition without custom", entry(`,"definition":{"module":"x.wasm"}`), `tasks[0].definition: is only for custom tasks`},
		{"bad definition", entry(`,"custom":true,"definition":{"limits":{"memry":"1MiB"}}`), `tasks[0].definition.limits: unknown field "memry"; did you mean "memory"?`},
		{"definition of wrong kind", entry(`,"custom":true,"definition":[]`), `tasks[0].definition: want a mapping, got a list`},
		{"too deep", `{"version":"1.0","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "nested more than 100 levels deep"},
		{"too large", `{"version":"1.0","tasks":[` + strings.Repeat(" ", MaxTasksFileSize) + `]}`, "the file is larger than 16 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ImportTasksFile([]byte(tt.file))
			if tt.want == "" {
				if err != nil {
					t.Errorf("error %v; want none", err)
				}
				return
			}
			var invalid *InvalidError
			if !errors.As(err, &invalid) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v; want an *InvalidError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "importing tasks file: ") {
				t.Errorf("error %q; want importing tasks file: …%s…", err, tt.want)
			}
		})
	}
}

func TestExportTasksFileErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []Override{{App: "", Task: "t"}, {App: "a", Task: "b/c"}} {
		if _, err := ExportTasksFile([]Override{o}, time.Now()); err == nil {
			t.Errorf("ExportTasksFile(%+v) succeeded; want an error", o)
		}
	}
	// An override that changes nothing (a task that only ran) is left out.
	data, err := ExportTasksFile([]Override{{App: "lab", Task: "mem", UpdatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"version\": \"1.0\",\n  \"lastModified\": \"2026-01-01T00:00:00Z\",\n  \"tasks\": []\n}\n"; string(data) != want {
		t.Errorf("empty export = %s; want %s", data, want)
	}
}

func TestScheduleSpecJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		spec ScheduleSpec
		json string
	}{
		{ScheduleSpec{}, `""`},
		{ScheduleSpec{Cron: "@daily"}, `"@daily"`},
		{ScheduleSpec{Cron: "@daily", Timezone: "Europe/Berlin"}, `{"cron":"@daily","timezone":"Europe/Berlin"}`},
		{ScheduleSpec{At: at}, `{"at":"2026-12-01T10:00:00Z"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.spec)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.spec, b, err, tt.json)
		}
		var back ScheduleSpec
		if err := json.Unmarshal(b, &back); err != nil || !back.At.Equal(tt.spec.At) || back.Cron != tt.spec.Cron || back.Timezone != tt.spec.Timezone {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tt.spec)
		}
	}
	for _, bad := range []string{`{"cron":"x","tz":"UTC"}`, `[]`, `{"at":"tomorrow"}`, `{"cron":["x"]}`, `"x" 1`} {
		var s ScheduleSpec
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("Unmarshal(%s) succeeded; want an error", bad)
		}
	}
}

func TestTaskSpecJSON(t *testing.T) {
	t.Parallel()
	var spec TaskSpec
	err := json.Unmarshal([]byte(`{"name":"x","termination":{"maxRuntime":600,"killOnTimeout":false},"config":{"a":[1,2.5,"x",true,null]}}`), &spec)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Termination.MaxRuntime != "600" || *spec.Termination.KillOnTimeout || string(spec.Config) != `{"a":[1,2.5,"x",true,null]}` {
		t.Errorf("spec = %+v, termination %+v, config %s", spec, spec.Termination, spec.Config)
	}
	err = json.Unmarshal([]byte(`{"name":"x","limit":{}}`), &spec)
	if err == nil || !strings.Contains(err.Error(), `decoding task definition: unknown field "limit"; did you mean "limits"?`) {
		t.Errorf("unknown field: error %v", err)
	}
	// In an Override, which the store may keep as JSON.
	var o Override
	err = json.Unmarshal([]byte(`{"app":"a","task":"t","custom":{"module":"tasks/t.wasm","retry":{"max":"two"}}}`), &o)
	if err == nil || !strings.Contains(err.Error(), `retry.max: want a whole number, got "two"`) {
		t.Errorf("override: error %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	r := Retry{Max: 10, Backoff: 30 * time.Second, MaxBackoff: 5 * time.Minute}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := r.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v; want %v", i+1, got, w)
		}
	}
	if got := r.Delay(1 << 30); got != 5*time.Minute {
		t.Errorf("Delay(2^30) = %v; want the cap", got)
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "log-archiver", "Task_2", "9lives", strings.Repeat("x", 64)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	tests := []struct{ in, want string }{
		{"", "invalid name: empty"},
		{"-x", `invalid name "-x": must start with a letter or a digit`},
		{"_x", `invalid name "_x": must start with a letter or a digit`},
		{"a b", `invalid name "a b": only letters, digits, '-' and '_' are allowed, not ' '`},
		{"a.b", `not '.'`},
		{"a/b", `not '/'`},
		{"café", `not 'é'`},
		{"a\xff", `not '�'`},
		{strings.Repeat("x", 65), "longer than 64 characters"},
	}
	for _, tt := range tests {
		err := ValidName(tt.in)
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidName(%q) = %v; want …%s…", tt.in, err, tt.want)
		}
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "config/tasks.yaml", Line: 12, Column: 5, Field: "tasks[1].limits.memory", Message: `"lots" is not a size`},
			`config/tasks.yaml:12:5: tasks[1].limits.memory: "lots" is not a size`},
		{Problem{File: "app.yaml", Line: 3, Message: "bad"}, "app.yaml:3: bad"},
		{Problem{File: "app.yaml", Message: "bad"}, "app.yaml: bad"},
		{Problem{Field: "override[x].schedule", Message: "bad"}, "override[x].schedule: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error() = %q; want %q", got, tt.want)
		}
	}
	e := &InvalidError{What: "loading app x", Problems: []Problem{{Message: "a"}, {Message: "b"}, {Message: "c"}}}
	if got, want := e.Error(), "loading app x: a (and 2 more problems)"; got != want {
		t.Errorf("InvalidError = %q; want %q", got, want)
	}
}
