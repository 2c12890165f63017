// Command cronbox runs WebAssembly tasks in a sandbox.
//
//	cronbox exec FILE.wasm [flags] [-- ARGS...]   run one module once
//	cronbox build DIR                             compile tasks (Go, C, Rust, AssemblyScript) to .wasm
//	cronbox serve [--home DIR] [--listen ADDR]    run a home's tasks on schedule
//	cronbox task list|trigger|enable|disable      list, run or switch tasks
//	cronbox runs [--task APP/TASK] [--status S]   list the recorded runs
//	cronbox config export|import [FILE]           task overrides as tasks.json
//	cronbox app new|list|info|enable|disable      create, show or switch apps
//	cronbox app validate|export|install|uninstall check, package, install or remove apps
//	cronbox login URL [--name N] < TOKEN          store a server's token as a context
//	cronbox context list|use NAME                 list the contexts, or choose one
//	cronbox version                               the version, commit, Go and wazero
//	cronbox secret set|list|delete APP [NAME]      an app's secrets (values from stdin)
//	cronbox audit [--app A] [--since D] [--json]  the audit log
//
// The commands that read or change a home act on a server instead with
// --server URL, --context NAME or --remote (the current context).
//
// Run `cronbox help COMMAND` for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // task timezones on machines without a zone database
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
	// stdin is where login reads the token; nil: nothing to read.
	// stdinTTY is set when it is a terminal, to prompt.
	stdin    io.Reader
	stdinTTY bool
	// listening, if set, is told the address serve listens on (tests
	// listen on port 0).
	listening func(net.Addr)
}

func commands() []command {
	return []command{
		{name: "exec", usage: "cronbox exec FILE.wasm [flags] [-- ARGS...]", summary: "run one module once", run: runExec},
		{name: "serve", usage: "cronbox serve [--home DIR] [--listen ADDR]", summary: "run the tasks of a home's apps on their schedules", run: runServe},
		{name: "task", usage: "cronbox task list|trigger|enable|disable", summary: "list a home's tasks, run one once now, or switch one on or off", run: runTask},
		{name: "runs", usage: "cronbox runs [--task APP/TASK] [--status S]", summary: "list the recorded runs, newest first", run: runRuns},
		{name: "config", usage: "cronbox config export|import [FILE]", summary: "write or read the task overrides as a tasks.json file", run: runConfig},
		{name: "build", usage: "cronbox build DIR", summary: "compile a task directory (Go, C, Rust or AssemblyScript), or every task below DIR, to .wasm", run: runBuild},
		{name: "token", usage: "cronbox token create|list|revoke", summary: "create, list or revoke API tokens", run: runToken},
		{name: "login", usage: "cronbox login URL [--name N] < TOKEN", summary: "check a token (read from stdin) against a server and store it as the current context", run: runLogin},
		{name: "context", usage: "cronbox context list|use NAME", summary: "list the servers logged in to, or choose the current one", run: runContext},
		{name: "version", usage: "cronbox version [--json]", summary: "print the version, commit, Go and wazero versions", run: runVersion},
		{name: "store", usage: "cronbox store copy --from URL --to URL [--force]", summary: "copy a store's whole state to another, SQLite or PostgreSQL", run: runStore},
		{name: "secret", usage: "cronbox secret set|list|delete APP [NAME]", summary: "set (value from stdin), list or delete an app's secrets", run: runSecret},
		{name: "audit", usage: "cronbox audit [--app A] [--since D] [--json]", summary: "list the audit log's entries, newest first", run: runAudit},
		{name: "app", usage: "cronbox app SUBCOMMAND [NAME|ZIP|DIR]", summary: "manage a home's apps: new, list, info, enable, disable, validate, export, install, uninstall", run: runApp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, tty := confirmInput()
	os.Exit(run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, stdinTTY: tty}, os.Args[1:]))
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
