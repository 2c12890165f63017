package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/web"
)

func runSecret(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "secret")
	t := targetFlags(fs)
	asJSON := fs.Bool("json", false, "list: print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	want := map[string]int{"set": 2, "list": 1, "delete": 2}
	if len(pos) == 0 || want[pos[0]] == 0 {
		fmt.Fprintln(e.stderr, "cronbox secret: want set APP NAME, list APP or delete APP NAME; run `cronbox help secret`")
		return exitUsage
	}
	sub, pos := pos[0], pos[1:]
	if len(pos) != want[sub] {
		fmt.Fprintf(e.stderr, "cronbox secret %s: want %s\n", sub, map[string]string{"set": "APP NAME (the value comes from stdin)", "list": "APP", "delete": "APP NAME"}[sub])
		return exitUsage
	}
	appName := pos[0]
	if err := app.ValidName(appName); err != nil {
		fmt.Fprintf(e.stderr, "cronbox secret %s: %v\n", sub, err)
		return exitUsage
	}
	var name string
	if len(pos) > 1 {
		name = pos[1]
		if err := secrets.ValidName(name); err != nil {
			fmt.Fprintf(e.stderr, "cronbox secret %s: %v\n", sub, err)
			return exitUsage
		}
	}
	switch sub {
	case "set":
		value, err := readSecretValue(e)
		if err != nil {
			fmt.Fprintf(e.stderr, "cronbox secret set: %v\n", err)
			return 1
		}
		return withBackend(ctx, e, t, func(b backend) error {
			if err := b.SetSecret(ctx, appName, name, value); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stderr, "secret %s of %s set\n", name, appName)
			return err
		})
	case "list":
		return withBackend(ctx, e, t, func(b backend) error {
			rows, err := b.ListSecrets(ctx, appName)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(e.stdout, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tUPDATED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\n", r.Name, r.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})
	default: // delete
		return withBackend(ctx, e, t, func(b backend) error {
			if err := b.DeleteSecret(ctx, appName, name); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stderr, "secret %s of %s deleted\n", name, appName)
			return err
		})
	}
}

// secretRow is a secret as `cronbox secret list` prints it: its name and
// time, never its value; in JSON the same as the API's.
type secretRow struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (b *localBackend) SetSecret(ctx context.Context, appName, name, value string) error {
	st, err := b.store(ctx)
	if err != nil {
		return err
	}
	box, err := secrets.Open(homedir.Home(b.home), st)
	if err != nil {
		return err
	}
	_, err = st.Secret(ctx, appName, name)
	existed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := box.Set(ctx, appName, name, []byte(value)); err != nil {
		return err
	}
	masked := map[string]string{"name": name, "value": "********"}
	var before any
	if existed {
		before = masked
	}
	b.audit(ctx, web.ActionSecretSet, appName, name, before, masked)
	return nil
}

func (b *localBackend) ListSecrets(ctx context.Context, appName string) ([]secretRow, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	list, err := st.ListSecrets(ctx, appName)
	if err != nil {
		return nil, err
	}
	rows := make([]secretRow, len(list))
	for i, s := range list {
		rows[i] = secretRow{s.Name, s.UpdatedAt.UTC()}
	}
	return rows, nil
}

func (b *localBackend) DeleteSecret(ctx context.Context, appName, name string) error {
	st, err := b.store(ctx)
	if err != nil {
		return err
	}
	if err := st.DeleteSecret(ctx, appName, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("app %s has no secret %s", appName, name)
		}
		return err
	}
	b.audit(ctx, web.ActionSecretDelete, appName, name, map[string]string{"name": name, "value": "********"}, nil)
	return nil
}

func secretPath(appName, name string) string {
	p := "/apps/" + url.PathEscape(appName) + "/secrets"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

func (b *remoteBackend) SetSecret(ctx context.Context, appName, name, value string) error {
	return b.c.Do(ctx, client.Request{Method: "PUT", Path: secretPath(appName, name), Body: map[string]string{"value": value}}, nil)
}

func (b *remoteBackend) ListSecrets(ctx context.Context, appName string) ([]secretRow, error) {
	var list struct {
		Secrets []secretRow `json:"secrets"`
	}
	if err := b.c.Do(ctx, client.Request{Method: "GET", Path: secretPath(appName, ""), Want: http.StatusOK}, &list); err != nil {
		return nil, err
	}
	return list.Secrets, nil
}

func (b *remoteBackend) DeleteSecret(ctx context.Context, appName, name string) error {
	return b.c.Do(ctx, client.Request{Method: "DELETE", Path: secretPath(appName, name), Want: http.StatusNoContent}, nil)
}

// readSecretValue reads a secret's value from stdin: one line typed
// without echo on a terminal, or everything piped in, less one final
// newline. Values never come from the command line, where other users
// and the shell's history would see them.
func readSecretValue(e *env) (string, error) {
	if e.stdin == nil {
		return "", errors.New("no stdin to read the value from")
	}
	var value string
	if tty, ok := e.stdin.(*os.File); ok && e.stdinTTY {
		v, err := readNoEcho(tty, e.stderr)
		if err != nil {
			return "", err
		}
		value = v
	} else {
		b, err := io.ReadAll(io.LimitReader(e.stdin, secrets.MaxValue+2))
		if err != nil {
			return "", fmt.Errorf("reading the value from stdin: %w", err)
		}
		value = trimNewline(string(b))
	}
	switch {
	case value == "":
		return "", errors.New("the value is empty; give it on stdin, e.g. `printf %s \"$VALUE\" | cronbox secret set APP NAME`")
	case len(value) > secrets.MaxValue:
		return "", fmt.Errorf("the value is larger than %d bytes", secrets.MaxValue)
	}
	return value, nil
}

func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// missingSecrets warns of the secrets that the app's tasks reference in
// their environment and that the store does not hold.
func (b *localBackend) missingSecrets(ctx context.Context, appName string) []lifecycle.Finding {
	a, err := app.Load(homedir.Home(b.home).App(appName), app.Options{})
	if err != nil {
		return nil // install has validated it; nothing to add
	}
	st, err := b.store(ctx)
	if err != nil {
		return []lifecycle.Finding{{Message: fmt.Sprintf("cannot check the app's secrets: %v", err)}}
	}
	var out []lifecycle.Finding
	for _, t := range a.Tasks {
		missing, err := secrets.Missing(ctx, st, appName, t.Environment)
		if err != nil {
			return append(out, lifecycle.Finding{Message: fmt.Sprintf("cannot check the app's secrets: %v", err)})
		}
		for _, name := range missing {
			out = append(out, lifecycle.Finding{Task: t.Name, Field: "environment", Message: secrets.MissingMessage(appName, name)})
		}
	}
	return out
}
