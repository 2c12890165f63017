package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

func runRuns(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "runs")
	home := fs.String("home", ".", "the Cronbox `DIR`ectory")
	asJSON := fs.Bool("json", false, "print JSON")
	task := fs.String("task", "", "only the runs of `APP/TASK` (or of APP)")
	var statuses listFlag
	fs.Var(&statuses, "status", "only runs in `STATUS` (repeatable)")
	limit := fs.Int("limit", 20, "at most `N` runs, newest first")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 0 {
		fmt.Fprintln(e.stderr, "cronbox runs: takes no arguments; run `cronbox help runs`")
		return exitUsage
	}
	f := store.RunFilter{Limit: *limit}
	if *task != "" {
		appName, name, _ := strings.Cut(*task, "/")
		f.Apps, f.Task = []string{appName}, name
	}
	for _, s := range statuses {
		f.Statuses = append(f.Statuses, store.Status(s))
	}
	return withStore(ctx, e, *home, func(st *store.SQLite) error {
		runs, err := st.ListRuns(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			if runs == nil {
				runs = []store.Run{}
			}
			return printJSON(e.stdout, runs)
		}
		return printRuns(e.stdout, runs)
	})
}

func printRuns(w io.Writer, runs []store.Run) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTASK\tSTATUS\tTRIGGER\tSTARTED\tDURATION\tEXIT\tERROR")
	for _, r := range runs {
		errText := r.Error
		if r.Status == store.StatusSkipped {
			errText = r.Reason
		}
		if i := strings.IndexByte(errText, '\n'); i >= 0 {
			errText = errText[:i]
		}
		fmt.Fprintf(tw, "%d\t%s/%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.App, r.Task, r.Status, r.Trigger,
			r.StartTime.Local().Format(time.DateTime), r.Duration, r.ExitCode, errText)
	}
	return tw.Flush()
}
