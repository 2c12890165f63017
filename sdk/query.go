package sdk

import "strings"

// QueryValue returns the first value of the query parameter name, or "".
// The query is read as net/url's ParseQuery reads it: pairs separated by
// "&", "+" for a space and %XX escapes; a pair with a ";" or a bad escape
// is skipped. The SDK does not import net/url: with what it imports
// (net/netip and package unique), its initialisation would be part of
// every run of every module built with the SDK.
func (r *RouteRequest) QueryValue(name string) string {
	v, _ := queryValue(r.Query, name)
	return v
}

// queryValue returns the first value of name in the raw query q, and
// whether q has name at all.
func queryValue(q, name string) (string, bool) {
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, ok := unescapeQuery(k)
		if !ok || key != name {
			continue
		}
		if value, ok := unescapeQuery(v); ok {
			return value, true
		}
	}
	return "", false
}

// unescapeQuery decodes a query component: "+" is a space and %XX the byte
// of two hex digits. It reports false for a "%" not followed by two.
func unescapeQuery(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, hi<<4|lo)
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
