package main

import (
	"context"
	"fmt"

	"github.com/cronbox/cronbox/internal/storecopy"
	"github.com/cronbox/cronbox/internal/storeurl"
)

func runStore(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "store")
	from := fs.String("from", "", "copy: the source store's `URL`: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")
	to := fs.String("to", "", "copy: the target store's `URL`")
	force := fs.Bool("force", false, "copy: replace what the target holds")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 1 || pos[0] != "copy" {
		fmt.Fprintln(e.stderr, "cronbox store: want copy; run `cronbox help store`")
		return exitUsage
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(e.stderr, "cronbox store copy: --from and --to are required")
		return exitUsage
	}
	src, err := storeurl.Parse(*from, "")
	if err == nil {
		var dst storeurl.Target
		if dst, err = storeurl.Parse(*to, ""); err == nil {
			var reports []storecopy.TableReport
			reports, err = storecopy.Copy(ctx, src, dst, *force)
			if reports != nil && reports[0].SourceHash != "" {
				storecopy.Print(e.stdout, reports)
			}
			if err == nil {
				fmt.Fprintf(e.stderr, "copied %s to %s; every table checked\n", src, dst)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox store copy: %v\n", err)
		return 1
	}
	return 0
}
