package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

func runTask(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "task")
	tg := targetFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	input := fs.String("input", "", "trigger: the run's input `JSON`")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.stderr, "cronbox task: want list, trigger, enable or disable; run `cronbox help task`")
		return exitUsage
	}
	sub, pos := pos[0], pos[1:]
	switch sub {
	case "list":
		if len(pos) != 0 {
			fmt.Fprintln(e.stderr, "cronbox task list: takes no arguments")
			return exitUsage
		}
		return withBackend(ctx, e, tg, func(b backend) error {
			rows, err := b.Tasks(ctx)
			if err != nil {
				return err
			}
			return printTasks(e.stdout, rows, *asJSON)
		})
	case "enable", "disable", "trigger":
		if len(pos) != 1 {
			fmt.Fprintf(e.stderr, "cronbox task %s: want one APP/TASK\n", sub)
			return exitUsage
		}
		appName, task, ok := strings.Cut(pos[0], "/")
		if !ok {
			fmt.Fprintf(e.stderr, "cronbox task %s: %q is not APP/TASK\n", sub, pos[0])
			return exitUsage
		}
		if sub != "trigger" {
			enabled := sub == "enable"
			return withBackend(ctx, e, tg, func(b backend) error {
				if err := b.SetTaskEnabled(ctx, appName, task, enabled); err != nil {
					return err
				}
				return printEnabled(e.stdout, appName, task, enabled, *asJSON)
			})
		}
		if *input != "" && !json.Valid([]byte(*input)) {
			fmt.Fprintln(e.stderr, "cronbox task trigger: --input: not valid JSON")
			return exitUsage
		}
		var in json.RawMessage
		if *input != "" {
			in = json.RawMessage(*input)
		}
		failed := false
		code := withBackend(ctx, e, tg, func(b backend) error {
			r, err := b.Trigger(ctx, e, appName, task, in)
			if err != nil {
				return err
			}
			failed = r.Status != string(store.StatusSucceeded)
			if *asJSON {
				return printJSON(e.stdout, r)
			}
			fmt.Fprint(e.stdout, r.Output)
			exit := -1
			if r.ExitCode != nil {
				exit = *r.ExitCode
			}
			why := r.Error
			if why == "" {
				why = r.Reason
			}
			fmt.Fprintf(e.stderr, "run %d of %s/%s: %s (exit %d) %s\n", r.ID, appName, task, r.Status, exit, why)
			return nil
		})
		if code == 0 && failed {
			code = 1
		}
		return code
	default:
		fmt.Fprintf(e.stderr, "cronbox task: unknown subcommand %q; want list, trigger, enable or disable\n", sub)
		return exitUsage
	}
}

// taskRow is one task as `task list` prints it.
type taskRow struct {
	App        string           `json:"app"`
	Task       string           `json:"task"`
	Schedule   app.ScheduleSpec `json:"schedule"`
	Enabled    bool             `json:"enabled"`
	Custom     bool             `json:"custom,omitempty"`
	Errors     []string         `json:"errors,omitempty"`
	LastStatus store.Status     `json:"lastStatus,omitempty"`
}

// loadTasks loads every app under home/apps and merges the store's
// overrides over their tasks, as the engine does. Apps that fail to load
// and overrides that cannot be read are reported to warn and left out.
func loadTasks(ctx context.Context, warn io.Writer, home string, st store.Overrides) ([]app.Task, error) {
	defs, err := engine.LoadDefinitions(ctx, home, st)
	if err != nil {
		return nil, err
	}
	for _, err := range defs.Unreadable {
		fmt.Fprintf(warn, "cronbox: %v\n", err)
	}
	names := make([]string, 0, len(defs.Failed))
	for name := range defs.Failed {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(warn, "cronbox: app %s: %v\n", name, defs.Failed[name])
	}
	return defs.Tasks, nil
}

// taskListStore is what task list reads: the overrides, the load errors
// and each task's last run.
type taskListStore interface {
	store.Overrides
	store.LoadErrors
	store.RunReader
}

// taskRows is the tasks of home as task list shows them: with their
// overrides, their problems and their last run's status.
func taskRows(ctx context.Context, warn io.Writer, home string, st taskListStore) ([]taskRow, error) {
	tasks, err := loadTasks(ctx, warn, home, st)
	if err != nil {
		return nil, err
	}
	// What a running (or the last) serve could not load, a module that
	// does not compile say, is in the store; the definitions' own
	// problems are found again here.
	loadErrs, err := st.LoadErrors(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]taskRow, 0, len(tasks))
	for _, t := range tasks {
		r := taskRow{App: t.App, Task: t.Name, Schedule: t.Schedule, Enabled: t.Enabled, Custom: t.Custom}
		for _, p := range t.Errors {
			r.Errors = append(r.Errors, p.Error())
		}
		for _, le := range loadErrs[t.App] {
			if le.Task == t.Name && len(t.Errors) == 0 {
				r.Errors = append(r.Errors, le.Message)
			}
		}
		last, err := st.ListRuns(ctx, store.RunFilter{Apps: []string{t.App}, Task: t.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			r.LastStatus = last[0].Status
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func printTasks(w io.Writer, rows []taskRow, asJSON bool) error {
	if asJSON {
		if rows == nil {
			rows = []taskRow{}
		}
		return printJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSCHEDULE\tENABLED\tLAST\tERRORS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s/%s\t%s\t%v\t%s\t%d\n", r.App, r.Task, scheduleText(r.Schedule), r.Enabled, orDash(string(r.LastStatus)), len(r.Errors))
	}
	return tw.Flush()
}

func scheduleText(s app.ScheduleSpec) string {
	switch {
	case s.Cron != "" && s.Timezone != "":
		return s.Cron + " (" + s.Timezone + ")"
	case s.Cron != "":
		return s.Cron
	case !s.At.IsZero():
		return "at " + s.At.Format("2006-01-02T15:04:05Z07:00")
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// setEnabled switches a task on or off in its stored override; enabling
// it clears its failures. It is used when no serve answers on the home's
// socket; a serve that runs the home all the same (it could not open the
// socket) applies the change at its next look at the overrides.
// overrideStore is what task enable and disable change: the override,
// and the failure count that enabling clears.
type overrideStore interface {
	store.Overrides
	store.Outcomes
}

func setEnabled(ctx context.Context, home string, st overrideStore, appName, task string, enabled bool) error {
	tasks, err := loadTasks(ctx, io.Discard, home, st)
	if err != nil {
		return err
	}
	found := false
	for _, t := range tasks {
		found = found || t.App == appName && t.Name == task
	}
	if !found {
		return fmt.Errorf("no task %s/%s in %s", appName, task, homedir.Home(home).Apps())
	}
	o := store.Override{App: appName, Task: task}
	stored, err := st.Overrides(ctx)
	if err != nil {
		return err
	}
	for _, s := range stored {
		if s.App == appName && s.Task == task {
			o = s
		}
	}
	o.Enabled = &enabled
	if err := st.PutOverride(ctx, o); err != nil {
		return err
	}
	if enabled {
		return st.ResetFailures(ctx, appName, task)
	}
	return nil
}

// printEnabled says that app/task is now enabled or disabled.
func printEnabled(stdout io.Writer, appName, task string, enabled, asJSON bool) error {
	if asJSON {
		return printJSON(stdout, map[string]any{"app": appName, "task": task, "enabled": enabled})
	}
	word := "disabled"
	if enabled {
		word = "enabled"
	}
	_, err := fmt.Fprintf(stdout, "%s/%s %s\n", appName, task, word)
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
