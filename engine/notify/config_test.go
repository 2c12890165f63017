package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/app"
)

func TestLoadServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cronbox.yaml")
	os.WriteFile(path, []byte(`notify:
  publicURL: https://cronbox.example.com/
  allow: [hooks.slack.com, "*.example.com"]
  smtp:
    addr: smtp.example.com:587
    from: cronbox@example.com
    username: cronbox
    password: ${secret:SMTP_PASSWORD}
    requireTLS: true
  channels:
    - slack: ${secret:OPS_SLACK}
      on: [failed, load_error]
`), 0o644)
	s, err := LoadServer(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicURL != "https://cronbox.example.com" || len(s.Allow) != 2 || s.AllowLoopback ||
		s.SMTP.Addr != "smtp.example.com:587" || !s.SMTP.RequireTLS || s.SMTP.Password != "${secret:SMTP_PASSWORD}" ||
		len(s.Channels) != 1 || s.Channels[0].Kind != app.ChannelSlack || s.Channels[0].URL != "${secret:OPS_SLACK}" || s.Channels[0].Window != 10*time.Minute {
		t.Errorf("LoadServer = %+v", s)
	}
}

func TestParseServerProblems(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"notify:\n  publicURl: x\n", `cronbox.yaml:2:3: notify: unknown field "publicURl"; did you mean "publicURL"?`},
		{"notfy: {}\n", `cronbox.yaml:1:1: unknown field "notfy"`},
		{"notify:\n  smtp: {addr: nohost, from: a@example.com}\n", `notify.smtp.addr: "nohost" is not a host:port`},
		{"notify:\n  allow: [\"a b\"]\n", `notify.allow[0]:`},
		{"notify:\n  channels:\n    - webhook: ftp://x/\n", `cronbox.yaml:3:16: notify.channels[0].webhook:`},
		{"notify:\n  allowLoopback: yes please\n", `notify.allowLoopback: want true or false`},
	} {
		_, err := ParseServer([]byte(tt.yaml), "cronbox.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseServer(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// FuzzParseServer: any file gives a Server or an error naming the file;
// never a panic.
func FuzzParseServer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseServer(data, "cronbox.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "cronbox.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, ch := range s.Channels {
			if ch.Name == "" || ch.Kind == "" || ch.Window <= 0 {
				t.Fatalf("incomplete channel %+v", ch)
			}
		}
	})
}
