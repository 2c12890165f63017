package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	good := `current-context: prod
contexts:
  - name: prod
    server: https://cron.example.com
    token: cbx_a
    ca: /etc/ca.pem
  - name: lab
    server: http://127.0.0.1:8080/
    token: cbx_b
`
	cf, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cf.Find("")
	if err != nil || c.Name != "prod" || c.Server != "https://cron.example.com" || c.Token != "cbx_a" || c.CA != "/etc/ca.pem" {
		t.Errorf("current context %+v, %v", c, err)
	}
	if c, err := cf.Find("lab"); err != nil || c.Token != "cbx_b" {
		t.Errorf("lab %+v, %v", c, err)
	}
	if _, err := cf.Find("nope"); err == nil || !strings.Contains(err.Error(), `no context "nope"`) {
		t.Errorf("Find(nope): %v", err)
	}
	if cf, err := ParseConfig(nil); err != nil || len(cf.Contexts) != 0 {
		t.Errorf("empty file: %+v, %v", cf, err)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field":      {"contexts: []\ncurrent: x\n", "field current not found"},
		"duplicate name":     {"contexts:\n- {name: a, server: 'http://h', token: t}\n- {name: a, server: 'http://h', token: t}\n", `two contexts are named "a"`},
		"bad server":         {"contexts:\n- {name: a, server: 'ftp://h', token: t}\n", "want http:// or https://"},
		"no token":           {"contexts:\n- {name: a, server: 'http://h'}\n", "want a token"},
		"bad name":           {"contexts:\n- {name: 'a b', server: 'http://h', token: t}\n", "letters, digits"},
		"missing current":    {"current-context: x\ncontexts: []\n", `current-context "x"`},
		"two documents":      {"contexts: []\n---\ncontexts: []\n", "more than one"},
		"not a mapping":      {"- a\n", "cannot unmarshal"},
		"token with a space": {"contexts:\n- {name: a, server: 'http://h', token: 'a b'}\n", "without spaces"},
	} {
		if _, err := ParseConfig([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", name, err, tc.want)
		}
	}
}

// TestConfigSave checks that the file is written with mode 0600 in a
// folder of mode 0700, and reads back as it was.
func TestConfigSave(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox", "config.yaml")
	cf := &ConfigFile{}
	cf.Put(Context{Name: "a", Server: "http://h:1", Token: "t1"})
	cf.Put(Context{Name: "a", Server: "http://h:2", Token: "t2"})
	cf.CurrentContext = "a"
	if err := cf.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, %v; want 0700", di.Mode(), err)
	}
	back, err := LoadConfig(path)
	if err != nil || len(back.Contexts) != 1 || back.Contexts[0].Server != "http://h:2" || back.CurrentContext != "a" {
		t.Errorf("read back %+v, %v", back, err)
	}
	// A config that fails its check is not written.
	cf.CurrentContext = "gone"
	if err := cf.Save(path); err == nil {
		t.Error("saved a config whose current context does not exist")
	}
	if back, err := LoadConfig(path); err != nil || back.CurrentContext != "a" {
		t.Errorf("after a refused save: %+v, %v", back, err)
	}
}

func TestConfigPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x/conf")
	if p, err := ConfigPath(); err != nil || p != "/x/conf/cronbox/config.yaml" {
		t.Errorf("with XDG_CONFIG_HOME: %q, %v", p, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/ada")
	if p, err := ConfigPath(); err != nil || p != "/home/ada/.config/cronbox/config.yaml" {
		t.Errorf("without: %q, %v", p, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "rel")
	if _, err := ConfigPath(); err == nil {
		t.Error("a relative XDG_CONFIG_HOME was taken")
	}
}

// FuzzParseConfig checks that no config file makes the parser panic or
// hang, and that what it accepts passes its check and survives a save.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := cf.Check(); err != nil {
			t.Fatalf("accepted a config that fails its check: %v", err)
		}
		for _, c := range cf.Contexts {
			if _, err := cf.Find(c.Name); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := cf.Save(path); err != nil {
			t.Fatalf("saving an accepted config: %v", err)
		}
		back, err := LoadConfig(path)
		if err != nil || len(back.Contexts) != len(cf.Contexts) || back.CurrentContext != cf.CurrentContext {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, cf)
		}
	})
}
