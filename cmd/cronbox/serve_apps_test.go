package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// TestServeAppLifecycle drives serve's wiring of the app lifecycle to the
// home: an upload is installed into apps/ and runs, validated, exported
// and uninstalled with a backup; an upload a killed serve left behind is
// removed at start.
func TestServeAppLifecycle(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	stale := filepath.Join(home, "data", "staging", ".upload-123.zip")
	mustWrite(t, stale, []byte("half an upload"))

	// A token, made before serve starts (so it makes none itself).
	token := "cbx_test-admin-token"
	st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.CreateToken(context.Background(), store.Token{Name: "test", Hash: store.HashToken(token), Role: "admin"})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	addr, _, logs := startServe(t, home)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale upload still there (%v)", err)
	}
	do := func(method, path, contentType string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// An app zipped by hand, as another machine would export it.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, content := range map[string][]byte{
		"extra/app.yaml":          []byte("name: extra\nversion: 2.0.0\n"),
		"extra/config/tasks.yaml": []byte("tasks:\n  - name: hi\n    module: tasks/hi.wasm\n"),
		"extra/tasks/hi.wasm":     wasmtest.Hello(),
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if code, body := do("POST", "/api/v1/apps", "application/zip", zbuf.Bytes()); code != http.StatusCreated {
		t.Fatalf("install: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(home, "apps", "extra", "tasks", "hi.wasm")); err != nil {
		t.Fatalf("installed app not in apps/: %v", err)
	}
	runEnd := runEnds(t, addr, token)
	if code, body := do("POST", "/api/v1/tasks/extra/hi/trigger", "", nil); code != http.StatusAccepted {
		t.Fatalf("trigger the installed task: %d %s", code, body)
	}
	if code, body := do("GET", "/api/v1/apps/extra/validation", "", nil); code != http.StatusOK || !strings.Contains(string(body), `"errors":[]`) {
		t.Errorf("validation: %d %s", code, body)
	}
	code, body := do("GET", "/api/v1/apps/extra/export", "", nil)
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, body)
	}
	if _, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); err != nil {
		t.Errorf("export is not a zip: %v", err)
	}

	// Uninstall waits for nothing: the run of hi must have ended first.
	if data, ok := runEnd("extra", "hi"); !ok || !strings.Contains(data, `"status":"succeeded"`) {
		t.Fatalf("the run of extra/hi: %q\n%s", data, logs())
	}
	code, body = do("DELETE", "/api/v1/apps/extra", "", nil)
	if code != http.StatusOK {
		t.Fatalf("uninstall: %d %s", code, body)
	}
	var un struct{ Backup string }
	if err := json.Unmarshal(body, &un); err != nil || un.Backup == "" {
		t.Fatalf("uninstall answer %s: %v", body, err)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "backups", un.Backup)); err != nil {
		t.Errorf("backup %s: %v", un.Backup, err)
	}
	if _, err := os.Stat(filepath.Join(home, "apps", "extra")); !os.IsNotExist(err) {
		t.Errorf("apps/extra still there after uninstall (%v)", err)
	}
	if code, _ := do("GET", "/api/v1/tasks/extra/hi", "", nil); code != http.StatusNotFound {
		t.Errorf("task of the uninstalled app: %d, want 404", code)
	}
}
