package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/internal/build"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/homedir"
)

// appFlags are the flags of `cronbox app`; each subcommand uses some.
type appFlags struct {
	tg                                                *target
	description, author, version, roles, output, lang string
	asJSON, strict, upgrade, purge, yes, build        bool
}

// confirmInput returns where a confirmation is read from, and whether it
// is a terminal that a person can answer on. Tests replace it.
var confirmInput = func() (io.Reader, bool) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return os.Stdin, false
	}
	// /dev/null is a character device too, but nobody answers there.
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return os.Stdin, false
	}
	return os.Stdin, true
}

const appSubcommands = "new, list, info, enable, disable, validate, export, install or uninstall"

func runApp(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "app")
	var f appFlags
	f.tg = targetFlags(fs)
	fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	fs.StringVar(&f.description, "description", "", "new: the app's one-line description")
	fs.StringVar(&f.author, "author", "", "new: the app's author")
	fs.StringVar(&f.version, "version", lifecycle.DefaultVersion, "new: the app's version")
	fs.StringVar(&f.roles, "roles", "", "new: the roles a user needs, comma-separated (admin, operator, viewer)")
	fs.StringVar(&f.lang, "lang", "go", "new: the task's language: go, c, rust or assemblyscript")
	fs.BoolVar(&f.build, "build", true, "new: build the task's module when the language's toolchain is found")
	fs.BoolVar(&f.strict, "strict", false, "validate, install: fail on warnings too")
	fs.StringVar(&f.output, "output", "", "export: the `DIR`ectory to write the zip to (default HOME/data/exports; against a server, the current one)")
	fs.BoolVar(&f.upgrade, "upgrade", false, "install: replace an installed app of the same name, keeping a backup")
	fs.BoolVar(&f.purge, "purge", false, "uninstall: also delete the app's KV, history and files")
	fs.BoolVar(&f.yes, "yes", false, "uninstall: do not ask for confirmation")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) == 0 {
		fmt.Fprintf(e.stderr, "cronbox app: want %s; run `cronbox help app`\n", appSubcommands)
		return exitUsage
	}
	sub, pos := pos[0], pos[1:]
	want := 1
	if sub == "list" {
		want = 0
	}
	switch sub {
	case "new", "list", "info", "enable", "disable", "validate", "export", "install", "uninstall":
	default:
		fmt.Fprintf(e.stderr, "cronbox app: unknown subcommand %q; want %s\n", sub, appSubcommands)
		return exitUsage
	}
	if len(pos) != want {
		what := "one app NAME"
		switch {
		case want == 0:
			what = "no arguments"
		case sub == "install":
			what = "one ZIP file or app folder"
		}
		fmt.Fprintf(e.stderr, "cronbox app %s: want %s\n", sub, what)
		return exitUsage
	}
	arg := ""
	if want == 1 {
		arg = pos[0]
	}
	var code int
	switch sub {
	case "new", "list", "info":
		if f.tg.isRemote() {
			err = errLocalOnly("app " + sub)
			break
		}
		switch sub {
		case "new":
			err = appNew(ctx, e, f, arg)
		case "list":
			err = appList(e, f)
		case "info":
			err = appInfo(e, f, arg)
		}
	default:
		var b backend
		if b, err = f.tg.open(e); err != nil {
			break
		}
		switch sub {
		case "enable", "disable":
			err = appEnable(ctx, e, b, f, arg, sub == "enable")
		case "validate":
			code, err = appValidate(ctx, e, b, f, arg)
		case "export":
			err = appExport(ctx, e, b, f, arg)
		case "install":
			err = appInstall(ctx, e, b, f, arg)
		case "uninstall":
			code, err = appUninstall(ctx, e, b, f, arg)
		}
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox app %s: %v\n", sub, err)
		var verr *lifecycle.ValidationError
		if errors.As(err, &verr) {
			printFindings(e.stderr, verr.Report)
		}
		return 1
	}
	return code
}

