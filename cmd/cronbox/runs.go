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
	tg := targetFlags(fs)
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
	q := runQuery{Limit: *limit}
	if *task != "" {
		q.App, q.Task, _ = strings.Cut(*task, "/")
	}
	for _, s := range statuses {
		q.Statuses = append(q.Statuses, store.Status(s))
	}
	return withBackend(ctx, e, tg, func(b backend) error {
		runs, err := b.Runs(ctx, q)
		if err != nil {
			return err
		}
		if *asJSON {
			if runs == nil {
				runs = []runRow{}
			}
			return printJSON(e.stdout, runs)
		}
		return printRuns(e.stdout, runs)
	})
}

func printRuns(w io.Writer, runs []runRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTASK\tSTATUS\tTRIGGER\tSTARTED\tDURATION\tEXIT\tERROR")
	for _, r := range runs {
		errText := r.Error
		if r.Status == string(store.StatusSkipped) {
			errText = r.Reason
		}
		if i := strings.IndexByte(errText, '\n'); i >= 0 {
			errText = errText[:i]
		}
		exit := "-"
		if r.ExitCode != nil {
			exit = fmt.Sprint(*r.ExitCode)
		}
		fmt.Fprintf(tw, "%d\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.App, r.Task, r.Status, r.Trigger,
			r.Start.Local().Format(time.DateTime), time.Duration(r.DurationMs)*time.Millisecond, exit, errText)
	}
	return tw.Flush()
}
