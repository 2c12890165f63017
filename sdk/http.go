package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxRequestBody is the ABI's limit of a request body. The SDK refuses a
// larger body before sending it; a host may refuse smaller ones.
const maxRequestBody = 10 << 20

// Header holds the fields of an HTTP header, as net/http's Header does: a
// field name maps to the field's values.
type Header map[string][]string

// Get returns the first value of the field name, which is compared without
// regard to case, or "" when h has no such field.
func (h Header) Get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, name) {
			return v[0]
		}
	}
	return ""
}

// Request is an HTTP request for [HTTP] to make.
type Request struct {
	// Method is the HTTP method, such as "POST"; "" means GET.
	Method string
	// URL is the http or https URL to request, such as
	// "https://api.example.com/v1/items?page=2".
	URL string
	// Header holds the request's header fields. The fields the host sets
	// itself are left out: Connection, Content-Length, Host, Keep-Alive,
	// Proxy-Connection, TE, Trailer, Transfer-Encoding and Upgrade.
	Header Header
	// Body is the request body, at most 10 MiB; nil for none.
	Body []byte
	// Timeout limits the whole exchange: the request, its redirects and
	// reading the response body. Zero means the host's default of 30 s. The
	// host caps it, at 60 s by default, and the run's deadline applies too.
	Timeout time.Duration
}

// Response is the response to a [Request], which the host holds until its
// body is closed.
type Response struct {
	// Status is the HTTP status code, such as 200 or 404.
	Status int
	// Header holds the response's header fields under their canonical
	// names, such as Content-Type. It is never nil.
	Header Header
	// Size is the number of body bytes the host kept: the length of the
	// body, unless Truncated.
	Size int64
	// Truncated reports that the body was longer than the host keeps
	// (10 MiB by default) and the bytes after the first Size were dropped.
	Truncated bool
	// Body streams the body from the host. Reading a truncated body
	// returns the kept bytes and then an error matching [ErrTooLarge].
	// Close it to free the response in the host.
	Body io.ReadCloser
}

// HTTP makes the request req through the host and returns its response.
//
// The host requests only http and https URLs whose host is in the app's
// allow-list: a request to another host fails with an error matching
// [ErrDenied]. The host follows up to 10 redirects itself, checking each
// against the allow-list, and returns the final response; an HTTP error
// status such as 404 is a response, not an error. A network failure is
// [ErrIO], a request that exceeds its timeout [ErrTimeout], a malformed
// request (bad URL, method or header) [ErrInvalid] and a body over 10 MiB
// [ErrTooLarge].
//
// The response's body must be closed: a run may hold at most 16 open
// responses, and requests beyond that fail with [ErrLimit].
func HTTP(req Request) (*Response, error) {
	if len(req.Body) > maxRequestBody {
		return nil, &CallError{Op: "http_request", Code: ErrTooLarge,
			Message: fmt.Sprintf("the request body exceeds the limit of %d bytes", maxRequestBody)}
	}
	if req.Timeout < 0 {
		return nil, &CallError{Op: "http_request", Code: ErrInvalid,
			Message: fmt.Sprintf("the timeout %v is negative", req.Timeout)}
	}
	r := httpRequest{Method: req.Method, URL: req.URL}
	if len(req.Header) > 0 {
		r.Headers = make(Header, len(req.Header))
		for name, values := range req.Header {
			if !hostOwnedHeader(name) {
				r.Headers[name] = values
			}
		}
	}
	if req.Timeout > 0 {
		r.TimeoutMS = max(req.Timeout.Milliseconds(), 1)
	}
	rj, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	handle, code := hostHTTPRequest(rj, req.Body)
	if code != 0 {
		return nil, callError("http_request", code)
	}
	resp, err := response(handle)
	if err != nil {
		hostHTTPResponseClose(handle) // the error of response matters more
		return nil, err
	}
	return resp, nil
}

// HTTPGet requests url with the method GET, as [HTTP] does.
func HTTPGet(url string) (*Response, error) {
	return HTTP(Request{URL: url})
}

// httpRequest is the request argument of http_request.
type httpRequest struct {
	Method    string `json:"method,omitempty"`
	URL       string `json:"url"`
	Headers   Header `json:"headers,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

// httpMeta is the result of http_response_meta.
type httpMeta struct {
	Status    int    `json:"status"`
	Headers   Header `json:"headers"`
	BodySize  int64  `json:"body_size"`
	Truncated bool   `json:"truncated"`
}

// hostOwnedHeader reports whether the host sets the request header field
// name itself: the framing and hop-by-hop fields, which the host refuses
// from tasks.
func hostOwnedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "content-length", "host", "keep-alive", "proxy-connection",
		"te", "trailer", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// response returns the response the host holds under handle.
func response(handle uint32) (*Response, error) {
	mj, err := fetch("http_response_meta", func(out []byte) (uint32, Errno) {
		return hostHTTPResponseMeta(handle, out)
	})
	if err != nil {
		return nil, err
	}
	var m httpMeta
	if err := json.Unmarshal(mj, &m); err != nil {
		return nil, fmt.Errorf("decoding response metadata: %w", err)
	}
	if m.Headers == nil {
		m.Headers = Header{}
	}
	body := &responseBody{handle: handle, size: m.BodySize, truncated: m.Truncated}
	if m.BodySize == 0 && !m.Truncated {
		// Nothing to read: free the response now. Closing an open
		// handle cannot fail.
		hostHTTPResponseClose(handle)
		body.handle = 0
	}
	return &Response{Status: m.Status, Header: m.Headers, Size: m.BodySize, Truncated: m.Truncated, Body: body}, nil
}

// errBodyClosed is returned by a read of a closed response body.
var errBodyClosed = errors.New("sdk: read on closed response body")

// responseBody reads a response body from the host, a chunk per call.
type responseBody struct {
	handle    uint32 // 0 once the response was freed in the host
	size      int64  // the number of bytes the host kept
	truncated bool   // the host dropped the bytes after size
	off       int64
	closed    bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errBodyClosed
	case b.off >= b.size && b.truncated:
		return 0, &CallError{Op: "http_response_body", Code: ErrTooLarge,
			Message: fmt.Sprintf("the host kept only the first %d bytes of the body", b.size)}
	case b.off >= b.size:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	chunk := p[:min(int64(len(p)), b.size-b.off)]
	n, code := hostHTTPResponseBody(b.handle, uint32(b.off), chunk)
	if code != 0 {
		return 0, callError("http_response_body", code)
	}
	if n == 0 || int(n) > len(chunk) {
		return 0, io.ErrUnexpectedEOF
	}
	b.off += int64(n)
	return int(n), nil
}

// Close frees the response in the host.
func (b *responseBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.handle == 0 {
		return nil
	}
	return check("http_response_close", hostHTTPResponseClose(b.handle))
}
