package hostapi

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidAllowEntry is returned by HTTP.Validate for a malformed
// allow-list entry.
var ErrInvalidAllowEntry = errors.New("invalid allow-list entry")

// allowEntry is a parsed allow-list entry.
type allowEntry struct {
	host     string // lower case; for a wildcard, the suffix after "*."
	wildcard bool
	port     int // 0: the URL scheme's default port
}

// parseAllowEntry parses "host", "host:port", "*.suffix", "*.suffix:port",
// "[ipv6]", "[ipv6]:port" or a bare IPv6 address.
func parseAllowEntry(s string) (allowEntry, error) {
	bad := func(reason string) (allowEntry, error) {
		return allowEntry{}, fmt.Errorf("%w %q: %s", ErrInvalidAllowEntry, s, reason)
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	var e allowEntry
	host, port := strings.ToLower(s), ""
	switch {
	case strings.HasPrefix(host, "["):
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return bad("missing ]")
		}
		host, port = host[1:end], host[end+1:]
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return bad("unexpected text after ]")
			}
			port = port[1:]
			if port == "" {
				return bad("empty port")
			}
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() != nil {
			return bad("not an IPv6 address in brackets")
		}
		host = ip.String()
	case strings.Count(host, ":") > 1:
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() != nil {
			return bad("not an IPv6 address")
		}
		host = ip.String()
	default:
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host, port = host[:i], host[i+1:]
			if port == "" {
				return bad("empty port")
			}
		}
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			host, e.wildcard = rest, true
		}
		if reason := checkHostName(host); reason != "" {
			return bad(reason)
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return bad("port is not a number from 1 to 65535")
		}
		e.port = n
	}
	e.host = host
	return e, nil
}

// checkHostName returns why name is not a host name, or "".
func checkHostName(name string) string {
	if name == "" {
		return "empty host"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "empty label in host"
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r >= utf8.RuneSelf
			if !ok {
				return fmt.Sprintf("character %q not allowed in a host name", r)
			}
		}
	}
	return ""
}

// defaultPort returns the port a URL of scheme uses when it names none, or
// 0 for a scheme other than http and https.
func defaultPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// Allows reports whether the policy lets a request go to u: u must be an
// http or https URL whose host matches an entry of Allow. Entries are host
// names ("api.example.com"), IP addresses ("10.0.0.1", "[::1]"), or
// wildcards ("*.example.com", which matches subdomains of example.com
// but not example.com itself), compared case-insensitively. An entry
// without a port allows only the scheme's default port (80 for http, 443
// for https); an entry with a port ("localhost:8080") allows only that
// port. Malformed entries (see Validate) match nothing. Host names are
// compared as written: "example.com." does not match "example.com", and
// names are not resolved, so the policy cannot tell where a name points.
func (h *HTTP) Allows(u *url.URL) bool {
	if h == nil || u == nil || u.Opaque != "" {
		return false
	}
	def := defaultPort(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if def == 0 || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && strings.Contains(host, ":") {
		host = ip.String() // one spelling per IPv6 address
	}
	port := def
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
		port = n
	}
	for _, s := range h.Allow {
		e, err := parseAllowEntry(s)
		if err != nil {
			continue
		}
		if want := cmp.Or(e.port, def); want != port {
			continue
		}
		if e.wildcard && len(host) > len(e.host)+1 && strings.HasSuffix(host, "."+e.host) ||
			!e.wildcard && host == e.host {
			return true
		}
	}
	return false
}
