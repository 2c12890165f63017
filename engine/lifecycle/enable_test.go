package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cronbox/cronbox/engine/app"
)

func writeApp(t *testing.T, home, name, manifest string) string {
	t.Helper()
	dir := filepath.Join(home, "apps", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, app.ManifestPath), []byte(manifest), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		enabled bool
		want    string
	}{
		{
			name:    "replaces in place",
			in:      "# my app\nname: a   # the name\nenabled: true # on\nversion: 1.0\n",
			enabled: false,
			want:    "# my app\nname: a   # the name\nenabled: false # on\nversion: 1.0\n",
		},
		{
			name:    "adds after the first field",
			in:      "name: a # x\n\n# perms\npermissions:\n  kv: true\n",
			enabled: false,
			want:    "name: a # x\nenabled: false\n\n# perms\npermissions:\n  kv: true\n",
		},
		{
			name:    "adds at the end without newline",
			in:      "name: a",
			enabled: true,
			want:    "name: a\nenabled: true\n",
		},
		{
			name:    "unchanged",
			in:      "name: a\nenabled: false\n",
			enabled: false,
			want:    "name: a\nenabled: false\n",
		},
		{
			name:    "quoted value is re-encoded",
			in:      "name: a\nenabled: \"true\"\n",
			enabled: false,
			want:    "name: a\nenabled: false\n",
		},
		{
			name:    "multi-line first value is re-encoded",
			in:      "description: a\n  b\nname: a\n",
			enabled: false,
			want:    "description: a b\nname: a\nenabled: false\n",
		},
		{
			name:    "flow mapping is re-encoded",
			in:      "{name: a, version: '1'}\n",
			enabled: false,
			want:    "{name: a, version: '1', enabled: false}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			dir := writeApp(t, home, "a", tt.in)
			if err := SetEnabled(home, "a", tt.enabled); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, app.ManifestPath)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("app.yaml =\n%s\nwant\n%s", got, tt.want)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640 kept", fi.Mode())
			}
			a, err := app.Load(dir, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Manifest.Enabled != tt.enabled {
				t.Errorf("loaded enabled = %v", a.Manifest.Enabled)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("app folder holds %d entries, want only app.yaml (no temporary files)", len(ents))
			}
		})
	}
}

func TestSetEnabledErrors(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	writeApp(t, home, "broken", "name: [\n")
	writeApp(t, home, "list", "- name\n")
	os.MkdirAll(filepath.Join(home, "apps", "empty"), 0o755)
	tests := []struct {
		name    string
		app     string
		wantErr error
	}{
		{"missing app", "nope", ErrNotFound},
		{"missing app.yaml", "empty", ErrNotFound},
		{"path trick", "../x", app.ErrInvalidName},
		{"absolute", "/etc", app.ErrInvalidName},
		{"not YAML", "broken", nil},
		{"not a mapping", "list", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := SetEnabled(home, tt.app, false)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
