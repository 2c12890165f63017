package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
)

type auditOut struct {
	Actor   string          `json:"actor"`
	TokenID int64           `json:"tokenId"`
	Action  string          `json:"action"`
	App     string          `json:"app"`
	Target  string          `json:"target"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

func auditLog(t *testing.T, home string, args ...string) []auditOut {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"audit", "--home", home, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	var list []auditOut
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("audit --json: %v: %s", err, out)
	}
	for i := range list {
		for _, m := range []*json.RawMessage{&list[i].Before, &list[i].After} {
			var b bytes.Buffer
			json.Compact(&b, *m)
			*m = b.Bytes()
		}
	}
	return list
}

// TestSecretCommands sets, lists, uses and deletes a secret from the
// command line: its value is read from stdin, never printed, never in the
// database file in clear, and each change is in the audit log.
func TestSecretCommands(t *testing.T) {
	home := testHome(t)
	const value = "pIpEd-V4lue-9912"
	mustWrite(t, filepath.Join(home, "apps", "demo", "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
    environment: { TOKEN: "${secret:API_TOKEN}" }
`))
	if code, _, errOut := cli(t, "task", "trigger", "--home", home, "demo/hello"); code != 1 || !strings.Contains(errOut, "secret API_TOKEN") {
		t.Errorf("trigger without the secret: %d %q; want a failed run naming the secret", code, errOut)
	}

	code, out, errOut := cliIn(t, value+"\n", "secret", "set", "--home", home, "demo", "API_TOKEN")
	if code != 0 || strings.Contains(out+errOut, value) {
		t.Fatalf("secret set: %d %q %q", code, out, errOut)
	}
	fi, err := os.Stat(filepath.Join(home, "data", "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	code, out, _ = cli(t, "secret", "list", "--home", home, "demo")
	if code != 0 || !strings.Contains(out, "API_TOKEN") || strings.Contains(out, value) {
		t.Errorf("secret list: %d %q", code, out)
	}
	if code, _, errOut := cli(t, "task", "trigger", "--home", home, "demo/hello"); code != 0 {
		t.Errorf("trigger with the secret: %d %q", code, errOut)
	}
	code, out, _ = cli(t, "app", "export", "--home", home, "demo", "--output", t.TempDir())
	if code != 0 || !strings.Contains(out, "secrets are left out") {
		t.Errorf("app export: %d %q; want it to say the secrets are left out", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(home, "data", "cronbox.db*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret's value in clear", p)
		}
	}

	t.Setenv("CRONBOX_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if code, _, errOut := cli(t, "task", "trigger", "--home", home, "demo/hello"); code != 1 || !strings.Contains(errOut, "cannot decrypt") || strings.Contains(errOut, value) {
		t.Errorf("trigger under a wrong key: %d %q; want a clear error", code, errOut)
	}
	os.Unsetenv("CRONBOX_SECRET_KEY")

	if code, _, errOut := cli(t, "secret", "delete", "--home", home, "demo", "API_TOKEN"); code != 0 {
		t.Fatalf("secret delete: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "secret", "delete", "--home", home, "demo", "API_TOKEN"); code != 1 || !strings.Contains(errOut, "no secret API_TOKEN") {
		t.Errorf("secret delete again: %d %q", code, errOut)
	}
	if code, _, errOut := cliIn(t, "", "secret", "set", "--home", home, "demo", "EMPTY"); code != 1 || !strings.Contains(errOut, "empty") {
		t.Errorf("secret set of nothing: %d %q", code, errOut)
	}
	if code, _, _ := cli(t, "secret", "set", "--home", home, "demo", "API_TOKEN", value); code != exitUsage {
		t.Errorf("secret set with the value as an argument: %d, want %d", code, exitUsage)
	}

	list := auditLog(t, home, "--app", "demo")
	var actions []string
	for _, a := range list {
		actions = append(actions, a.Action)
		if !strings.HasPrefix(a.Actor, "cli:") || strings.Contains(string(a.Before)+string(a.After), value) {
			t.Errorf("entry %+v", a)
		}
	}
	// Every trigger is recorded, those whose run failed too.
	if got, want := strings.Join(actions, ","), "secret.delete,task.trigger,task.trigger,secret.set,task.trigger"; got != want {
		t.Errorf("audit actions %s, want %s", got, want)
	}
}

// TestCLIChangesAreAudited makes each change the command line makes on
// the store directly and finds it in the audit log, by cli:USER.
func TestCLIChangesAreAudited(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	in := filepath.Join(t.TempDir(), "tasks.json")
	mustWrite(t, in, []byte(`{"version": "1.0", "tasks": [{"name": "hello", "appName": "demo", "schedule": "*/5 * * * *"}]}`))
	archive := filepath.Join(t.TempDir(), "out")
	steps := []struct {
		args   []string
		action string
		app    string
		after  string
	}{
		{[]string{"token", "create", "--role", "viewer", "--name", "ci"}, "token.create", "", `"ci"`},
		{[]string{"token", "revoke", "1"}, "token.revoke", "", `"revoked"`},
		{[]string{"task", "disable", "demo/hello"}, "task.disable", "demo", `"enabled":false`},
		{[]string{"task", "enable", "demo/hello"}, "task.enable", "demo", `"enabled":true`},
		{[]string{"config", "import", in}, "config.import", "demo", `*/5 * * * *`},
		{[]string{"app", "disable", "demo"}, "app.disable", "demo", `"enabled":false`},
		{[]string{"app", "enable", "demo"}, "app.enable", "demo", `"enabled":true`},
		{[]string{"app", "export", "demo", "--output", archive}, "", "", ""},
		{[]string{"app", "uninstall", "demo", "--yes"}, "app.uninstall", "demo", `"backup"`},
	}
	for _, st := range steps {
		code, out, errOut := cli(t, append(st.args, "--home", home)...)
		if code != 0 {
			t.Fatalf("%q: %d %s%s", st.args, code, out, errOut)
		}
		if st.action == "" {
			continue
		}
		list := auditLog(t, home, "--limit", "1")
		if len(list) != 1 {
			t.Fatalf("%q: no audit entry", st.args)
		}
		a := list[0]
		if a.Action != st.action || a.App != st.app || a.Actor != "cli:"+currentUser() || !strings.Contains(string(a.After), st.after) {
			t.Errorf("%q: entry %+v; want %s of %q after %s by cli:%s", st.args, a, st.action, st.app, st.after, currentUser())
		}
	}
	zips, _ := filepath.Glob(filepath.Join(archive, "*.zip"))
	if len(zips) != 1 {
		t.Fatalf("exports: %v", zips)
	}
	for i, want := range []string{"app.install", "app.upgrade"} {
		args := []string{"app", "install", zips[0], "--home", home}
		if i == 1 {
			args = append(args, "--upgrade")
		}
		if code, out, errOut := cli(t, args...); code != 0 {
			t.Fatalf("%q: %d %s%s", args, code, out, errOut)
		}
		if list := auditLog(t, home, "--limit", "1"); len(list) != 1 || list[0].Action != want || list[0].App != "demo" {
			t.Errorf("after %q: %+v; want %s", args, list, want)
		}
	}
	if list := auditLog(t, home, "--app", "demo", "--since", "1h"); len(list) != 8 {
		t.Errorf("audit --app demo --since 1h: %d entries, want 8", len(list))
	}
	st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if all, err := st.ListAudit(context.Background(), store.AuditFilter{}); err != nil || len(all) != 10 {
		t.Errorf("%d entries, %v; want 10", len(all), err)
	}
}

// TestAppInstallWarnsOfMissingSecrets installs an app whose task
// references a secret the store does not hold.
func TestAppInstallWarnsOfMissingSecrets(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	mustWrite(t, filepath.Join(home, "apps", "demo", "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
    environment: { TOKEN: "${secret:API_TOKEN}", PLAIN: x }
`))
	out := t.TempDir()
	if code, _, errOut := cli(t, "app", "export", "demo", "--home", home, "--output", out); code != 0 {
		t.Fatal(errOut)
	}
	zips, _ := filepath.Glob(filepath.Join(out, "*.zip"))
	other := t.TempDir()
	code, _, errOut := cli(t, "app", "install", zips[0], "--home", other)
	if code != 0 || !strings.Contains(errOut, "${secret:API_TOKEN}") || !strings.Contains(errOut, "cronbox secret set demo API_TOKEN") {
		t.Errorf("install: %d %q; want a warning of the missing secret", code, errOut)
	}
}
