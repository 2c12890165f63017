package hostapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/hostapi"
)

// server is an httptest server on 127.0.0.1 that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// host returns the server's "127.0.0.1:port", its allow-list entry.
func (s *server) host() string { return strings.TrimPrefix(s.URL, "http://") }

// blockUntilDone returns a handler that signals started and then blocks until
// the client goes away or the test ends.
func blockUntilDone(t *testing.T, started chan<- struct{}) http.HandlerFunc {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) }) // runs before the server's Close
	return func(w http.ResponseWriter, r *http.Request) {
		if started != nil {
			started <- struct{}{}
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
}

// echo answers 202 with the request's method, path, body and headers.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	w.Header()["X-Got-Test"] = r.Header["X-Test"]
	w.Header().Set("X-Got-Accept", r.Header.Get("Accept"))
	w.Header().Set("X-Got-Length", fmt.Sprint(r.ContentLength))
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
}

// meta is the JSON of http_response_meta.
type meta struct {
	Status    int                 `json:"status"`
	Headers   map[string][]string `json:"headers"`
	BodySize  int                 `json:"body_size"`
	Truncated bool                `json:"truncated"`
}

func parseMeta(t *testing.T, out string) meta {
	t.Helper()
	var m meta
	if err := json.Unmarshal([]byte(fields(out)["meta"]), &m); err != nil {
		t.Fatalf("decoding meta: %v\nguest output:\n%s", err, out)
	}
	return m
}

func request(url string, extra string) string {
	return fmt.Sprintf(`{"url":%q%s}`, url, extra)
}

func TestHTTPExchange(t *testing.T) {
	t.Parallel()
	srv := newServer(t, echo)
	policy := &hostapi.HTTP{Allow: []string{srv.host()}}
	tests := []struct {
		name       string
		req, body  string
		wantBody   string
		wantHeader map[string]string
	}{
		{
			name:     "get",
			req:      request(srv.URL+"/hello", `,"headers":{"X-Test":["a","b"],"accept":["text/plain"]}`),
			wantBody: "GET /hello ",
			wantHeader: map[string]string{
				"X-Got-Test": "a,b", "X-Got-Accept": "text/plain", "X-Got-Length": "0",
				"Content-Type": "text/plain",
			},
		},
		{
			name:       "post",
			req:        request(srv.URL+"/submit", `,"method":"POST","timeout_ms":5000`),
			body:       "payload",
			wantBody:   "POST /submit payload",
			wantHeader: map[string]string{"X-Got-Length": "7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			call := &hostapi.Call{HTTP: policy}
			defer call.Close()
			out := runGuest(t, call, "http", tt.req, tt.body)
			checkFields(t, out, map[string]string{
				"request": "0", "handle": "1", "meta_errno": "0", "body": strconv.Quote(tt.wantBody),
				"body_calls": fmt.Sprint((len(tt.wantBody)+4)/5 + 1), "past_end": "0 0",
				"close": "0", "close_again": "9", "meta_closed": "9", "body_closed": "9",
			})
			if !strings.HasPrefix(fields(out)["meta.first"], "2 need ") {
				t.Errorf("the first meta call did not ask for a larger buffer:\n%s", out)
			}
			m := parseMeta(t, out)
			if m.Status != http.StatusAccepted || m.BodySize != len(tt.wantBody) || m.Truncated {
				t.Errorf("meta = %+v", m)
			}
			for k, v := range tt.wantHeader {
				if got := strings.Join(m.Headers[k], ","); got != v {
					t.Errorf("response header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestHTTPStatusIsNotAnError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.NotFound)
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}}
	defer call.Close()
	out := runGuest(t, call, "http", request(srv.URL+"/missing", ""))
	checkFields(t, out, map[string]string{"request": "0", "body": `"404 page not found\n"`})
	if m := parseMeta(t, out); m.Status != http.StatusNotFound {
		t.Errorf("status = %d, want 404", m.Status)
	}
}

func TestHTTPTruncated(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("0123456789", 100))
	})
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}, MaxResponseBody: 25}}
	defer call.Close()
	out := runGuest(t, call, "http", request(srv.URL, ""))
	checkFields(t, out, map[string]string{"request": "0", "body": `"0123456789012345678901234"`, "body_calls": "6"})
	if m := parseMeta(t, out); m.BodySize != 25 || !m.Truncated {
		t.Errorf("meta = %+v, want body_size 25 and truncated", m)
	}
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	target := newServer(t, echo)
	denied := newServer(t, echo)
	redirect := func(to *server) *server {
		return newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, to.URL+"/landed", http.StatusFound)
		})
	}
	toTarget, toDenied := redirect(target), redirect(denied)
	loop := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	})
	policy := &hostapi.HTTP{Allow: []string{target.host(), toTarget.host(), toDenied.host(), loop.host()}}

	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		call := &hostapi.Call{HTTP: policy}
		defer call.Close()
		out := runGuest(t, call, "http", request(toTarget.URL, ""))
		checkFields(t, out, map[string]string{"request": "0", "body": `"GET /landed "`})
	})
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		call := &hostapi.Call{HTTP: policy}
		defer call.Close()
		out := runGuest(t, call, "http", request(toDenied.URL, ""))
		checkFields(t, out, map[string]string{
			"request": "4",
			"error":   fmt.Sprintf("http: redirect to host %q is not in this app's allow-list", denied.host()),
		})
		if n := denied.hits.Load(); n != 0 {
			t.Errorf("the denied server saw %d requests", n)
		}
	})
	t.Run("too many", func(t *testing.T) {
		t.Parallel()
		call := &hostapi.Call{HTTP: policy}
		defer call.Close()
		out := runGuest(t, call, "http", request(loop.URL+"/", ""))
		checkFields(t, out, map[string]string{"request": "7"})
		if n := loop.hits.Load(); n != 11 {
			t.Errorf("the looping server saw %d requests, want 11", n)
		}
	})
}

func TestHTTPRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, echo)
	other := newServer(t, echo)
	allowed := &hostapi.HTTP{Allow: []string{srv.host()}}
	tests := []struct {
		name      string
		policy    *hostapi.HTTP
		req, body string
		errno     string
		error     string
	}{
		{"no permission", nil, request(srv.URL, ""), "", "4", "http: this app has no http permission"},
		{"host not allowed", allowed, request(other.URL, ""), "", "4",
			fmt.Sprintf("http: host %q is not in this app's allow-list", other.host())},
		{"other port", allowed, request("http://127.0.0.1/", ""), "", "4",
			`http: host "127.0.0.1" is not in this app's allow-list`},
		{"bad method", allowed, request(srv.URL, `,"method":"GE T"`), "", "6",
			`http: method "GE T" is not a valid HTTP method`},
		{"bad scheme", allowed, request("ftp://"+srv.host()+"/", ""), "", "6",
			fmt.Sprintf(`http: url "ftp://%s/": scheme is not http or https`, srv.host())},
		{"host header", allowed, request(srv.URL, `,"headers":{"host":["x"]}`), "", "6",
			`http: header "host" is set by the host, not by tasks`},
		{"header value", allowed, request(srv.URL, `,"headers":{"X-A":["a\r\nb"]}`), "", "6",
			`http: header "X-A": value "a\r\nb" contains a control character`},
		{"unknown field", allowed, request(srv.URL, `,"body":"x"`), "", "6",
			`http: decoding request: field "body": unknown field`},
		{"not json", allowed, "{", "", "6", "http: decoding request: unexpected end of JSON input"},
		{"negative timeout", allowed, request(srv.URL, `,"timeout_ms":-1`), "", "6",
			`http: decoding request: field "timeout_ms": negative`},
		{"body too large", &hostapi.HTTP{Allow: []string{srv.host()}, MaxRequestBody: 4}, request(srv.URL, ""), "12345", "5",
			"http: request body of 5 bytes exceeds the limit of 4 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			call := &hostapi.Call{HTTP: tt.policy}
			defer call.Close()
			out := runGuest(t, call, "http", tt.req, tt.body)
			checkFields(t, out, map[string]string{"request": tt.errno, "error": tt.error})
		})
	}
	if n := srv.hits.Load() + other.hits.Load(); n != 0 {
		t.Errorf("the servers saw %d refused requests", n)
	}
}

func TestHTTPNetworkError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{addr}}}
	defer call.Close()
	out := runGuest(t, call, "http", request("http://"+addr+"/", ""))
	checkFields(t, out, map[string]string{"request": "7"})
	if msg := fields(out)["error"]; !strings.Contains(msg, "connect") {
		t.Errorf("error = %q, want a connection error", msg)
	}
}

func TestHTTPTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, blockUntilDone(t, nil))
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}}
	defer call.Close()
	out := runGuest(t, call, "http", request(srv.URL, `,"timeout_ms":50`))
	checkFields(t, out, map[string]string{"request": "11", "error": "http: the request timed out after 50ms"})
}

func TestHTTPRunCanceled(t *testing.T) {
	t.Parallel()
	loadGuest(t)
	started := make(chan struct{}, 1)
	srv := newServer(t, blockUntilDone(t, started))
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}}
	defer call.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := execGuest(ctx, call, "http", request(srv.URL, `,"timeout_ms":60000`))
		done <- result{out, err}
	}()
	<-started // the guest waits in http_request now
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkFields(t, r.out, map[string]string{"request": "8", "error": "http: the run was stopped during the request: context canceled"})
	case <-time.After(10 * time.Second):
		t.Fatal("http_request did not return after the run was canceled")
	}
}

func TestHTTPHandles(t *testing.T) {
	t.Parallel()
	srv := newServer(t, echo)
	call := &hostapi.Call{
		HTTP:   &hostapi.HTTP{Allow: []string{srv.host()}},
		Limits: hostapi.Limits{MaxOpenResponses: 3},
	}
	defer call.Close()
	out := runGuest(t, call, "httplimit", srv.URL)
	checkTranscript(t, out, `opened=3
errno=10
error=http: 3 responses are open, the limit of this run; close one first
handles=[1 2 3]
close_first=0
reopen=0
new_handle=4
meta_zero=9
body_unknown=9
close_zero=9
meta_closed=9`)
}
