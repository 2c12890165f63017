package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// recordRuns records finished runs of demo/hello with the given statuses,
// oldest first.
func recordRuns(t *testing.T, home string, statuses ...store.Status) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, s := range statuses {
		begin := start.Add(time.Duration(i) * time.Minute)
		id, err := st.StartRun(ctx, store.Run{App: "demo", Task: "hello", Status: store.StatusRunning, Trigger: store.TriggerSchedule, ScheduledTime: begin, StartTime: begin, ExitCode: -1})
		if err != nil {
			t.Fatal(err)
		}
		exit := 0
		if s != store.StatusSucceeded {
			exit = 1
		}
		if err := st.FinishRun(ctx, id, store.RunEnd{Status: s, EndTime: begin.Add(time.Second), Duration: time.Second, ExitCode: exit}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTask(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	recordRuns(t, home, store.StatusSucceeded, store.StatusFailed)

	type row struct {
		App, Task, LastStatus string
		Enabled               bool
		Errors                []string
	}
	list := func(t *testing.T) map[string]row {
		t.Helper()
		code, stdout, stderr := cli(t, "task", "list", "--home", home, "--json")
		if code != 0 {
			t.Fatalf("task list: exit %d: %s", code, stderr)
		}
		var rows []row
		if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
			t.Fatalf("task list --json: %v: %s", err, stdout)
		}
		m := map[string]row{}
		for _, r := range rows {
			m[r.App+"/"+r.Task] = r
		}
		return m
	}

	// serve records what it could not load; the list shows it.
	st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.SetLoadErrors(context.Background(), "demo", []store.LoadError{{Task: "spin", Message: "compiling module spin.wasm: invalid module"}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	rows := list(t)
	if len(rows) != 2 || rows["demo/hello"].LastStatus != "failed" || !rows["demo/hello"].Enabled || rows["demo/spin"].LastStatus != "" {
		t.Fatalf("task list = %+v", rows)
	}
	if errs := rows["demo/spin"].Errors; len(errs) != 1 || !strings.Contains(errs[0], "invalid module") || len(rows["demo/hello"].Errors) != 0 {
		t.Fatalf("task list errors = %+v", rows)
	}
	code, stdout, stderr := cli(t, "task", "list", "--home", home)
	if code != 0 || !strings.Contains(stdout, "demo/hello") || !strings.Contains(stdout, "@every 1s") || !strings.Contains(stdout, "failed") {
		t.Fatalf("task list: exit %d:\n%s%s", code, stdout, stderr)
	}

	tests := []struct {
		args    []string
		code    int
		out     string // substring of stdout, or of stderr when code != 0
		enabled bool   // demo/hello's state afterwards
	}{
		{args: []string{"task", "disable", "demo/hello", "--home", home}, out: "demo/hello disabled"},
		{args: []string{"task", "disable", "--home", home, "demo/hello"}, out: "demo/hello disabled"},
		{args: []string{"task", "enable", "demo/hello", "--home", home, "--json"}, out: `"enabled": true`, enabled: true},
		{args: []string{"task", "disable", "demo/nope", "--home", home}, code: 1, out: "no task demo/nope", enabled: true},
		{args: []string{"task", "disable", "demo", "--home", home}, code: exitUsage, out: "not APP/TASK", enabled: true},
		{args: []string{"task", "frobnicate", "--home", home}, code: exitUsage, out: "unknown subcommand", enabled: true},
		{args: []string{"task"}, code: exitUsage, out: "want list", enabled: true},
	}
	for _, tc := range tests {
		code, stdout, stderr := cli(t, tc.args...)
		out := stdout
		if tc.code != 0 {
			out = stderr
		}
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.out, stdout, stderr)
		}
		if got := list(t)["demo/hello"].Enabled; got != tc.enabled {
			t.Errorf("after %q: enabled = %v, want %v", tc.args, got, tc.enabled)
		}
	}
}

func TestRuns(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	recordRuns(t, home, store.StatusSucceeded, store.StatusFailed, store.StatusSucceeded)

	tests := []struct {
		args []string
		want []string // statuses, newest first
	}{
		{args: nil, want: []string{"succeeded", "failed", "succeeded"}},
		{args: []string{"--limit", "1"}, want: []string{"succeeded"}},
		{args: []string{"--status", "failed"}, want: []string{"failed"}},
		{args: []string{"--task", "demo/hello", "--status", "failed", "--status", "succeeded"}, want: []string{"succeeded", "failed", "succeeded"}},
		{args: []string{"--task", "demo/spin"}, want: []string{}},
		{args: []string{"--task", "other/hello"}, want: []string{}},
	}
	for _, tc := range tests {
		args := append([]string{"runs", "--home", home, "--json"}, tc.args...)
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, stderr)
			continue
		}
		var runs []struct{ Status string }
		if err := json.Unmarshal([]byte(stdout), &runs); err != nil {
			t.Errorf("%q: %v: %s", args, err, stdout)
			continue
		}
		got := []string{}
		for _, r := range runs {
			got = append(got, r.Status)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: statuses %v, want %v", args, got, tc.want)
		}
	}
	code, stdout, stderr := cli(t, "runs", "--home", home, "--status", "failed")
	if code != 0 || !strings.Contains(stdout, "demo/hello") || !strings.Contains(stdout, "failed") {
		t.Errorf("runs table: exit %d:\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := cli(t, "runs", "extra"); code != exitUsage {
		t.Errorf("runs extra: exit %d", code)
	}
}

