package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testHome returns a home with one app, demo, whose task hello runs every
// second.
func testHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	app := filepath.Join(home, "apps", "demo")
	mustWrite(t, filepath.Join(app, "app.yaml"), []byte("name: demo\n"))
	mustWrite(t, filepath.Join(app, "config", "tasks.yaml"), []byte(`tasks:
  - name: hello
    schedule: "@every 1s"
    concurrency: allow # a manual trigger may meet a scheduled run
  - name: spin
    termination: { maxRuntime: 500ms }
`))
	mustWrite(t, filepath.Join(app, "tasks", "hello.wasm"), wasmtest.Hello())
	mustWrite(t, filepath.Join(app, "tasks", "spin.wasm"), wasmtest.Spin())
	return home
}

// startServe runs `cronbox serve` on home in-process and returns its
// address, a function that stops it and returns its exit code and stderr,
// and one that returns its stderr so far. flags are more flags of serve.
func startServe(t *testing.T, home string, flags ...string) (addr string, stop func() (int, string), logs func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	e := &env{stdout: io.Discard, stderr: &stderr, listening: func(a net.Addr) { addrs <- a }}
	args := append([]string{"serve", "--home", home, "--listen", "127.0.0.1:0"}, flags...)
	go func() { done <- run(ctx, e, args) }()
	select {
	case a := <-addrs:
		addr = a.String()
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d before listening: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not listen: %s", stderr.String())
	}
	var once sync.Once
	var code int
	stop = func() (int, string) {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("serve did not stop: %s", stderr.String())
			}
		})
		return code, stderr.String()
	}
	t.Cleanup(func() { stop() })
	return addr, stop, stderr.String
}

// runEnds follows the event stream of serve at addr with token, and
// returns a function that waits for the next run.finished of app/task and
// returns its data, or false if none came within 20 seconds.
func runEnds(t *testing.T, addr, token string) func(app, task string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET /api/v1/events: %s", resp.Status)
	}
	ends := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"type":"run.finished"`) {
				select {
				case ends <- data:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return func(app, task string) (string, bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case data := <-ends:
				if strings.Contains(data, `"app":"`+app+`"`) && strings.Contains(data, `"task":"`+task+`"`) {
					return data, true
				}
			case <-deadline:
				return "", false
			}
		}
	}
}

func helloRuns(t *testing.T, st store.RunReader) int {
	t.Helper()
	runs, err := st.ListRuns(context.Background(), store.RunFilter{Task: "hello", Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

func TestServe(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	addr, stop, logs := startServe(t, home)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("GET /healthz: %s %q", resp.Status, body)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, token, stderr := cli(t, "token", "create", "--role", "viewer", "--name", "test", "--home", home)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// The schedule runs demo/hello: its run ends in the event stream.
	if data, ok := runEnds(t, addr, strings.TrimSpace(token))("demo", "hello"); !ok || !strings.Contains(data, `"status":"succeeded"`) {
		_, stderr := stop()
		t.Fatalf("demo/hello's run: %q; serve's log:\n%s", data, stderr)
	}

	// A task disabled by the CLI, through serve, stops firing: serve has
	// applied the change when the CLI returns, and holds no next fire.
	if code, _, stderr := cli(t, "task", "disable", "demo/hello", "--home", home); code != 0 {
		t.Fatalf("task disable: exit %d: %s", code, stderr)
	}
	before := helloRuns(t, st)
	if !strings.Contains(logs(), "task updated") {
		t.Errorf("serve's log does not show the task disabled:\n%s", logs())
	}
	resp = get("/api/v1/tasks/demo/hello")
	var task struct {
		Enabled bool
		Next    *time.Time
	}
	err = json.NewDecoder(resp.Body).Decode(&task)
	resp.Body.Close()
	if err != nil || task.Enabled || task.Next != nil {
		t.Errorf("demo/hello after disable: %+v (%v), want disabled with no next fire", task, err)
	}

	code, stderr = stop()
	if code != 0 {
		t.Fatalf("serve exited with %d: %s", code, stderr)
	}
	if after := helloRuns(t, st); after > before+1 { // one fire may have been under way
		t.Errorf("demo/hello ran %d times after it was disabled", after-before)
	}
	if !strings.Contains(stderr, "msg=listening") {
		t.Errorf("serve's log lacks the listening line:\n%s", stderr)
	}
	running, err := st.ListRuns(ctx, store.RunFilter{Statuses: []store.Status{store.StatusRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 0 {
		t.Errorf("runs left running after serve stopped: %+v", running)
	}
}

func TestServeFlags(t *testing.T) {
	t.Parallel()
	if code, _, stderr := cli(t, "serve", "--log-format", "xml"); code != exitUsage || !strings.Contains(stderr, "want text or json") {
		t.Errorf("--log-format xml: exit %d, %s", code, stderr)
	}
	if code, _, _ := cli(t, "serve", "extra"); code != exitUsage {
		t.Errorf("serve extra: exit %d", code)
	}
}
