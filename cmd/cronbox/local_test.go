package main

import (
	"encoding/json"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTriggerThroughServe checks that `cronbox task trigger` hands the run
// to a serve running on the home, over its local socket, and runs it
// itself once serve has stopped.
func TestTriggerThroughServe(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	_, stop, logs := startServe(t, home)
	if _, err := os.Stat(socketPath(home)); err != nil {
		t.Fatalf("no local socket: %v\n%s", err, logs())
	}
	// A second serve on the same home does not take the socket over.
	if _, err := listenLocal(home); err == nil || !strings.Contains(err.Error(), "another cronbox serve") {
		t.Errorf("listenLocal beside a running serve: %v", err)
	}

	code, stdout, stderr := cli(t, "task", "trigger", "demo/hello", "--home", home, "--json")
	if code != 0 {
		t.Fatalf("trigger through serve: exit %d\n%s%s", code, stdout, stderr)
	}
	var run struct {
		ID                            int64
		Status, Trigger, User, Output string
	}
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("trigger --json: %v: %s", err, stdout)
	}
	if run.Status != "succeeded" || run.Trigger != "manual" || run.User != "token:local" || !strings.Contains(run.Output, "hello") {
		t.Errorf("run %+v; want a manual run by the local user that succeeded", run)
	}
	if !strings.Contains(logs(), "run triggered") {
		t.Errorf("serve's log does not show the run:\n%s", logs())
	}
	if code, _, stderr := cli(t, "task", "trigger", "demo/nope", "--home", home); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("trigger of an unknown task through serve: exit %d, %s", code, stderr)
	}

	// enable and disable are serve's changes too, applied at once.
	code, stdout, stderr = cli(t, "task", "disable", "demo/hello", "--home", home, "--json")
	if code != 0 || !strings.Contains(stdout, `"enabled": false`) {
		t.Fatalf("disable through serve: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(logs(), "task updated") {
		t.Errorf("serve's log does not show the task disabled:\n%s", logs())
	}
	_, stdout, _ = cli(t, "task", "list", "--home", home, "--json")
	var tasks []struct {
		App, Task string
		Enabled   bool
	}
	if err := json.Unmarshal([]byte(stdout), &tasks); err != nil || !slices.Contains(tasks, struct {
		App, Task string
		Enabled   bool
	}{"demo", "hello", false}) {
		t.Errorf("after disable through serve, task list shows (%v):\n%s", err, stdout)
	}
	if code, stdout, stderr := cli(t, "task", "enable", "demo/hello", "--home", home); code != 0 || stdout != "demo/hello enabled\n" {
		t.Errorf("enable through serve: exit %d, %q %s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "task", "enable", "demo/nope", "--home", home); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("enable of an unknown task through serve: exit %d, %s", code, stderr)
	}

	// The serve made the changes, for the home's owner: its audit log
	// names the actor local.
	var actions []string
	for _, a := range auditLog(t, home, "--actor", "local") {
		actions = append(actions, a.Action+" "+a.Target)
	}
	if got, want := strings.Join(actions, ", "), "task.enable demo/hello, task.disable demo/hello, task.trigger demo/hello"; got != want {
		t.Errorf("audit entries by local: %s; want %s", got, want)
	}

	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited with %d: %s", code, stderr)
	}
	if _, err := os.Stat(socketPath(home)); !os.IsNotExist(err) {
		t.Errorf("local socket left after serve stopped (%v)", err)
	}
	code, stdout, stderr = cli(t, "task", "trigger", "demo/hello", "--home", home, "--json")
	if code != 0 || strings.Contains(stdout, "token:local") {
		t.Errorf("trigger without serve: exit %d, %s%s; want a run of its own", code, stdout, stderr)
	}
}

// TestListenLocalReplacesStaleSocket takes over a socket file that no
// serve answers on, as a killed serve leaves it.
func TestListenLocalReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	mustWrite(t, socketPath(home), nil)
	ln, err := listenLocal(home)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", socketPath(home))
	if err != nil {
		t.Fatalf("dialing the new socket: %v", err)
	}
	c.Close()
	fi, err := os.Stat(socketPath(home))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
}
