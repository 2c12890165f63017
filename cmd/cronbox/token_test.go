package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
)

var tokenPattern = regexp.MustCompile(`^cbx_[A-Za-z0-9_-]{43}$`)

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	code, out, errOut := cli(t, "token", "create", "--role", "admin", "--home", home)
	if code != 0 || !tokenPattern.MatchString(strings.TrimSuffix(out, "\n")) || strings.Count(out, "\n") != 1 {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	admin := strings.TrimSpace(out)
	code, out, errOut = cli(t, "token", "create", "--role", "viewer", "--apps", "hello, weather", "--name", "dashboard", "--home", home)
	if code != 0 || !tokenPattern.MatchString(strings.TrimSpace(out)) {
		t.Fatalf("create scoped: %d %q %q", code, out, errOut)
	}
	viewer := strings.TrimSpace(out)
	if admin == viewer {
		t.Fatal("two tokens are the same")
	}

	ctx := context.Background()
	check := func(tok, name, role string, apps []string) int64 {
		t.Helper()
		st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got, err := st.TokenByHash(ctx, store.HashToken(tok))
		if err != nil {
			t.Fatalf("token %s: %v", name, err)
		}
		if got.Name != name || got.Role != role || strings.Join(got.Apps, ",") != strings.Join(apps, ",") {
			t.Errorf("token %+v, want %s %s %v", got, name, role, apps)
		}
		return got.ID
	}
	check(admin, "cli-admin", "admin", nil)
	viewerID := check(viewer, "dashboard", "viewer", []string{"hello", "weather"})

	code, out, _ = cli(t, "token", "list", "--home", home)
	if code != 0 || !strings.Contains(out, "dashboard") || !strings.Contains(out, "hello,weather") || strings.Contains(out, admin) || strings.Contains(out, viewer) {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out, _ = cli(t, "token", "list", "--json", "--home", home)
	var rows []tokenRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 || rows[1].Name != "dashboard" || rows[1].RevokedAt != nil {
		t.Fatalf("list --json: %d %v %s", code, err, out)
	}
	if strings.Contains(out, "cbx_") || strings.Contains(out, "hash") {
		t.Errorf("list --json shows secrets: %s", out)
	}

	if code, _, errOut = cli(t, "token", "revoke", strconv.FormatInt(viewerID, 10), "--home", home); code != 0 {
		t.Fatalf("revoke: %d %s", code, errOut)
	}
	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.TokenByHash(ctx, store.HashToken(viewer)); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	st.Close()

	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"no subcommand", []string{"token"}, exitUsage},
		{"unknown subcommand", []string{"token", "rotate"}, exitUsage},
		{"no role", []string{"token", "create", "--home", home}, exitUsage},
		{"bad role", []string{"token", "create", "--role", "root", "--home", home}, exitUsage},
		{"bad app", []string{"token", "create", "--role", "viewer", "--apps", "../x", "--home", home}, exitUsage},
		{"revoke without ID", []string{"token", "revoke", "--home", home}, exitUsage},
		{"revoke a bad ID", []string{"token", "revoke", "x", "--home", home}, exitUsage},
		{"revoke an unknown ID", []string{"token", "revoke", "99", "--home", home}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if code, out, errOut := cli(t, c.args...); code != c.code || out != "" {
				t.Errorf("%v: %d %q %q, want %d and nothing on stdout", c.args, code, out, errOut, c.code)
			}
		})
	}
}

// TestServeFirstToken checks that serve creates an admin token when there
// is none, shows it once, and that the API takes it.
func TestServeFirstToken(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	addr, stop, logs := startServe(t, home)
	m := regexp.MustCompile(`token=(cbx_[A-Za-z0-9_-]+)`).FindStringSubmatch(logs())
	if m == nil {
		t.Fatalf("no token in the log:\n%s", logs())
	}
	get := func(path, tok string) int {
		t.Helper()
		r, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, tok string
		want      int
	}{
		{"/api/v1/tasks", m[1], 200},
		{"/api/v1/tasks", "", 401},
		{"/metrics", "", 401},
		{"/metrics", m[1], 200},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
	} {
		if got := get(c.path, c.tok); got != c.want {
			t.Errorf("GET %s (token %v): %d, want %d", c.path, c.tok != "", got, c.want)
		}
	}
	if code, _ := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	_, stop, logs = startServe(t, home)
	stop()
	if strings.Contains(logs(), "cbx_") {
		t.Errorf("a second start showed a token:\n%s", logs())
	}
}