func appNew(ctx context.Context, e *env, f appFlags, name string) error {
	var roles []string
	if f.roles != "" {
		roles = strings.Split(f.roles, ",")
	}
	lang, err := build.ParseLang(f.lang)
	if err != nil {
		return err
	}
	dir, err := lifecycle.New(f.tg.home, name, lifecycle.NewOptions{Description: f.description, Author: f.author, Version: f.version, Roles: roles, Lang: lang})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created %s\n", dir)
	built := false
	src := filepath.Join(dir, "tasks", lifecycle.TemplateTask)
	if f.build {
		if err := build.Toolchain(lang, src); err != nil {
			fmt.Fprintf(e.stderr, "cronbox app new: not building the task: %v\n", err)
		} else {
			// The task, and in Go the route the template adds.
			targets, err := build.Find(dir)
			if err != nil {
				return fmt.Errorf("the app is created, but finding what to build failed: %w", err)
			}
			for _, t := range targets {
				if err := build.Build(ctx, t, build.Options{GoSDK: homeSDK(f.tg.home)}); err != nil {
					return fmt.Errorf("the app is created, but building %s failed: %w", t.Out, err)
				}
				fmt.Fprintf(e.stdout, "built %s\n", t.Out)
			}
			built = true
		}
	}
	fmt.Fprintln(e.stdout, "\nNext:")
	rel := homedir.Home("").App(name)
	task := filepath.Join(rel, "tasks", lifecycle.TemplateTask)
	if !built {
		fmt.Fprintf(e.stdout, "  cronbox build %s\n", rel)
	}
	switch lang {
	case build.Go:
		fmt.Fprintf(e.stdout, "  (cd %s && go test ./...)\n", rel)
	case build.C:
		fmt.Fprintf(e.stdout, "  (cd %s && cc -o /tmp/%s_test main_test.c && /tmp/%s_test)\n", task, lifecycle.TemplateTask, lifecycle.TemplateTask)
	case build.Rust:
		fmt.Fprintf(e.stdout, "  (cd %s && cargo test --offline)\n", task)
	case build.AssemblyScript:
		fmt.Fprintf(e.stdout, "  (cd %s && npm test)\n", task)
	}
	fmt.Fprintf(e.stdout, "  cronbox app validate %s\n", name)
	fmt.Fprintf(e.stdout, "  cronbox task trigger %s/%s --input '{\"name\": \"Ada\"}'\n", name, lifecycle.TemplateTask)
	return nil
}

func appList(e *env, f appFlags) error {
	list, err := lifecycle.List(f.tg.home)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tVERSION\tENABLED\tTASKS\tERRORS\tDESCRIPTION")
	for _, a := range list {
		enabled := fmt.Sprint(a.Enabled)
		if !a.Loaded {
			enabled = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", a.Name, orDash(a.Version), enabled, len(a.Tasks), len(a.Errors), oneLine(a.Description, 60))
	}
	return tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func appInfo(e *env, f appFlags, name string) error {
	a, err := lifecycle.Get(f.tg.home, name)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(e.stdout, a)
	}
	w := e.stdout
	fmt.Fprintf(w, "%s %s\n", a.Name, a.Version)
	if a.Description != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(a.Description, 200))
	}
	if a.Author != "" {
		fmt.Fprintf(w, "author:      %s\n", a.Author)
	}
	fmt.Fprintf(w, "folder:      %s (%d files, %s)\n", a.Dir, a.Files, bytesize.Format(a.Size))
	if a.Loaded {
		fmt.Fprintf(w, "enabled:     %v\n", a.Enabled)
		if len(a.Roles) > 0 {
			fmt.Fprintf(w, "roles:       %s\n", strings.Join(a.Roles, ", "))
		}
		http := "none"
		if len(a.Permissions.HTTP) > 0 {
			http = strings.Join(a.Permissions.HTTP, ", ")
		}
		fmt.Fprintf(w, "permissions: http: %s; files: %v; kv: %v\n", http, a.Permissions.Files, a.Permissions.KV)
		fmt.Fprintf(w, "quotas:      concurrency %d, memory %s, kv %s, files %s\n", a.Quotas.Concurrency,
			bytesize.Format(a.Quotas.Memory), bytesize.Format(a.Quotas.KV), bytesize.Format(a.Quotas.Files))
		fmt.Fprintf(w, "tasks:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, t := range a.Tasks {
			built := "built"
			if !t.Built {
				built = "not built"
			}
			fmt.Fprintf(tw, "  %s\t%s\tenabled %v\t%s\t%s\n", t.Name, scheduleText(t.Schedule), t.Enabled, t.Module, built)
		}
		tw.Flush()
	}
	for _, p := range a.Errors {
		fmt.Fprintf(w, "error:   %s\n", p)
	}
	for _, p := range a.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
	return nil
}

