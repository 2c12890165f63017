package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// TestServePostgres runs serve on a PostgreSQL store: its task's runs are
// recorded there (and no SQLite file is made), and a token that `cronbox
// token create --store` made in the same database lets a client in.
func TestServePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	home := testHome(t)
	addr, stop, _ := startServe(t, home, "--store", url)

	code, out, errOut := cli(t, "token", "create", "--role", "viewer", "--home", home, "--store", url)
	if code != 0 {
		t.Fatalf("token create --store: exit %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)

	ctx := t.Context()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	var runs []store.Run
	for len(runs) == 0 {
		select {
		case <-tick.C:
		case <-deadline:
			_, stderr := stop()
			t.Fatalf("no succeeded run of demo/hello in PostgreSQL; serve's log:\n%s", stderr)
		}
		if runs, err = st.ListRuns(ctx, store.RunFilter{Task: "hello", Statuses: []store.Status{store.StatusSucceeded}}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		token string
		want  int
	}{{tok, http.StatusOK}, {"cbx_not-a-token", http.StatusUnauthorized}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/runs", nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /api/v1/runs with %s: %s %s; want %d", tt.token[:8], resp.Status, body, tt.want)
		}
		if tt.want == http.StatusOK && !strings.Contains(string(body), `"hello"`) {
			t.Errorf("GET /api/v1/runs: %s; want the runs of hello", body)
		}
	}
	// The node lists itself, at the address it serves.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"address":"`+addr+`"`) || !strings.Contains(string(body), `"self":true`) {
		t.Errorf("GET /api/v1/nodes: %s %s; want this node at %s", resp.Status, body, addr)
	}
	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited with %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "cronbox.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve --store postgres://… made the home's SQLite store (%v)", err)
	}
	if n, err := st.MarkInterrupted(context.Background(), time.Now()); err != nil || n != 0 {
		t.Errorf("%d runs left running in PostgreSQL after serve stopped (%v)", n, err)
	}
}

// TestStoreFlagErrors: a bad --store or CRONBOX_STORE is refused with a
// message naming the problem, by every command that opens the store.
func TestStoreFlagErrors(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"runs", "--store", "mysql://db/c"},
		{"token", "list", "--store", "mysql://db/c"},
		{"task", "list", "--store", "mysql://db/c"},
		{"config", "export", "--store", "mysql://db/c"},
	} {
		code, _, stderr := cli(t, append(args, "--home", home)...)
		if code == 0 || !strings.Contains(stderr, `unknown scheme "mysql"`) {
			t.Errorf("%v: exit %d, %s; want the scheme refused", args, code, stderr)
		}
	}
	if code, _, stderr := cli(t, "runs", "--store", "sqlite:x.db", "--server", "http://127.0.0.1:1"); code == 0 || !strings.Contains(stderr, "not both") {
		t.Errorf("runs --store --server: exit %d, %s; want them refused together", code, stderr)
	}
	t.Setenv(storeurl.Env, "sqlite:")
	if code, _, stderr := cli(t, "runs", "--home", home); code == 0 || !strings.Contains(stderr, "no file after sqlite:") {
		t.Errorf("runs with %s=sqlite: exit %d, %s; want it refused", storeurl.Env, code, stderr)
	}
	t.Setenv(storeurl.Env, "postgres://u:SECRETPW@127.0.0.1:1/c")
	if _, _, stderr := cli(t, "help", "serve"); strings.Contains(stderr, "SECRETPW") {
		t.Errorf("help serve shows %s's password:\n%s", storeurl.Env, stderr)
	}
	t.Setenv(storeurl.Env, "sqlite:"+filepath.Join(home, "elsewhere.db"))
	if code, _, stderr := cli(t, "token", "create", "--role", "admin", "--home", home); code != 0 {
		t.Fatalf("token create with %s: exit %d, %s", storeurl.Env, code, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "elsewhere.db")); err != nil {
		t.Errorf("%s was not the store: %v", storeurl.Env, err)
	}
}
