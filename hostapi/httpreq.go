package hostapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// requestSpec is a decoded and validated http_request description.
type requestSpec struct {
	method    string
	url       *url.URL
	header    http.Header
	timeoutMS int64 // 0: the policy's default
}

// hostHeader reports whether the host owns the request header key (in
// canonical form): framing and hop-by-hop headers, which a task may not set.
func hostHeader(key string) bool {
	switch key {
	case "Connection", "Content-Length", "Host", "Keep-Alive", "Proxy-Connection",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// parseRequest decodes and validates the JSON request description of
// http_request. Unknown fields are refused so that a misspelt field is an
// error rather than silently ignored.
func parseRequest(b []byte) (requestSpec, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return requestSpec{}, fmt.Errorf("decoding request: %w", err)
	}
	if fields == nil {
		return requestSpec{}, errors.New("decoding request: not a JSON object")
	}
	var (
		spec    requestSpec
		method  string
		rawURL  string
		headers map[string][]string
	)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		var err error
		switch name {
		case "method":
			err = json.Unmarshal(raw, &method)
		case "url":
			err = json.Unmarshal(raw, &rawURL)
		case "headers":
			err = json.Unmarshal(raw, &headers)
		case "timeout_ms":
			err = json.Unmarshal(raw, &spec.timeoutMS)
			if err == nil && spec.timeoutMS < 0 {
				err = errors.New("negative")
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return requestSpec{}, fmt.Errorf("decoding request: field %q: %w", name, err)
		}
	}

	spec.method = method
	if spec.method == "" {
		spec.method = http.MethodGet
	}
	if !isToken(spec.method) {
		return requestSpec{}, fmt.Errorf("method %q is not a valid HTTP method", method)
	}

	if rawURL == "" {
		return requestSpec{}, errors.New(`missing "url"`)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return requestSpec{}, fmt.Errorf("parsing url: %w", err)
	}
	if defaultPort(u.Scheme) == 0 {
		return requestSpec{}, fmt.Errorf("url %q: scheme is not http or https", rawURL)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return requestSpec{}, fmt.Errorf("url %q has no host", rawURL)
	}
	spec.url = u

	spec.header = make(http.Header, len(headers))
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		values := headers[name]
		if !isToken(name) {
			return requestSpec{}, fmt.Errorf("header name %q is not valid", name)
		}
		key := http.CanonicalHeaderKey(name)
		if hostHeader(key) {
			return requestSpec{}, fmt.Errorf("header %q is set by the host, not by tasks", name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return requestSpec{}, fmt.Errorf("header %q: value %q contains a control character", name, v)
			}
			spec.header.Add(key, v)
		}
	}
	return spec, nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of methods and
// header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
