package hostapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		entry string
		url   string
		want  bool
	}{
		{"exact host", "api.example.com", "https://api.example.com/v1", true},
		{"url host case", "api.example.com", "https://API.Example.COM/", true},
		{"entry case", "API.EXAMPLE.COM", "https://api.example.com/", true},
		{"http default port", "api.example.com", "http://api.example.com/", true},
		{"explicit default port", "api.example.com", "https://api.example.com:443/", true},
		{"other port", "api.example.com", "https://api.example.com:8443/", false},
		{"https port over http", "api.example.com", "http://api.example.com:443/", false},
		{"entry port", "api.example.com:8443", "https://api.example.com:8443/", true},
		{"entry port, none in url", "api.example.com:8443", "https://api.example.com/", false},
		{"entry default port", "api.example.com:443", "https://api.example.com/", true},
		{"entry port, other port", "localhost:8080", "http://localhost:8081/", false},
		{"localhost port", "localhost:8080", "http://localhost:8080/x", true},
		{"wildcard subdomain", "*.example.com", "https://a.example.com/", true},
		{"wildcard deep subdomain", "*.example.com", "https://a.b.example.com/", true},
		{"wildcard not apex", "*.example.com", "https://example.com/", false},
		{"wildcard empty label", "*.example.com", "https://.example.com/", false},
		{"wildcard suffix only", "*.example.com", "https://badexample.com/", false},
		{"wildcard port", "*.example.com:8443", "https://a.example.com:8443/", true},
		{"wildcard port mismatch", "*.example.com:8443", "https://a.example.com/", false},
		{"no subdomain of plain entry", "example.com", "https://a.example.com/", false},
		{"suffix attack", "example.com", "https://example.com.evil.com/", false},
		{"query is not host", "example.com", "https://evil.com/?example.com", false},
		{"userinfo is not host", "example.com", "https://example.com@evil.com/", false},
		{"userinfo ignored", "example.com", "https://user:pw@example.com/", true},
		{"trailing dot", "example.com", "https://example.com./", false},
		{"ftp scheme", "example.com", "ftp://example.com/", false},
		{"no scheme", "example.com", "//example.com/", false},
		{"opaque", "example.com", "http:example.com", false},
		{"ipv4", "10.0.0.1", "http://10.0.0.1/", true},
		{"ipv4 other", "10.0.0.1", "http://10.0.0.2/", false},
		{"ipv6 bracket port", "[::1]:8080", "http://[::1]:8080/", true},
		{"ipv6 bare", "::1", "http://[::1]/", true},
		{"ipv6 spelling", "[0:0::1]", "http://[::1]/", true},
		{"ipv6 url spelling", "[::1]", "http://[0:0:0:0:0:0:0:1]/", true},
		{"ipv6 port mismatch", "[::1]:8080", "http://[::1]/", false},
		{"malformed entry", "http://example.com", "http://example.com/", false},
		{"bad url port", "example.com", "http://example.com:99999/", false},
		{"unicode host", "bücher.example", "https://BÜCHER.example/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			h := &HTTP{Allow: []string{"unrelated.example", tt.entry}}
			if got := h.Allows(u); got != tt.want {
				t.Errorf("Allows(%q) with %q = %v, want %v", tt.url, tt.entry, got, tt.want)
			}
		})
	}
	t.Run("empty list", func(t *testing.T) {
		t.Parallel()
		if (&HTTP{}).Allows(&url.URL{Scheme: "https", Host: "example.com"}) {
			t.Error("an empty allow-list allows a host")
		}
		var nilPolicy *HTTP
		if nilPolicy.Allows(&url.URL{Scheme: "https", Host: "example.com"}) || (&HTTP{Allow: []string{"a"}}).Allows(nil) {
			t.Error("a nil policy or URL is allowed")
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := []string{
		"api.example.com", "localhost:8080", "*.example.com", "*.example.com:443",
		"10.0.0.1", "10.0.0.1:9000", "[::1]", "[::1]:8080", "::1", "bücher.example", "under_score.example",
	}
	for _, entry := range valid {
		t.Run("valid "+entry, func(t *testing.T) {
			t.Parallel()
			if err := (&HTTP{Allow: []string{entry}}).Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
	invalid := []struct{ entry, reason string }{
		{"", "empty host"},
		{"http://example.com", "port is not a number"},
		{"example.com/path", "character '/' not allowed"},
		{"a b", "character ' ' not allowed"},
		{"*", "character '*' not allowed"},
		{"*.", "empty host"},
		{"a.*.com", "character '*' not allowed"},
		{"a..b", "empty label"},
		{".example.com", "empty label"},
		{"example.com.", "empty label"},
		{"example.com:", "empty port"},
		{"example.com:0", "port is not a number"},
		{"example.com:65536", "port is not a number"},
		{"example.com:+80", "port is not a number"},
		{"example.com:http", "port is not a number"},
		{"[::1", "missing ]"},
		{"[::1]x", "unexpected text after ]"},
		{"[::1]:", "empty port"},
		{"[10.0.0.1]", "not an IPv6 address in brackets"},
		{"::1::2", "not an IPv6 address"},
		{"a\xffb", "not valid UTF-8"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.entry, func(t *testing.T) {
			t.Parallel()
			err := (&HTTP{Allow: []string{"ok.example", tt.entry}}).Validate()
			if !errors.Is(err, ErrInvalidAllowEntry) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Validate() = %v, want %v mentioning %q", err, ErrInvalidAllowEntry, tt.reason)
			}
		})
	}
	t.Run("negative fields", func(t *testing.T) {
		t.Parallel()
		for _, h := range []*HTTP{{DefaultTimeout: -1}, {MaxTimeout: -1}, {MaxResponseBody: -1}, {MaxRequestBody: -1}} {
			if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
				t.Errorf("Validate(%+v) = %v, want a negative-field error", h, err)
			}
		}
	})
}

// asciiUpper upper-cases ASCII letters only, so that lengths do not change.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func FuzzAllowList(f *testing.F) {
	f.Fuzz(func(t *testing.T, entry, rawURL string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		h := &HTTP{Allow: []string{entry}}
		got := h.Allows(u)
		e, perr := parseAllowEntry(entry)
		if verr := h.Validate(); (verr == nil) != (perr == nil) {
			t.Fatalf("Validate() = %v but parseAllowEntry() = %v", verr, perr)
		}
		if (&HTTP{Allow: []string{asciiUpper(entry)}}).Allows(u) != got {
			t.Fatalf("entry case changes the answer for %q", entry)
		}
		if !got {
			return
		}
		if perr != nil {
			t.Fatalf("malformed entry %q (%v) allows %q", entry, perr, rawURL)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("scheme %q allowed", u.Scheme)
		}
		host := strings.ToLower(u.Hostname())
		if e.wildcard {
			if host == e.host || !strings.HasSuffix(host, "."+e.host) || strings.HasPrefix(host, ".") {
				t.Fatalf("wildcard %q allows host %q", entry, host)
			}
		}
		if !e.wildcard && host != e.host && !strings.Contains(host, ":") {
			t.Fatalf("entry %q allows host %q", entry, host)
		}
		if port := u.Port(); port != "" && e.port == 0 && port != "80" && port != "443" {
			t.Fatalf("entry %q without port allows port %s", entry, port)
		}
		upper := *u
		upper.Host = asciiUpper(u.Host)
		if !h.Allows(&upper) {
			t.Fatalf("upper-case host %q refused", upper.Host)
		}
	})
}
