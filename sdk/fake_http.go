//go:build !wasip1

package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The default HTTP limits of the ABI, which the fake enforces.
const (
	maxResponseBody    = 10 << 20
	maxOpenResponses   = 16
	defaultHTTPTimeout = 30 * time.Second
	maxHTTPTimeout     = 60 * time.Second
	maxRedirects       = 10
)

// fakeResponse is a response the fake keeps under a handle.
type fakeResponse struct {
	meta httpMeta
	body []byte
}

// HandleHTTP makes f answer the requests to host with h, and so allows
// host: as on the real host, a request to a host no handler was registered
// for fails with [ErrDenied]. host is written as in the permissions of
// app.yaml: a host name (api.example.com), optionally with a port
// (localhost:8080), or a wildcard for subdomains (*.example.com, which does
// not match example.com). A host without a port matches only the default
// port of the URL's scheme (80 for http, 443 for https). When
// several registrations match, the most specific one answers: host and port
// before host, host before wildcards, longer wildcards before shorter.
//
// h is called synchronously, with a request whose context ends at the
// request's timeout. The fake follows redirects as the host does, so a
// redirect to a host without a handler fails with ErrDenied. A handler that
// panics with [http.ErrAbortHandler] makes the call fail with [ErrIO], as a
// broken connection would.
func (f *Fake) HandleHTTP(host string, h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[strings.ToLower(host)] = h
}

// handler returns the handler for requests to u, or nil.
func (f *Fake) handler(u *url.URL) http.Handler {
	f.mu.Lock()
	defer f.mu.Unlock()
	host, port := strings.ToLower(u.Hostname()), u.Port()
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if port == "" {
		port = def
	}
	name := host
	for {
		if h := f.handlers[net.JoinHostPort(name, port)]; h != nil {
			return h
		}
		if h := f.handlers[name]; h != nil && port == def {
			return h
		}
		// Then the wildcard one label shorter: a.b.c, *.b.c, *.c.
		_, parent, ok := strings.Cut(strings.TrimPrefix(name, "*."), ".")
		if !ok {
			return nil
		}
		name = "*." + parent
	}
}

func (f *Fake) httpRequest(reqJSON, body []byte) (uint32, Errno) {
	var r httpRequest
	if err := json.Unmarshal(reqJSON, &r); err != nil {
		return 0, f.fail(ErrInvalid, "malformed request: %v", err)
	}
	// The SDK sends no negative timeout, no body over the limit and none of
	// the headers the host sets itself.
	if msg := checkHeaders(r.Headers); msg != "" {
		return 0, f.fail(ErrInvalid, "%s", msg)
	}
	timeout := defaultHTTPTimeout
	if r.TimeoutMS > 0 {
		timeout = min(maxHTTPTimeout, time.Duration(r.TimeoutMS)*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	if f.openResponses() >= maxOpenResponses {
		return 0, f.fail(ErrLimit, "the run has %d open HTTP responses, the most it may", maxOpenResponses)
	}
	method, target := r.Method, r.URL
	for redirects := 0; ; redirects++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return 0, f.fail(ErrInvalid, "%v", err)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
			return 0, f.fail(ErrInvalid, "%q is not an http or https URL", target)
		}
		h := f.handler(req.URL)
		if h == nil {
			return 0, f.fail(ErrDenied, "host %q is not in this app's allow-list", req.URL.Host)
		}
		req.Header = http.Header(r.Headers).Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.RequestURI = req.URL.RequestURI()
		req.RemoteAddr = "192.0.2.1:1234"

		w, ok := serve(h, req)
		switch {
		case !ok:
			return 0, f.fail(ErrIO, "the connection to %s was broken", req.URL.Host)
		case ctx.Err() != nil:
			return 0, f.fail(ErrTimeout, "the request to %s exceeded its timeout of %v", req.URL.Host, timeout)
		}
		loc := w.sent.Get("Location")
		if !isRedirect(w.status) || loc == "" {
			return f.keep(w), 0
		}
		if redirects == maxRedirects {
			return 0, f.fail(ErrIO, "stopped after %d redirects", maxRedirects)
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return 0, f.fail(ErrIO, "bad redirect from %s: %v", req.URL.Host, err)
		}
		target = next.String()
		if w.status == http.StatusSeeOther || method == http.MethodPost && w.status <= http.StatusFound {
			if method != http.MethodHead {
				method = http.MethodGet
			}
			body = nil
		}
	}
}

// checkHeaders returns why the host refuses the request headers h, or "".
func checkHeaders(h Header) string {
	for name, values := range h {
		if !isToken(name) {
			return fmt.Sprintf("header name %q is not valid", name)
		}
		for _, v := range values {
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return fmt.Sprintf("header %q: value %q contains a control character", name, v)
			}
		}
	}
	return ""
}

// isToken reports whether s is an HTTP token, the syntax of header names.
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	})
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// fail is failLocked for methods that run without f.mu locked.
func (f *Fake) fail(code Errno, format string, args ...any) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failLocked(code, format, args...)
}

func (f *Fake) openResponses() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.responses)
}

// keep stores the response w recorded and returns its handle.
func (f *Fake) keep(w *recorder) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handles++
	f.responses[f.handles] = &fakeResponse{
		meta: httpMeta{Status: w.status, Headers: Header(w.sent), BodySize: int64(len(w.body)), Truncated: w.truncated},
		body: w.body,
	}
	return f.handles
}

func (f *Fake) httpResponseMeta(handle uint32, out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.responses[handle]
	if !ok {
		return 0, f.failLocked(ErrBadHandle, "%d is not an open response handle", handle)
	}
	b, err := json.Marshal(r.meta)
	if err != nil {
		return 0, f.failLocked(ErrIO, "encoding the response metadata: %v", err)
	}
	return copyOut(out, b)
}

func (f *Fake) httpResponseBody(handle, offset uint32, out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.responses[handle]
	if !ok {
		return 0, f.failLocked(ErrBadHandle, "%d is not an open response handle", handle)
	}
	if int64(offset) >= int64(len(r.body)) {
		return 0, 0
	}
	return uint32(copy(out, r.body[offset:])), 0
}

func (f *Fake) httpResponseClose(handle uint32) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.responses[handle]; !ok {
		return f.failLocked(ErrBadHandle, "%d is not an open response handle", handle)
	}
	delete(f.responses, handle)
	return 0
}

// serve runs h for req and returns what it wrote, or false if it aborted
// with http.ErrAbortHandler. Any other panic goes on.
func serve(h http.Handler, req *http.Request) (w *recorder, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			w, ok = nil, false
		}
	}()
	w = &recorder{header: http.Header{}}
	h.ServeHTTP(w, req)
	w.WriteHeader(http.StatusOK)
	return w, true
}

// recorder is the [http.ResponseWriter] of the fake's handlers. Like a
// server, it takes the header when the status is written and sniffs the
// content type of the first bytes when the handler set none. It keeps the
// first maxResponseBody bytes of the body.
type recorder struct {
	header    http.Header // the handler's header
	status    int         // 0 until the header is written
	sent      http.Header // the header when it was written
	body      []byte
	truncated bool // bytes after maxResponseBody were dropped
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		w.sent = w.header.Clone()
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if _, ok := w.header["Content-Type"]; !ok && w.status == 0 && len(p) > 0 {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
	w.WriteHeader(http.StatusOK)
	n := min(len(p), maxResponseBody-len(w.body))
	w.body = append(w.body, p[:n]...)
	w.truncated = w.truncated || n < len(p)
	return len(p), nil
}
