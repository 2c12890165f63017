// Command cronbox runs WebAssembly tasks in a sandbox.
//
//	cronbox exec FILE.wasm [flags] [-- ARGS...]   run one module once
//	cronbox build DIR                             compile Go tasks to .wasm
//
// Run `cronbox help COMMAND` for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: its flags are defined on fs by setup, and run
// does the work.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, env *env, args []string) int
}

// env is what a command sees of the process.
type env struct {
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{name: "exec", usage: "cronbox exec FILE.wasm [flags] [-- ARGS...]", summary: "run one module once", run: runExec},
		{name: "build", usage: "cronbox build DIR", summary: "compile a Go task directory, or every Go task below DIR, to .wasm", run: runBuild},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "help" {
		name, args = args[1], []string{args[1], "--help"}
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "cronbox: unknown command %q\n\n", name)
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Cronbox runs WebAssembly tasks in a sandbox.\n\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-45s %s\n", c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nRun `cronbox help COMMAND` for a command's flags.")
}

// parse parses flags that may stand before or after the positional
// arguments; everything after "--" is returned apart, untouched.
func parse(fs *flag.FlagSet, args []string) (positional, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, rest, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// flagSet is a FlagSet that reports to e.stderr and returns errors.
func flagSet(e *env, c string) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	for _, cmd := range commands() {
		if cmd.name == c {
			fs.Usage = func() {
				fmt.Fprintf(e.stderr, "Usage: %s\n\n%s.\n\nFlags:\n", cmd.usage, cmd.summary)
				fs.PrintDefaults()
			}
		}
	}
	return fs
}

// parseError turns a flag error into an exit code.
func parseError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return exitUsage
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
