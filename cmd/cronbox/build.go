package main

import (
	"context"
	"fmt"

	"github.com/cronbox/cronbox/internal/gobuild"
)

func runBuild(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "build")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "cronbox build: want one directory; run `cronbox help build`")
		return exitUsage
	}
	if _, err := gobuild.Toolchain(); err != nil {
		fmt.Fprintf(e.stderr, "cronbox build: %v\n", err)
		return 1
	}
	targets, err := gobuild.Find(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox build: %v\n", err)
		return 1
	}
	failed := 0
	for _, t := range targets {
		if err := gobuild.Build(ctx, t.Dir, t.Out); err != nil {
			fmt.Fprintf(e.stderr, "cronbox build: %v\n", err)
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "built %s\n", t.Out)
	}
	if failed > 0 {
		return 1
	}
	return 0
}
