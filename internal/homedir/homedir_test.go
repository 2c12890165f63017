package homedir

import (
	"path/filepath"
	"testing"
)

func TestPaths(t *testing.T) {
	h := Home("/srv/cb")
	for _, tt := range []struct{ got, want string }{
		{h.Apps(), "/srv/cb/apps"},
		{h.App("demo"), "/srv/cb/apps/demo"},
		{h.Data(), "/srv/cb/data"},
		{h.DB(), "/srv/cb/data/cronbox.db"},
		{h.Socket(), "/srv/cb/data/cronbox.sock"},
		{h.SecretKey(), "/srv/cb/data/secret.key"},
		{h.Cache(), "/srv/cb/data/cache"},
		{h.Files("demo"), "/srv/cb/data/files/demo"},
		{h.SDK(), "/srv/cb/data/sdk"},
		{h.Backups(), "/srv/cb/data/backups"},
		{h.Exports(), "/srv/cb/data/exports"},
		{h.Staging(), "/srv/cb/data/staging"},
		{Home("").App("demo"), "apps/demo"},
	} {
		if tt.got != filepath.FromSlash(tt.want) {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

// TestSDKFromApp checks that the path an app's go.mod names leads from
// the app's folder to the SDK's.
func TestSDKFromApp(t *testing.T) {
	h := Home(t.TempDir())
	got := filepath.Join(h.App("demo"), filepath.FromSlash(SDKFromApp("abc")))
	if want := filepath.Join(h.SDK(), "abc"); got != want {
		t.Errorf("SDKFromApp leads to %s, want %s", got, want)
	}
}
