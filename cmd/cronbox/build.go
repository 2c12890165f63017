package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/internal/build"
)

// cachedSDK returns the folder of the SDK this binary carries, extracted
// under the user's cache folder: what a Go task in no module builds
// against when `cronbox build` is not told of a home.
func cachedSDK() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return lifecycle.EnsureSDK(filepath.Join(dir, "cronbox"))
}

// homeSDK returns a function that extracts the SDK this binary carries
// into home, for Go tasks in no module.
func homeSDK(home string) func() (string, error) {
	return func() (string, error) { return lifecycle.EnsureSDK(home) }
}

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
	targets, err := build.Find(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox build: %v\n", err)
		return 1
	}
	failed := 0
	opts := build.Options{GoSDK: cachedSDK}
	for _, t := range targets {
		if err := build.Build(ctx, t, opts); err != nil {
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