func TestTaskTrigger(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	tests := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
		status string // of the recorded run, "" for none
	}{
		{args: []string{"demo/hello"}, stdout: "hello\n", stderr: "succeeded", status: "succeeded"},
		{args: []string{"demo/hello", "--json", "--input", `{"n":1}`}, stdout: `"trigger": "manual"`, status: "succeeded"},
		{args: []string{"demo/spin"}, code: 1, stderr: "timed_out", status: "timed_out"},
		{args: []string{"demo/nope"}, code: 1, stderr: "demo/nope: task not found"},
		{args: []string{"demo/hello", "--input", "{"}, code: exitUsage, stderr: "not valid JSON"},
	}
	for _, tc := range tests {
		args := append([]string{"task", "trigger", "--home", home}, tc.args...)
		code, stdout, stderr := cli(t, args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, want %d; stdout %q, stderr %q", args, code, tc.code, stdout, stderr)
		}
		if tc.status == "" {
			continue
		}
		_, out, _ := cli(t, "runs", "--home", home, "--json", "--limit", "1")
		var runs []runRow
		if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
			t.Fatalf("runs: %v: %s", err, out)
		}
		if r := runs[0]; r.Status != tc.status || r.Trigger != string(store.TriggerManual) || r.User == "" {
			t.Errorf("%q: recorded %+v, want a manual run %s", args, r, tc.status)
		}
		if tc.stdout == "hello\n" {
			// The run's usage is recorded with it.
			st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			u, err := st.RunUsage(context.Background(), runs[0].ID)
			st.Close()
			if err != nil || u.OutputBytes < int64(len("hello\n")) || u.CPUTime <= 0 || u.PeakMemory != runs[0].PeakMemory {
				t.Errorf("%q: usage %+v, %v", args, u, err)
			}
		}
	}
}

// TestTaskTriggerOutputAsScheduled checks that `task trigger` without a
// serve runs the task as the engine runs a scheduled run: its stored
// output is capped and marked exactly as the scheduled run's.
func TestTaskTriggerOutputAsScheduled(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := filepath.Join(home, "apps", "demo")
	mustWrite(t, filepath.Join(dir, "app.yaml"), []byte("name: demo\n"))
	mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
    schedule: "* * * * *"
    limits: { output: 4B }
`))
	mustWrite(t, filepath.Join(dir, "tasks", "hello.wasm"), wasmtest.Hello())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, rt := testenv.Open(t, home)
	clock := engine.NewFakeClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
	eng, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := eng.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	runs, err := st.ListRuns(ctx, store.RunFilter{Apps: []string{"demo"}, Task: "hello", Limit: 10})
	if err != nil || len(runs) != 1 || runs[0].Trigger != store.TriggerSchedule {
		t.Fatalf("scheduled runs %+v (%v), want one", runs, err)
	}
	scheduled, err := st.GetRun(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hell\n…[output truncated]"; scheduled.Output != want {
		t.Fatalf("scheduled run's output %q, want %q", scheduled.Output, want)
	}

	code, stdout, stderr := cli(t, "task", "trigger", "demo/hello", "--home", home, "--json")
	if code != 0 {
		t.Fatalf("task trigger: exit %d: %s%s", code, stdout, stderr)
	}
	var printed store.Run
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
		t.Fatalf("task trigger --json: %v: %s", err, stdout)
	}
	stored, err := st.GetRun(ctx, printed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Trigger != store.TriggerManual || stored.Output != scheduled.Output || printed.Output != scheduled.Output {
		t.Errorf("triggered run %s, output %q (printed %q); want a manual run with the scheduled run's output %q",
			stored.Trigger, stored.Output, printed.Output, scheduled.Output)
	}
}

// TestTaskListSkipsWhatTheEngineSkips checks that `task list` shows the
// tasks of the apps the engine loads: a folder whose name is not an app
// name is not an app.
func TestTaskListSkipsWhatTheEngineSkips(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	dir := filepath.Join(home, "apps", "Not An App")
	mustWrite(t, filepath.Join(dir, "app.yaml"), []byte("name: Not An App\n"))
	mustWrite(t, filepath.Join(dir, "config", "tasks.yaml"), []byte("tasks:\n  - name: hello\n"))
	mustWrite(t, filepath.Join(dir, "tasks", "hello.wasm"), wasmtest.Hello())
	code, stdout, stderr := cli(t, "task", "list", "--home", home, "--json")
	if code != 0 {
		t.Fatalf("task list: exit %d: %s", code, stderr)
	}
	var rows []struct{ App, Task string }
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("task list --json: %v: %s", err, stdout)
	}
	for _, r := range rows {
		if r.App != "demo" {
			t.Errorf("task list shows %s/%s; want only the tasks of demo", r.App, r.Task)
		}
	}
	if stderr != "" {
		t.Errorf("task list warns %q; want nothing for a folder that is not an app", stderr)
	}
}
