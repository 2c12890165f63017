package main

import (
	"encoding/json"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/secrets"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/notify"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestServeSendsNotifications: serve --config sends the engine's run ends to an
// app's webhook, signed, with links under --public-url, on either store.
func TestServeSendsNotifications(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); serveSendsNotifications(t, "") })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); serveSendsNotifications(t, pgtest.URL(t)) })
}

// serveSendsNotifications runs TestServeSendsNotifications on the store
// storeURL ("": the home's SQLite file).
func serveSendsNotifications(t *testing.T, storeURL string) {
	type hit struct {
		sig  string
		body []byte
	}
	hits := make(chan hit, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get(notify.SignatureHeader), b}
	}))
	defer rcv.Close()
	home := testHome(t)
	// The signing key is a secret of the app's, resolved when a message
	// is sent.
	st, err := openStore(t.Context(), home, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := secrets.OpenLazily(homedir.Home(home), st).Set(t.Context(), "demo", "HOOK_KEY", []byte("k3y")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	mustWrite(t, filepath.Join(home, "apps", "demo", "app.yaml"), []byte(`name: demo
notify:
  - webhook: `+rcv.URL+`/hook
    secret: ${secret:HOOK_KEY}
    on: [succeeded]
`))
	cfg := filepath.Join(home, "cronbox.yaml")
	mustWrite(t, cfg, []byte("notify:\n  allowLoopback: true\n  allow: [\""+strings.TrimPrefix(rcv.URL, "http://")+"\"]\n"))
	flags := []string{"--config", cfg, "--public-url", "https://cb.example.com/"}
	if storeURL != "" {
		flags = append(flags, "--store", storeURL)
	}
	_, stop, _ := startServe(t, home, flags...)
	var h hit
	select {
	case h = <-hits:
	case <-time.After(30 * time.Second):
		_, logs := stop()
		t.Fatalf("no notification arrived; serve's log:\n%s", logs)
	}
	if err := notify.Verify("k3y", h.sig, h.body, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	var m notify.Message
	if err := json.Unmarshal(h.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Event != "succeeded" || m.App != "demo" || m.Task != "hello" || m.Run == nil ||
		!strings.HasPrefix(m.Run.URL, "https://cb.example.com/runs/") {
		t.Errorf("message %s", h.body)
	}
	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited with %d: %s", code, stderr)
	}
}

func TestServeConfigErrors(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "cronbox.yaml")
	mustWrite(t, cfg, []byte("notify:\n  channels:\n    - slack: nope\n"))
	if code, _, stderr := cli(t, "serve", "--config", cfg); code != exitUsage || !strings.Contains(stderr, "cronbox.yaml:3:") {
		t.Errorf("--config with a bad channel: exit %d, %s", code, stderr)
	}
	if code, _, stderr := cli(t, "serve", "--public-url", "ftp://x"); code != exitUsage || !strings.Contains(stderr, "--public-url") {
		t.Errorf("--public-url ftp://x: exit %d, %s", code, stderr)
	}
}
