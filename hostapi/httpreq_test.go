package hostapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	valid := []struct {
		name    string
		json    string
		method  string
		url     string
		header  http.Header
		timeout int64
	}{
		{"minimal", `{"url":"https://api.example.com/v1/x"}`, "GET", "https://api.example.com/v1/x", http.Header{}, 0},
		{"full", `{"method":"POST","url":"http://h:8080/p?q=1","headers":{"accept":["a","b"],"X-Y":[]},"timeout_ms":5000}`,
			"POST", "http://h:8080/p?q=1", http.Header{"Accept": {"a", "b"}}, 5000},
		{"nulls", `{"method":null,"url":"https://h","headers":null,"timeout_ms":null}`, "GET", "https://h", http.Header{}, 0},
		{"custom method", `{"method":"PROPFIND","url":"https://h"}`, "PROPFIND", "https://h", http.Header{}, 0},
		{"tab in value", `{"url":"https://h","headers":{"X":["a\tb"]}}`, "GET", "https://h", http.Header{"X": {"a\tb"}}, 0},
		{"whitespace", " {\"url\" : \"https://h\"}\n", "GET", "https://h", http.Header{}, 0},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, err := parseRequest([]byte(tt.json))
			if err != nil {
				t.Fatalf("parseRequest = %v", err)
			}
			if spec.method != tt.method || spec.url.String() != tt.url || spec.timeoutMS != tt.timeout {
				t.Errorf("got %s %s timeout %d", spec.method, spec.url, spec.timeoutMS)
			}
			if got, want := mustJSON(t, spec.header), mustJSON(t, tt.header); got != want {
				t.Errorf("header = %s, want %s", got, want)
			}
		})
	}
	invalid := []struct{ name, json, want string }{
		{"empty", ``, "unexpected end of JSON input"},
		{"null", `null`, "not a JSON object"},
		{"array", `[]`, "cannot unmarshal array"},
		{"trailing data", `{"url":"https://h"} x`, "invalid character"},
		{"no url", `{}`, `missing "url"`},
		{"unknown field", `{"url":"https://h","body":"x"}`, `field "body": unknown field`},
		{"field case", `{"URL":"https://h"}`, `field "URL": unknown field`},
		{"method type", `{"url":"https://h","method":1}`, `field "method"`},
		{"method space", `{"url":"https://h","method":"GE T"}`, "not a valid HTTP method"},
		{"method newline", `{"url":"https://h","method":"GET\n"}`, "not a valid HTTP method"},
		{"bad url", `{"url":"http://[::1"}`, "parsing url"},
		{"relative url", `{"url":"/path"}`, "scheme is not http or https"},
		{"file url", `{"url":"file:///etc/passwd"}`, "scheme is not http or https"},
		{"no host", `{"url":"http:///path"}`, "has no host"},
		{"opaque", `{"url":"http:h"}`, "has no host"},
		{"headers type", `{"url":"https://h","headers":{"X":"v"}}`, `field "headers"`},
		{"header name", `{"url":"https://h","headers":{"X Y":["v"]}}`, "header name"},
		{"empty header name", `{"url":"https://h","headers":{"":["v"]}}`, "header name"},
		{"header CRLF", `{"url":"https://h","headers":{"X":["a\r\nY: b"]}}`, "control character"},
		{"header NUL", `{"url":"https://h","headers":{"X":["a\u0000"]}}`, "control character"},
		{"host header", `{"url":"https://h","headers":{"Host":["evil"]}}`, "set by the host"},
		{"content-length", `{"url":"https://h","headers":{"content-length":["1"]}}`, "set by the host"},
		{"transfer-encoding", `{"url":"https://h","headers":{"Transfer-Encoding":["chunked"]}}`, "set by the host"},
		{"connection", `{"url":"https://h","headers":{"CONNECTION":["close"]}}`, "set by the host"},
		{"negative timeout", `{"url":"https://h","timeout_ms":-5}`, "negative"},
		{"fractional timeout", `{"url":"https://h","timeout_ms":1.5}`, `field "timeout_ms"`},
		{"huge timeout", `{"url":"https://h","timeout_ms":1e30}`, `field "timeout_ms"`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseRequest([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRequest(%s) = %v, want an error mentioning %q", tt.json, err, tt.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy HTTP
		ms     int64
		want   time.Duration
	}{
		{"default", HTTP{}, 0, 30 * time.Second},
		{"asked", HTTP{}, 1500, 1500 * time.Millisecond},
		{"capped", HTTP{}, 90_000, 60 * time.Second},
		{"huge", HTTP{}, 1 << 62, 60 * time.Second},
		{"policy default", HTTP{DefaultTimeout: 5 * time.Second}, 0, 5 * time.Second},
		{"default over max", HTTP{DefaultTimeout: time.Minute, MaxTimeout: 10 * time.Second}, 0, 10 * time.Second},
		{"policy max", HTTP{MaxTimeout: 2 * time.Second}, 3000, 2 * time.Second},
		{"long max", HTTP{MaxTimeout: time.Hour}, 90_000, 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.policy.timeout(tt.ms); got != tt.want {
				t.Errorf("timeout(%d) = %v, want %v", tt.ms, got, tt.want)
			}
		})
	}
}

func FuzzHTTPRequestJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := parseRequest(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if !isToken(spec.method) {
			t.Fatalf("accepted method %q", spec.method)
		}
		if spec.url.Scheme != "http" && spec.url.Scheme != "https" || spec.url.Hostname() == "" {
			t.Fatalf("accepted url %q", spec.url)
		}
		if spec.timeoutMS < 0 {
			t.Fatalf("accepted timeout %d", spec.timeoutMS)
		}
		for k, vs := range spec.header {
			if !isToken(k) || hostHeader(http.CanonicalHeaderKey(k)) || k != http.CanonicalHeaderKey(k) {
				t.Fatalf("accepted header %q", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("accepted header value %q", v)
				}
			}
		}
		req, err := http.NewRequest(spec.method, spec.url.String(), nil)
		if err != nil {
			t.Fatalf("accepted a request net/http refuses: %v", err)
		}
		req.Header = spec.header
		if err := req.Write(io.Discard); err != nil {
			t.Fatalf("accepted a request net/http cannot write: %v", err)
		}
	})
}
