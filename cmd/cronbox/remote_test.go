package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// remoteHome returns a home whose tasks run only when triggered (so that
// nothing changes between a local and a remote look at it), with the
// tokens of the roles made before serve starts: by name, admin, viewer
// and revoked.
func remoteHome(t *testing.T) (home string, tokens map[string]string) {
	t.Helper()
	home = t.TempDir()
	app := filepath.Join(home, "apps", "demo")
	mustWrite(t, filepath.Join(app, "app.yaml"), []byte("name: demo\nversion: 1.0.0\n"))
	mustWrite(t, filepath.Join(app, "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
  - name: nightly
    module: tasks/hello.wasm
    schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }
  - name: spin
    termination: { maxRuntime: 300ms }
`))
	mustWrite(t, filepath.Join(app, "tasks", "hello.wasm"), wasmtest.Hello())
	mustWrite(t, filepath.Join(app, "tasks", "spin.wasm"), wasmtest.Spin())
	st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tokens = map[string]string{}
	for _, tok := range []struct{ name, role string }{{"admin", "admin"}, {"viewer", "viewer"}, {"revoked", "admin"}} {
		secret := "cbx_test-" + tok.name
		id, err := st.CreateToken(context.Background(), store.Token{Name: tok.name, Hash: store.HashToken(secret), Role: tok.role})
		if err != nil {
			t.Fatal(err)
		}
		if tok.name == "revoked" {
			if err := st.RevokeToken(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		tokens[tok.name] = secret
	}
	return home, tokens
}

// cliIn runs the command line in-process with stdin.
func cliIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errOut, stdin: strings.NewReader(stdin)}, args)
	return code, out.String(), errOut.String()
}

// TestRemote runs each command that acts on a home against a serve of
// that home with --server, and compares what it prints with what the
// same command prints run on the home itself.
func TestRemote(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no config file
	home, tokens := remoteHome(t)
	addr, _, logs := startServe(t, home)
	server := "http://" + addr
	t.Setenv("CRONBOX_TOKEN", tokens["admin"])

	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s\nserve's log:\n%s", args, code, stderr, logs())
		}
		return stdout
	}
	// same runs args on the home and on the server and wants the same
	// output.
	same := func(args ...string) string {
		t.Helper()
		local := must(append(args, "--home", home)...)
		remote := must(append(args, "--server", server)...)
		if local != remote {
			t.Errorf("%q: local and remote differ\nlocal:\n%s\nremote:\n%s", args, local, remote)
		}
		return remote
	}

	if out := must("task", "trigger", "demo/hello", "--server", server); out != "hello\n" {
		t.Errorf("trigger: stdout %q", out)
	}
	if code, _, stderr := cli(t, "task", "trigger", "demo/spin", "--server", server); code != 1 || !strings.Contains(stderr, "timed_out") {
		t.Errorf("trigger of a run that times out: exit %d: %s", code, stderr)
	}
	list := same("task", "list", "--json")
	for _, want := range []string{`"task": "nightly"`, `"cron": "0 3 * * *"`, `"timezone": "Europe/Berlin"`, `"lastStatus": "timed_out"`} {
		if !strings.Contains(list, want) {
			t.Errorf("task list lacks %q:\n%s", want, list)
		}
	}
	same("task", "list")
	runs := same("runs", "--json")
	if !strings.Contains(runs, `"status": "succeeded"`) || !strings.Contains(runs, `"status": "timed_out"`) {
		t.Errorf("runs:\n%s", runs)
	}
	same("runs", "--task", "demo/spin")
	same("runs", "--status", "succeeded", "--json")

	if out := must("task", "disable", "demo/hello", "--server", server, "--json"); !strings.Contains(out, `"enabled": false`) {
		t.Errorf("disable: %s", out)
	}
	if list := same("task", "list", "--json"); !strings.Contains(list, "\"task\": \"hello\",\n    \"schedule\": \"\",\n    \"enabled\": false") {
		t.Errorf("hello still enabled:\n%s", list)
	}
	must("task", "enable", "demo/hello", "--server", server)

	same("app", "validate", "demo")
	if out := must("app", "disable", "demo", "--server", server); out != "app demo disabled\n" {
		t.Errorf("app disable: %q", out)
	}
	if out := must("app", "enable", "demo", "--server", server, "--json"); out != "{\n  \"app\": \"demo\",\n  \"enabled\": true\n}\n" {
		t.Errorf("app enable --json: %q", out)
	}

	out := t.TempDir()
	exported := must("app", "export", "demo", "--server", server, "--output", out)
	zips, _ := filepath.Glob(filepath.Join(out, "demo-v1.0.0-*.zip"))
	if len(zips) != 1 || !strings.Contains(exported, "exported demo (4 files) to "+zips[0]) {
		t.Fatalf("export: %q; zips %v", exported, zips)
	}
	if out := must("app", "uninstall", "demo", "--yes", "--server", server); !strings.HasPrefix(out, "uninstalled demo; backup in demo-v1.0.0-") {
		t.Errorf("uninstall: %q", out)
	}
	if out := must("app", "install", zips[0], "--server", server); out != "installed demo 1.0.0 (4 files, hashes verified)\n" {
		t.Errorf("install: %q", out)
	}
	if code, _, stderr := cli(t, "app", "install", zips[0], "--server", server); code != 1 || stderr != "cronbox app install: app already installed: demo; add --upgrade to replace it\n" {
		t.Errorf("install again: exit %d: %q", code, stderr)
	}
	if out := must("app", "install", filepath.Join(home, "apps", "demo"), "--upgrade", "--server", server); !strings.HasPrefix(out, "upgraded demo 1.0.0 (4 files, hashes verified)\nthe previous version is in demo-v1.0.0-") {
		t.Errorf("upgrade from a folder: %q", out)
	}

	// Overrides: imported over the API, exported alike.
	tasksFile := filepath.Join(t.TempDir(), "tasks.json")
	mustWrite(t, tasksFile, []byte(`{"version":"1.0","lastModified":"2026-01-05T10:00:00Z","tasks":[{"name":"nightly","appName":"demo","schedule":"0 4 * * *"}]}`))
	if out := must("config", "import", tasksFile, "--server", server); out != "imported 1 overrides\n" {
		t.Errorf("config import: %q", out)
	}
	stamp := regexp.MustCompile(`"lastModified": "[^"]+"`)
	localExport := stamp.ReplaceAllString(must("config", "export", "--home", home), "")
	remoteExport := stamp.ReplaceAllString(must("config", "export", "--server", server), "")
	if localExport != remoteExport || !strings.Contains(remoteExport, `"schedule": "0 4 * * *"`) {
		t.Errorf("config export: local\n%s\nremote\n%s", localExport, remoteExport)
	}
	if list := must("task", "list", "--server", server); !strings.Contains(list, "demo/nightly  0 4 * * *") {
		t.Errorf("the import is not applied:\n%s", list)
	}

	// Tokens: made over the API, listed alike, revoked.
	made := strings.TrimSpace(must("token", "create", "--role", "viewer", "--name", "ci", "--server", server))
	if !strings.HasPrefix(made, "cbx_") {
		t.Fatalf("token create: %q", made)
	}
	tokens["made"] = made
	tokenList := same("token", "list", "--json")
	if !strings.Contains(tokenList, `"name": "ci"`) {
		t.Errorf("token list:\n%s", tokenList)
	}
	same("token", "list")
	var id string
	for _, line := range strings.Split(must("token", "list", "--server", server), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "ci" {
			id = f[0]
		}
	}
	if out := must("token", "revoke", id, "--server", server, "--json"); !strings.Contains(out, `"revoked": true`) {
		t.Errorf("token revoke --json: %q", out)
	}

	// Secrets: the value from stdin, never printed; listed alike; each
	// change in the audit log, which reads alike.
	const secretValue = "rEm0te-S3cret-v4lue"
	if code, stdout, stderr := cliIn(t, secretValue+"\n", "secret", "set", "demo", "API_KEY", "--server", server); code != 0 ||
		stderr != "secret API_KEY of demo set\n" || strings.Contains(stdout+stderr, secretValue) {
		t.Fatalf("secret set: exit %d: %q %q\nserve's log:\n%s", code, stdout, stderr, logs())
	}
	if list := same("secret", "list", "demo", "--json"); !strings.Contains(list, `"name": "API_KEY"`) || strings.Contains(list, secretValue) {
		t.Errorf("secret list:\n%s", list)
	}
	if list := same("secret", "list", "demo"); !strings.HasPrefix(list, "NAME     UPDATED\nAPI_KEY  ") {
		t.Errorf("secret list:\n%s", list)
	}
	if code, _, stderr := cli(t, "secret", "delete", "demo", "API_KEY", "--server", server); code != 0 || stderr != "secret API_KEY of demo deleted\n" {
		t.Errorf("secret delete: exit %d: %q", code, stderr)
	}
	if list := same("secret", "list", "demo", "--json"); list != "[]\n" {
		t.Errorf("secret list after delete:\n%s", list)
	}
	audit := same("audit", "--json", "--app", "demo", "--since", "1h")
	for _, want := range []string{`"actor": "token:admin"`, `"action": "secret.set"`, `"action": "secret.delete"`, `"target": "API_KEY"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, secretValue) {
		t.Errorf("audit holds the secret's value:\n%s", audit)
	}
	same("audit")
	if one := same("audit", "--action", "secret.set", "--limit", "1", "--json"); strings.Count(one, `"id"`) != 1 || !strings.Contains(one, `"action": "secret.set"`) {
		t.Errorf("audit --action secret.set --limit 1:\n%s", one)
	}

	// The server's own error messages.
	for _, tc := range []struct {
		token string
		args  []string
		want  string
	}{
		{"admin", []string{"task", "trigger", "demo/nope"}, "cronbox: task not found\n"},
		{"viewer", []string{"task", "trigger", "demo/hello"}, "the token's role may not do this"},
		{"revoked", []string{"task", "list"}, "a valid token is needed: send Authorization: Bearer <token>, or log in (the token is missing, wrong, expired or revoked: `cronbox login` stores a new one)\n"},
		{"admin", []string{"runs", "--status", "nope"}, "cronbox: status \"nope\" is not one of running"},
		{"made", []string{"runs"}, "a valid token is needed"},
		{"viewer", []string{"token", "list"}, "the token's role may not do this"},
		{"viewer", []string{"secret", "set", "demo", "API_KEY"}, "cronbox: the token's role may not do this"},
		{"viewer", []string{"audit"}, "the token's role may not do this"},
		{"admin", []string{"secret", "delete", "demo", "API_KEY"}, "cronbox: secret not found\n"},
		{"admin", []string{"secret", "list", "nope"}, "cronbox: app not found\n"},
		{"admin", []string{"app", "list"}, "app list works on a local home only"},
	} {
		t.Setenv("CRONBOX_TOKEN", tokens[tc.token])
		code, _, stderr := cliIn(t, "v4lue\n", append(tc.args, "--server", server)...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %q: exit %d: %q; want %q", tc.token, tc.args, code, stderr, tc.want)
		}
	}
	t.Setenv("CRONBOX_TOKEN", "")
	if code, _, stderr := cli(t, "task", "list", "--server", server); code != 1 || !strings.Contains(stderr, "no token for "+server+": set CRONBOX_TOKEN, or run `cronbox login") {
		t.Errorf("no token: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "task", "list", "--server", "ftp://x"); code != 1 || !strings.Contains(stderr, "want http:// or https://") {
		t.Errorf("bad URL: exit %d: %s", code, stderr)
	}
}

// TestLoginContexts checks login (the token from stdin, checked, stored
// with mode 0600 as the current context) and that commands find a
// context's server and token.
func TestLoginContexts(t *testing.T) {
	conf := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", conf)
	t.Setenv("CRONBOX_TOKEN", "")
	t.Setenv("CRONBOX_CA", "")
	home, tokens := remoteHome(t)
	addr, _, _ := startServe(t, home)
	server := "http://" + addr
	path := filepath.Join(conf, "cronbox", "config.yaml")

	if code, _, stderr := cliIn(t, tokens["revoked"]+"\n", "login", server, "--name", "lab"); code != 1 || !strings.Contains(stderr, "checking the token: a valid token is needed") {
		t.Errorf("login with a revoked token: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused login wrote the config file (%v)", err)
	}
	if code, _, stderr := cliIn(t, "", "login", server); code != 1 || !strings.Contains(stderr, "want the token") {
		t.Errorf("login without a token: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := cliIn(t, tokens["viewer"]+"\n", "login", server, "--name", "lab")
	if code != 0 || !strings.Contains(stdout, "as viewer of every app; context \"lab\" is current") {
		t.Fatalf("login: exit %d: %s%s", code, stdout, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v; want mode 0600", fi, err)
	}
	cf, err := client.LoadConfig(path)
	if err != nil || cf.CurrentContext != "lab" || len(cf.Contexts) != 1 || cf.Contexts[0].Token != tokens["viewer"] || cf.Contexts[0].Server != server {
		t.Fatalf("config file: %+v, %v", cf, err)
	}
	// A second login: the admin's, under another name.
	if code, _, stderr := cliIn(t, tokens["admin"], "login", server, "--name", "ops"); code != 0 {
		t.Fatalf("second login: exit %d: %s", code, stderr)
	}
	_, list, _ := cli(t, "context", "list")
	if want := "CURRENT  NAME  SERVER\n         lab   " + server + "\n*        ops   " + server + "\n"; list != want {
		t.Errorf("context list:\n%s\nwant:\n%s", list, want)
	}
	if _, out, _ := cli(t, "context", "list", "--json"); strings.Contains(out, "cbx_") {
		t.Errorf("context list shows a token:\n%s", out)
	}

	// The current context (ops, an admin) may trigger; lab, a viewer,
	// may not; --server finds the token of the first context for it.
	if code, stdout, stderr := cli(t, "task", "trigger", "demo/hello", "--remote"); code != 0 || stdout != "hello\n" {
		t.Errorf("--remote: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "task", "trigger", "demo/hello", "--context", "lab"); code != 1 || !strings.Contains(stderr, "the token's role may not do this") {
		t.Errorf("--context lab: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := cli(t, "runs", "--server", server); code != 0 || !strings.Contains(stdout, "demo/hello") {
		t.Errorf("--server with the config's token: exit %d: %s%s", code, stdout, stderr)
	}
	if code, stdout, _ := cli(t, "context", "use", "lab"); code != 0 || !strings.Contains(stdout, `context "lab"`) {
		t.Errorf("context use: exit %d: %s", code, stdout)
	}
	if code, _, stderr := cli(t, "task", "trigger", "demo/hello", "--remote"); code != 1 || !strings.Contains(stderr, "the token's role may not do this") {
		t.Errorf("--remote after use lab: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "context", "use", "nope"); code != 1 || !strings.Contains(stderr, `no context "nope"`) {
		t.Errorf("context use nope: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "task", "list", "--server", server, "--context", "lab"); code != 1 || !strings.Contains(stderr, "not several") {
		t.Errorf("--server and --context: exit %d: %s", code, stderr)
	}
}

// TestRemoteTLS checks https with a certificate the system does not
// trust: refused without --ca, taken with --ca or $CRONBOX_CA.
func TestRemoteTLS(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	home, tokens := remoteHome(t)
	addr, _, _ := startServe(t, home)
	target, _ := url.Parse("http://" + addr)
	ts := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	ts.StartTLS()
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	mustWrite(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	t.Setenv("CRONBOX_TOKEN", tokens["admin"])
	t.Setenv("CRONBOX_CA", "")

	if code, _, stderr := cli(t, "task", "list", "--server", ts.URL); code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("untrusted certificate: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := cli(t, "task", "list", "--server", ts.URL, "--ca", ca); code != 0 || !strings.Contains(stdout, "demo/nightly") {
		t.Errorf("--ca: exit %d: %s%s", code, stdout, stderr)
	}
	t.Setenv("CRONBOX_CA", ca)
	if code, stdout, stderr := cli(t, "task", "trigger", "demo/hello", "--server", ts.URL); code != 0 || stdout != "hello\n" {
		t.Errorf("CRONBOX_CA: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := cliIn(t, tokens["admin"], "login", ts.URL, "--name", "tls"); code != 0 {
		t.Fatalf("login over https: exit %d: %s", code, stderr)
	}
	t.Setenv("CRONBOX_CA", "")
	t.Setenv("CRONBOX_TOKEN", "")
	// The context keeps its CA file.
	if code, stdout, stderr := cli(t, "runs", "--remote"); code != 0 || !strings.Contains(stdout, "demo/hello") {
		t.Errorf("the context's CA: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "task", "list", "--server", ts.URL, "--ca", filepath.Join(home, "apps", "demo", "app.yaml")); code != 1 || !strings.Contains(stderr, "holds no PEM certificate") {
		t.Errorf("a CA file without certificates: exit %d: %s", code, stderr)
	}
}
