package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalConnections checks that a request over a Unix socket served
// with LocalContext acts as the local admin without a token, and that
// LocalContext marks nothing else local.
func TestLocalConnections(t *testing.T) {
	f := newFixture(t)
	dir, err := os.MkdirTemp("", "cbx") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.srv.Handler(), ConnContext: f.srv.LocalContext}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://cronbox"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/api/v1/tasks"); code != http.StatusOK || !strings.Contains(body, `"app":"other"`) {
		t.Errorf("local GET /tasks = %d %s; want every app's tasks", code, body)
	}
	if code, body := do("POST", "/api/v1/tasks/hello/greet/trigger"); code != http.StatusAccepted || !strings.Contains(body, `"user":"token:local"`) {
		t.Errorf("local trigger = %d %s; want 202 by the local user", code, body)
	}
	if code, body := do("GET", "/api/v1/apps/hello/validation"); code != http.StatusOK {
		t.Errorf("local validation (any role) = %d %s", code, body)
	}

	// The same server on TCP with LocalContext: nothing is local.
	tcp := httptest.NewUnstartedServer(f.srv.Handler())
	tcp.Config.ConnContext = f.srv.LocalContext
	tcp.Start()
	defer tcp.Close()
	resp, err := http.Get(tcp.URL + "/api/v1/tasks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("TCP GET /tasks without a token = %d, want 401", resp.StatusCode)
	}
}
