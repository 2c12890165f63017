package main

import (
	"encoding/json"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestVersion checks that `cronbox version` reports the Go version the
// binary was built with and the wazero version it links.
func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cli(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if v.Go != goruntime.Version() {
		t.Errorf("go %q; want %q", v.Go, goruntime.Version())
	}
	if !strings.HasPrefix(v.Wazero, "v1.") {
		t.Errorf("wazero %q; want the version in go.mod", v.Wazero)
	}
	if v.Version == "" || v.Commit == "" {
		t.Errorf("empty fields: %+v", v)
	}
	code, stdout, _ = cli(t, "version")
	if code != 0 || !strings.Contains(stdout, "wazero "+v.Wazero+"\n") || !strings.Contains(stdout, goruntime.Version()) {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}
