package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxRequestBody is the ABI's limit of a request body. The SDK refuses a
// larger body before sending it; a host may refuse smaller ones.
const maxRequestBody = 10 << 20

// Transport is an [http.RoundTripper] that makes requests through the host,
// which only requests http and https URLs whose host is in the app's
// allow-list. The zero value is ready to use:
//
//	client := &http.Client{Transport: sdk.Transport{}}
//
// The host follows up to 10 redirects itself, checking each against the
// allow-list, and returns the final response; [HTTPClient] returns a client
// that does not try to follow redirects again. A request to a host that is not allowed fails
// with an error matching [ErrDenied], a network failure with [ErrIO], and a
// request that exceeds its timeout with [ErrTimeout]. The timeout is the
// time left until the deadline of the request's context or else the host's
// default of 30 s; the host caps it (at 60 s by default). [http.Client.Timeout]
// sets such a deadline too, but when it passes, the client reports its own
// timeout error, which does not match ErrTimeout (test with os.IsTimeout). The request headers that the host sets itself (Connection,
// Content-Length, Host, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade) are left out, as [http.Transport] manages
// them itself.
//
// The host keeps at most 10 MiB of a response body; reading a body that was
// cut there returns the kept bytes and then an error matching [ErrTooLarge].
// Close every response body: a run may hold at most 16 open responses, and
// requests beyond that fail with [ErrLimit].
type Transport struct{}

var _ http.RoundTripper = Transport{}

// HTTPClient returns a client that makes its requests through [Transport]
// and returns redirect responses the host did not follow as they are.
func HTTPClient() *http.Client {
	return &http.Client{
		Transport: Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// httpRequest is the request argument of http_request.
type httpRequest struct {
	Method    string      `json:"method"`
	URL       string      `json:"url"`
	Headers   http.Header `json:"headers,omitempty"`
	TimeoutMS int64       `json:"timeout_ms,omitempty"`
}

// httpMeta is the result of http_response_meta.
type httpMeta struct {
	Status    int         `json:"status"`
	Headers   http.Header `json:"headers"`
	BodySize  int64       `json:"body_size"`
	Truncated bool        `json:"truncated"`
}

// RoundTrip performs req through the host and returns its response.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := requestBody(req)
	if err != nil {
		return nil, err
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	r := httpRequest{Method: req.Method, URL: req.URL.String(), Headers: req.Header.Clone()}
	for name := range r.Headers {
		if hostOwnedHeader(http.CanonicalHeaderKey(name)) {
			delete(r.Headers, name)
		}
	}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if deadline, ok := req.Context().Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		r.TimeoutMS = max(left.Milliseconds(), 1)
	}
	rj, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	handle, code := hostHTTPRequest(rj, body)
	if code != 0 {
		return nil, callError("http_request", code)
	}
	resp, err := response(handle)
	if err != nil {
		hostHTTPResponseClose(handle) // the error of response matters more
		return nil, err
	}
	resp.Request = req
	return resp, nil
}

// hostOwnedHeader reports whether the host sets the request header key (in
// canonical form) itself: the framing and hop-by-hop headers, which the host
// refuses from tasks.
func hostOwnedHeader(key string) bool {
	switch key {
	case "Connection", "Content-Length", "Host", "Keep-Alive", "Proxy-Connection",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// requestBody reads and closes the body of req, refusing one over
// maxRequestBody.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(b) > maxRequestBody {
		return nil, &CallError{Op: "http_request", Code: ErrTooLarge,
			Message: fmt.Sprintf("the request body exceeds %d bytes", maxRequestBody)}
	}
	return b, nil
}

// response returns the response the host holds under handle.
func response(handle uint32) (*http.Response, error) {
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
	resp := &http.Response{
		Status:        strconv.Itoa(m.Status) + " " + http.StatusText(m.Status),
		StatusCode:    m.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        m.Headers,
		ContentLength: m.BodySize,
		Body:          &responseBody{handle: handle, size: m.BodySize, truncated: m.Truncated},
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if m.BodySize == 0 && !m.Truncated {
		// Nothing to read: free the response now. Closing an open
		// handle cannot fail.
		resp.Body = http.NoBody
		hostHTTPResponseClose(handle)
	}
	return resp, nil
}

// errBodyClosed is returned by a read of a closed response body.
var errBodyClosed = errors.New("sdk: read on closed response body")

// responseBody reads a response body from the host, a chunk per call.
type responseBody struct {
	handle    uint32
	size      int64 // the number of bytes the host kept
	truncated bool  // the host dropped the bytes after size
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
	return check("http_response_close", hostHTTPResponseClose(b.handle))
}
