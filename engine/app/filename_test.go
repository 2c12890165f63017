package app

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckFileName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"tasks/hello.wasm", "docs/read me (v2).txt", "a-b_c.d~e!@#$%^&*()+=[]{};'\",<>?`|"} {
		if err := CheckFileName(ok); err != nil {
			t.Errorf("CheckFileName(%q) = %v, want nil", ok, err)
		}
	}
	for name, want := range map[string]string{
		"tasks/caf\u00e9.wasm": `"tasks/caf\u00e9.wasm" holds the non-ASCII character 'é' (U+00E9)`,
		"cafe\u0301":           "a combining mark (U+0301",
		"x\u202egpj.exe":       "invisible formatting character (U+202E",
		"a\u202ab":             "(U+202A",
		"a\u2067b":             "(U+2067",
		"a\u200fb":             "(U+200F",
		"a\ufeffb":             "(U+FEFF",
		"a\u2028b":             "(U+2028",
		"\u212aelvin":          "non-ASCII character '\u212a' (U+212A)",
		"a\x00b":               "control character (U+0000)",
		"a\x7fb":               "control character (U+007F)",
		"a\u009bb":             "control character (U+009B)",
		"a\xffb":               "invalid UTF-8",
		`a\b`:                  "backslash",
		"c:x":                  "colon",
	} {
		err := CheckFileName(name)
		if !errors.Is(err, ErrFileName) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "only printable ASCII") {
			t.Errorf("CheckFileName(%+q) = %v, want ErrFileName with %q", name, err, want)
		}
	}
	// U+FFFD itself is a valid, if non-ASCII, character.
	if err := CheckFileName("a\uFFFDb"); err == nil || strings.Contains(err.Error(), "invalid UTF-8") {
		t.Errorf("CheckFileName(U+FFFD) = %v, want a non-ASCII refusal", err)
	}
	if FoldFileName("Tasks/HELLO.wasm") != FoldFileName("tasks/hello.WASM") {
		t.Error("FoldFileName does not fold case")
	}
}

func TestHidden(t *testing.T) {
	for rel, want := range map[string]bool{
		"app.yaml":                            false,
		"public/index.html":                   false,
		"public/.well-known":                  false,
		"public/.well-known/acme-challenge/x": false,
		".env":                                true,
		".git/config":                         true,
		"tasks/.x.wasm":                       true,
		"public/.env":                         true,
		"public/.well-known/.x":               true,
		"public/.well-knownx":                 true,
		"public/sub/.well-known/x":            true,
		".well-known/x":                       true,
	} {
		if got := Hidden(rel); got != want {
			t.Errorf("Hidden(%q) = %v, want %v", rel, got, want)
		}
	}
}
