package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// versionInfo is what `cronbox version` prints, from the build
// information the Go toolchain writes into the binary.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Wazero  string `json:"wazero"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(unknown)", Commit: "(unknown)", Go: "(unknown)", Wazero: "(unknown)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && v.Commit != "(unknown)" {
		v.Commit += " (modified)"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/tetratelabs/wazero" {
			if d.Replace != nil {
				d = d.Replace
			}
			v.Wazero = d.Version
		}
	}
	return v
}

func runVersion(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "version")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 0 {
		fmt.Fprintln(e.stderr, "cronbox version: takes no arguments")
		return exitUsage
	}
	v := buildVersion()
	if *asJSON {
		if printJSON(e.stdout, v) != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(e.stdout, "cronbox %s\ncommit %s\n%s\nwazero %s\n", v.Version, v.Commit, v.Go, v.Wazero)
	return 0
}
