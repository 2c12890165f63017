package storeurl

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	tests := []struct {
		raw  string
		want Target
		err  string // in the error; "" for none
	}{
		{"", Target{Kind: SQLite, Path: filepath.Join(home, "data", "cronbox.db")}, ""},
		{"sqlite:/var/lib/cronbox/c.db", Target{Kind: SQLite, Path: "/var/lib/cronbox/c.db"}, ""},
		{"sqlite:rel/c.db", Target{Kind: SQLite, Path: "rel/c.db"}, ""},
		{"sqlite:///abs/c.db", Target{Kind: SQLite, Path: "/abs/c.db"}, ""},
		{"postgres://cronbox@db:5432/cronbox?sslmode=disable", Target{Kind: Postgres, URL: "postgres://cronbox@db:5432/cronbox?sslmode=disable"}, ""},
		{"postgresql://u:secret@db/c", Target{Kind: Postgres, URL: "postgresql://u:secret@db/c"}, ""},
		{"postgres:///c?host=/run/postgresql", Target{Kind: Postgres, URL: "postgres:///c?host=/run/postgresql"}, ""},
		{"sqlite:", Target{}, "no file"},
		{"postgres://", Target{}, "no host"},
		{"postgres://u:secret@db:port/c", Target{}, "does not parse"},
		{"mysql://db/c", Target{}, `unknown scheme "mysql"`},
		{"data/cronbox.db", Target{}, "want sqlite:PATH"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.raw, home)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Parse(%q) = %v; want an error saying %q", tt.raw, err, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q) = %v: the error quotes the password", tt.raw, err)
		}
	}
}

func TestTargetStringRedacts(t *testing.T) {
	t.Parallel()
	tg, err := Parse("postgres://u:secret@db/c", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := tg.String(); strings.Contains(s, "secret") {
		t.Errorf("String() = %q shows the password", s)
	}
}

// FuzzParse: any input parses or fails with ErrBadURL, never panics, and
// an error never quotes the password of a URL.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "sqlite:x.db", "postgres://u:pw@h:5432/d?sslmode=disable", "postgresql://h/d", "mysql://x", "sqlite:", "postgres://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Parse(raw, "/home")
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("Parse(%q) = %v, not ErrBadURL", raw, err)
			}
			if strings.Contains(raw, "postgres") && strings.Contains(raw, ":SECRETPW@") && strings.Contains(err.Error(), "SECRETPW") {
				t.Fatalf("Parse(%q) = %v: the error quotes the password", raw, err)
			}
			return
		}
		switch got.Kind {
		case SQLite:
			if got.Path == "" {
				t.Fatalf("Parse(%q) = a SQLite store without a file", raw)
			}
		case Postgres:
			if got.URL != raw {
				t.Fatalf("Parse(%q) changed the URL to %q", raw, got.URL)
			}
		default:
			t.Fatalf("Parse(%q) = kind %q", raw, got.Kind)
		}
		_ = got.String()
	})
}
