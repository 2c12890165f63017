package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

func runConfig(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "config")
	tg := targetFlags(fs)
	asJSON := fs.Bool("json", false, "import: print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) == 0 || (pos[0] != "export" && pos[0] != "import") {
		fmt.Fprintln(e.stderr, "cronbox config: want export or import; run `cronbox help config`")
		return exitUsage
	}
	sub, pos := pos[0], pos[1:]
	if len(pos) > 1 {
		fmt.Fprintf(e.stderr, "cronbox config %s: want at most one FILE\n", sub)
		return exitUsage
	}
	file := "-"
	if len(pos) == 1 {
		file = pos[0]
	}
	return withBackend(ctx, e, tg, func(b backend) error {
		if sub == "export" {
			data, err := b.ExportConfig(ctx)
			if err != nil {
				return err
			}
			if file == "-" {
				_, err = e.stdout.Write(data)
				return err
			}
			return os.WriteFile(file, data, 0o644)
		}
		// There is no stdin: env has none.
		if file == "-" {
			return errors.New("config import: want a FILE")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		n, err := b.ImportConfig(ctx, e, data)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]int{"imported": n})
		}
		_, err = fmt.Fprintf(e.stdout, "imported %d overrides\n", n)
		return err
	})
}

// configExport writes the store's overrides as a tasks file to file ("-":
// stdout).
func configExport(ctx context.Context, stdout io.Writer, file string, st store.Overrides) error {
	stored, err := st.Overrides(ctx)
	if err != nil {
		return err
	}
	ovs := make([]app.Override, 0, len(stored))
	for _, o := range stored {
		ao, err := engine.AppOverride(o)
		if err != nil {
			return err
		}
		ovs = append(ovs, ao)
	}
	b, err := app.ExportTasksFile(ovs, time.Now().UTC())
	if err != nil {
		return err
	}
	if file == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// configImport stores the overrides of the tasks file data. Every
// override is checked against its app first; nothing is stored when any
// is wrong. Stored overrides of tasks that the file does not name are
// kept.
func configImport(ctx context.Context, e *env, home string, data []byte, st store.Overrides) (int, error) {
	ovs, err := app.ImportTasksFile(data)
	if err != nil {
		return 0, err
	}
	byApp := map[string][]app.Override{}
	for _, o := range ovs {
		byApp[o.App] = append(byApp[o.App], o)
	}
	var problems []error
	for name, list := range byApp {
		a, err := app.Load(homedir.Home(home).App(name), app.Options{})
		if err != nil {
			problems = append(problems, fmt.Errorf("app %s: %w", name, err))
			continue
		}
		errs, warnings := app.CheckOverrides(a, list)
		for _, p := range errs {
			problems = append(problems, fmt.Errorf("app %s: %w", name, p))
		}
		for _, p := range warnings {
			fmt.Fprintf(e.stderr, "cronbox: warning: app %s: %v\n", name, p)
		}
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("config import: nothing imported:\n%w", errors.Join(problems...))
	}
	for _, o := range ovs {
		so, err := engine.StoreOverride(o)
		if err != nil {
			return 0, err
		}
		if err := st.PutOverride(ctx, so); err != nil {
			return 0, err
		}
	}
	return len(ovs), nil
}
