package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/runtime"
)

func TestGuestGrantsOnlyWhatTheAppHas(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	task := app.Task{App: "a", Name: "t", Args: []string{"-v"}, Environment: map[string]string{"B": "2", "A": "1"},
		Limits: runtime.Limits{Memory: 32 << 20}, Config: []byte(`{"k":1}`)}

	tests := []struct {
		name  string
		perms app.Permissions
	}{
		{name: "nothing", perms: app.Permissions{}},
		{name: "everything", perms: app.Permissions{KV: true, Files: true, HTTP: []string{"api.example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newGuest(home, st, task, guestApp{Permissions: tt.perms, Quotas: app.Quotas{KV: 1 << 20, Files: 1 << 20}}, 7, []byte(`{"in":1}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Call.Close()
			if (g.Call.KV != nil) != tt.perms.KV || (g.Call.HTTP != nil) != (len(tt.perms.HTTP) > 0) {
				t.Fatalf("KV %v, HTTP %v for %+v", g.Call.KV != nil, g.Call.HTTP, tt.perms)
			}
			if g.Call.HTTP != nil && !slices.Equal(g.Call.HTTP.Allow, tt.perms.HTTP) {
				t.Fatalf("allow-list %v", g.Call.HTTP.Allow)
			}
			if string(g.Call.Input) != `{"in":1}` || string(g.Call.Config) != `{"k":1}` {
				t.Fatalf("input %s config %s", g.Call.Input, g.Call.Config)
			}
			s := g.Spec
			if s.ID != "7" || !slices.Equal(s.Args, []string{"t", "-v"}) || !slices.Equal(s.Env, []string{"A=1", "B=2"}) || s.Limits != task.Limits {
				t.Fatalf("spec %+v", s)
			}
			dir := filepath.Join(home, "data", "files", "a")
			if tt.perms.Files {
				if len(s.Mounts) != 1 || s.Mounts[0].HostDir != dir || s.Mounts[0].GuestPath != "/data" ||
					s.Mounts[0].Quota == nil || s.Mounts[0].Quota != g.Files || g.Files.Limit() != 1<<20 {
					t.Fatalf("mounts %+v, files quota %v", s.Mounts, g.Files)
				}
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					t.Fatalf("file directory not created: %v", err)
				}
			} else if len(s.Mounts) != 0 {
				t.Fatalf("mounts %+v without the files permission", s.Mounts)
			}
		})
	}
}
