package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/web"
)

func runToken(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "token")
	tg := targetFlags(fs)
	role := fs.String("role", "", "create: the token's `ROLE`: admin, operator or viewer")
	appsFlag := fs.String("apps", "", "create: the only `APPS` the token may see, comma-separated (default every app); app:role also grants the app's own role to call its routes")
	name := fs.String("name", "", "create: whose token, what for (default \"cli-ROLE\")")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.stderr, "cronbox token: want create, list or revoke; run `cronbox help token`")
		return exitUsage
	}
	sub, pos := pos[0], pos[1:]
	switch sub {
	case "create":
		if len(pos) != 0 {
			fmt.Fprintln(e.stderr, "cronbox token create: takes no arguments")
			return exitUsage
		}
		if !web.ValidRole(*role) {
			fmt.Fprintf(e.stderr, "cronbox token create: --role %q: want admin, operator or viewer\n", *role)
			return exitUsage
		}
		var apps []string
		for _, a := range strings.Split(*appsFlag, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if err := web.ValidScope(a); err != nil {
				fmt.Fprintf(e.stderr, "cronbox token create: --apps: %v\n", err)
				return exitUsage
			}
			apps = append(apps, a)
		}
		if *name == "" {
			*name = "cli-" + *role
		}
		return withBackend(ctx, e, tg, func(b backend) error {
			tok, err := b.CreateToken(ctx, *name, *role, apps)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(e.stdout, map[string]string{"token": tok})
			}
			_, err = fmt.Fprintln(e.stdout, tok)
			return err
		})
	case "list":
		if len(pos) != 0 {
			fmt.Fprintln(e.stderr, "cronbox token list: takes no arguments")
			return exitUsage
		}
		return withBackend(ctx, e, tg, func(b backend) error {
			rows, err := b.ListTokens(ctx)
			if err != nil {
				return err
			}
			return printTokens(e.stdout, rows, *asJSON)
		})
	case "revoke":
		if len(pos) != 1 {
			fmt.Fprintln(e.stderr, "cronbox token revoke: want one token ID (see `cronbox token list`)")
			return exitUsage
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(e.stderr, "cronbox token revoke: %q is not a token ID\n", pos[0])
			return exitUsage
		}
		return withBackend(ctx, e, tg, func(b backend) error {
			if err := b.RevokeToken(ctx, id); err != nil {
				return err
			}
			if *asJSON {
				return printJSON(e.stdout, map[string]any{"id": id, "revoked": true})
			}
			_, err := fmt.Fprintf(e.stderr, "token %d revoked\n", id)
			return err
		})
	default:
		fmt.Fprintf(e.stderr, "cronbox token: unknown subcommand %q; want create, list or revoke\n", sub)
		return exitUsage
	}
}

// createToken records a new token and returns it with its ID; only its
// hash is stored.
func createToken(ctx context.Context, st store.Tokens, name, role string, apps []string) (string, int64, error) {
	tok := web.NewToken()
	id, err := st.CreateToken(ctx, store.Token{Name: name, Hash: store.HashToken(tok), Role: role, Apps: apps})
	if err != nil {
		return "", 0, fmt.Errorf("creating token: %w", err)
	}
	return tok, id, nil
}

// tokenRow is a token as `token list` prints it: never its secret.
type tokenRow struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Apps       []string   `json:"apps"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// tokenRows is the tokens of st as token list prints them.
func tokenRows(ctx context.Context, st store.Tokens) ([]tokenRow, error) {
	toks, err := st.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]tokenRow, 0, len(toks))
	for _, t := range toks {
		apps := t.Apps
		if apps == nil {
			apps = []string{} // as the API lists it
		}
		rows = append(rows, tokenRow{ID: t.ID, Name: t.Name, Role: t.Role, Apps: apps, CreatedAt: t.CreatedAt.UTC(),
			LastUsedAt: timeOrNil(t.LastUsedAt), RevokedAt: timeOrNil(t.RevokedAt)})
	}
	return rows, nil
}

func printTokens(w io.Writer, rows []tokenRow, asJSON bool) error {
	if asJSON {
		return printJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tAPPS\tCREATED\tLAST USED\tREVOKED")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, r := range rows {
		apps := "*"
		if len(r.Apps) > 0 {
			apps = strings.Join(r.Apps, ",")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Role, apps, r.CreatedAt.Format(time.RFC3339), stamp(r.LastUsedAt), stamp(r.RevokedAt))
	}
	return tw.Flush()
}

// firstToken creates an admin token when the store has no token at all,
// and logs it: the only time it is shown.
func firstToken(ctx context.Context, log *slog.Logger, st store.Tokens) error {
	toks, err := st.ListTokens(ctx)
	if err != nil || len(toks) > 0 {
		return err
	}
	tok, id, err := createToken(ctx, st, "first admin", web.RoleAdmin, nil)
	if err != nil {
		return err
	}
	log.Warn("created the first API token, an admin token; it is shown only this once, so keep it (more: cronbox token create)",
		"token", tok, "id", id)
	return nil
}