func appEnable(ctx context.Context, e *env, b backend, f appFlags, name string, enabled bool) error {
	if err := b.SetAppEnabled(ctx, name, enabled); err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(e.stdout, map[string]any{"app": name, "enabled": enabled})
	}
	word := "disabled"
	if enabled {
		word = "enabled"
	}
	fmt.Fprintf(e.stdout, "app %s %s\n", name, word)
	return nil
}

func appValidate(ctx context.Context, e *env, b backend, f appFlags, name string) (int, error) {
	rep, err := b.ValidateApp(ctx, name)
	if err != nil {
		return 0, err
	}
	ok := rep.OK(f.strict)
	if f.asJSON {
		if err := printJSON(e.stdout, struct {
			*lifecycle.Report
			OK bool `json:"ok"`
		}{rep, ok}); err != nil {
			return 0, err
		}
	} else {
		printFindings(e.stdout, rep)
		verdict := "ok"
		if !ok {
			verdict = "FAILED"
		}
		fmt.Fprintf(e.stdout, "app %s: %d tasks, %d errors, %d warnings: %s\n", rep.App, rep.Tasks, len(rep.Errors), len(rep.Warnings), verdict)
	}
	if !ok {
		return 1, nil
	}
	return 0, nil
}

func printFindings(w io.Writer, rep *lifecycle.Report) {
	for _, p := range rep.Errors {
		fmt.Fprintf(w, "error:   %s\n", p)
	}
	for _, p := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
}

func appExport(ctx context.Context, e *env, b backend, f appFlags, name string) error {
	p, m, err := b.ExportApp(ctx, name, f.output)
	if err != nil {
		return err
	}
	files := 0
	if m != nil {
		files = len(m.Files)
	}
	if f.asJSON {
		return printJSON(e.stdout, map[string]any{"file": p, "manifest": m})
	}
	fmt.Fprintf(e.stdout, "exported %s (%d files) to %s\n", name, files, p)
	fmt.Fprintf(e.stdout, "the app's secrets are left out: they are in the home's store, not in the app folder; set them again where the app is installed (cronbox secret set %s NAME)\n", name)
	return nil
}

func appInstall(ctx context.Context, e *env, b backend, f appFlags, src string) error {
	res, err := b.InstallApp(ctx, src, f.upgrade, f.strict)
	if err != nil {
		if errors.Is(err, lifecycle.ErrExists) {
			return fmt.Errorf("%w; add --upgrade to replace it", err)
		}
		return err
	}
	if f.asJSON {
		return printJSON(e.stdout, res)
	}
	for _, p := range res.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", p)
	}
	how := "installed"
	if res.Replaced {
		how = "upgraded"
	}
	verified := ""
	if res.Verified {
		verified = ", hashes verified"
	}
	where := ""
	if res.Dir != "" {
		where = " in " + res.Dir
	}
	fmt.Fprintf(e.stdout, "%s %s %s (%d files%s)%s\n", how, res.App, res.Version, res.Files, verified, where)
	if res.Backup != "" {
		fmt.Fprintf(e.stdout, "the previous version is in %s\n", res.Backup)
	}
	return nil
}

func appUninstall(ctx context.Context, e *env, b backend, f appFlags, name string) (int, error) {
	if !f.tg.isRemote() && !f.tg.cluster() { // a cluster's store may hold an app this home does not
		if _, err := lifecycle.Get(f.tg.home, name); err != nil {
			return 0, err
		}
	}
	if !f.yes {
		in, tty := confirmInput()
		if !tty {
			fmt.Fprintln(e.stderr, "cronbox app uninstall: stdin is not a terminal; add --yes to uninstall without asking")
			return exitUsage, nil
		}
		what := "Uninstall " + name
		if f.purge {
			what += " and delete its KV, history and files"
		}
		fmt.Fprintf(e.stderr, "%s? A backup of the app is kept in %s. [y/N] ", what, b.Backups())
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(e.stderr, "\nnot uninstalled")
			return 1, nil
		}
	}
	res, err := b.UninstallApp(ctx, name, f.purge)
	if err != nil {
		return 0, err
	}
	if f.asJSON {
		return 0, printJSON(e.stdout, res)
	}
	if res.Backup == "" {
		fmt.Fprintf(e.stdout, "uninstalled %s from the cluster\n", name)
	} else {
		fmt.Fprintf(e.stdout, "uninstalled %s; backup in %s\n", name, res.Backup)
	}
	if res.Purged {
		fmt.Fprintf(e.stdout, "deleted its KV, history and files\n")
	}
	return 0, nil
}
