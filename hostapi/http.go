package hostapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// The defaults of an HTTP policy's zero fields.
const (
	DefaultHTTPTimeout    = 30 * time.Second // a request's timeout when the guest gives none
	DefaultHTTPMaxTimeout = 60 * time.Second // the longest timeout a guest may ask for
	DefaultMaxHTTPBody    = 10 << 20         // request body sent, response body kept (and the ABI's maximum)
	maxRedirects          = 10
)

// HTTP is an app's outbound HTTP policy. The zero value allows no host.
// Do not change an HTTP while runs use it.
type HTTP struct {
	// Allow lists the hosts requests may go to; see Allows for the syntax.
	Allow []string
	// Transport performs the requests. nil gives each run its own transport
	// with connect and TLS handshake timeouts of 10 s, which honours the
	// HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment variables and whose
	// idle connections are closed by Call.Close.
	Transport http.RoundTripper
	// DefaultTimeout is a request's timeout when the guest gives none.
	// Zero means 30 s. It is capped by MaxTimeout.
	DefaultTimeout time.Duration
	// MaxTimeout caps the timeout a guest asks for. Zero means 60 s.
	MaxTimeout time.Duration
	// MaxResponseBody is how many bytes of a response body are kept; the
	// rest is dropped and the response marked truncated. Zero means (and
	// more is lowered to) 10 MiB.
	MaxResponseBody int64
	// MaxRequestBody is the size of the largest request body; a larger one
	// is ETOOLARGE. Zero means (and more is lowered to) 10 MiB.
	MaxRequestBody int64
}

// Validate reports the first malformed allow-list entry (wrapping
// ErrInvalidAllowEntry) or negative field.
func (h *HTTP) Validate() error {
	for _, s := range h.Allow {
		if _, err := parseAllowEntry(s); err != nil {
			return fmt.Errorf("http policy: Allow: %w", err)
		}
	}
	switch {
	case h.DefaultTimeout < 0:
		return fmt.Errorf("http policy: DefaultTimeout %v is negative", h.DefaultTimeout)
	case h.MaxTimeout < 0:
		return fmt.Errorf("http policy: MaxTimeout %v is negative", h.MaxTimeout)
	case h.MaxResponseBody < 0:
		return fmt.Errorf("http policy: MaxResponseBody %d is negative", h.MaxResponseBody)
	case h.MaxRequestBody < 0:
		return fmt.Errorf("http policy: MaxRequestBody %d is negative", h.MaxRequestBody)
	}
	return nil
}

// timeout returns the timeout of a request that asked for ms milliseconds
// (0: the default).
func (h *HTTP) timeout(ms int64) time.Duration {
	limit := h.MaxTimeout
	if limit <= 0 {
		limit = DefaultHTTPMaxTimeout
	}
	if ms > 0 {
		if ms >= limit.Milliseconds() {
			return limit
		}
		return time.Duration(ms) * time.Millisecond
	}
	d := h.DefaultTimeout
	if d <= 0 {
		d = DefaultHTTPTimeout
	}
	return min(d, limit)
}

func (h *HTTP) maxResponseBody() int64 { return capped(h.MaxResponseBody, DefaultMaxHTTPBody) }
func (h *HTTP) maxRequestBody() int64  { return capped(h.MaxRequestBody, DefaultMaxHTTPBody) }

// redirectDeniedError stops a redirect to a host the policy does not allow.
type redirectDeniedError struct{ url *url.URL }

func (e *redirectDeniedError) Error() string {
	return fmt.Sprintf("redirect to host %q is not in this app's allow-list", e.url.Host)
}

// checkRedirect is the http.Client's CheckRedirect: at most maxRedirects
// redirects, each to an allowed URL. via holds the first request and the
// redirects followed so far.
func (h *HTTP) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if !h.Allows(req.URL) {
		return &redirectDeniedError{url: req.URL}
	}
	return nil
}

// newTransport returns the transport of a run whose policy names none.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           DefaultMaxOpenResponses,
		IdleConnTimeout:        30 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// response is a response kept for the guest; it does not change once kept.
type response struct {
	meta []byte // the JSON of http_response_meta
	body []byte
}

// responseMeta is the JSON of http_response_meta.
type responseMeta struct {
	Status    int         `json:"status"`
	Headers   http.Header `json:"headers"`
	BodySize  int         `json:"body_size"`
	Truncated bool        `json:"truncated"`
}

// reserve claims a slot for a response before a request is made, so that
// requests in flight count against the open-response limit. It returns the
// transport to use; call release when the request is over.
func (in *invocation) reserve(policy *HTTP) (rt http.RoundTripper, release func(), e Errno) {
	c := in.call
	var msg string
	c.mu.Lock()
	switch limit := c.Limits.maxOpenResponses(); {
	case c.closed:
		e, msg = ECANCELED, "the run has ended"
	case len(c.responses)+c.pending >= limit:
		e, msg = ELIMIT, fmt.Sprintf("%d responses are open, the limit of this run; close one first", limit)
	case uint64(c.lastHandle)+uint64(c.pending) >= math.MaxUint32:
		e, msg = ELIMIT, "this run has used up its response handles"
	default:
		c.pending++
		rt = policy.Transport
		if rt == nil {
			if c.transport == nil {
				c.transport = newTransport()
			}
			rt = c.transport
		}
	}
	c.mu.Unlock()
	if e != OK {
		return nil, nil, in.fail(e, "%s", msg)
	}
	release = func() {
		c.mu.Lock()
		c.pending--
		c.mu.Unlock()
	}
	return rt, release, OK
}

// keep stores r under a new handle; ok is false when the run has ended.
func (c *Call) keep(r *response) (handle uint32, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.closeIdleLocked() // the request may have pooled its connection
		return 0, false
	}
	if c.responses == nil {
		c.responses = map[uint32]*response{}
	}
	c.lastHandle++
	c.responses[c.lastHandle] = r
	return c.lastHandle, true
}

func (c *Call) response(handle uint32) (*response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.responses[handle]
	return r, ok
}

func httpRequest(in *invocation, p []uint64) Errno {
	reqPtr, reqLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	bodyPtr, bodyLen := api.DecodeU32(p[2]), api.DecodeU32(p[3])
	handlePtr := api.DecodeU32(p[4])
	if !in.inRange(reqPtr, reqLen) {
		return in.fault("request", reqPtr, reqLen)
	}
	if !in.inRange(bodyPtr, bodyLen) {
		return in.fault("body", bodyPtr, bodyLen)
	}
	if !in.inRange(handlePtr, 4) {
		return in.fault("handle pointer", handlePtr, 4)
	}
	policy := in.call.HTTP
	if policy == nil {
		return in.fail(EDENIED, "this app has no http permission")
	}
	if limit := policy.maxRequestBody(); int64(bodyLen) > limit {
		return in.fail(ETOOLARGE, "request body of %d bytes exceeds the limit of %d bytes", bodyLen, limit)
	}
	reqJSON, e := in.read("request", reqPtr, reqLen)
	if e != OK {
		return e
	}
	spec, err := parseRequest(reqJSON)
	if err != nil {
		return in.fail(EINVAL, "%v", err)
	}
	if !policy.Allows(spec.url) {
		return in.fail(EDENIED, "host %q is not in this app's allow-list", spec.url.Host)
	}
	body, e := in.read("body", bodyPtr, bodyLen)
	if e != OK {
		return e
	}
	if e, stop := in.canceled(); stop {
		return e
	}
	rt, release, e := in.reserve(policy)
	if e != OK {
		return e
	}
	defer release()
	r, e := in.do(policy, rt, spec, body)
	if e != OK {
		return e
	}
	handle, ok := in.call.keep(r)
	if !ok {
		return in.fail(ECANCELED, "the run ended during the request")
	}
	if !in.mem.WriteUint32Le(handlePtr, handle) {
		return in.fault("handle pointer", handlePtr, 4)
	}
	return OK
}

// do performs the request and reads its response.
func (in *invocation) do(policy *HTTP, rt http.RoundTripper, spec requestSpec, body []byte) (*response, Errno) {
	timeout := policy.timeout(spec.timeoutMS)
	ctx, cancel := context.WithTimeout(in.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, spec.method, spec.url.String(), bytes.NewReader(body))
	if err != nil {
		return nil, in.fail(EINVAL, "%v", err)
	}
	req.Header = spec.header
	client := &http.Client{Transport: rt, CheckRedirect: policy.checkRedirect}
	resp, err := client.Do(req)
	if err != nil {
		return nil, in.requestFailed(ctx, timeout, err)
	}
	defer resp.Body.Close()
	limit := policy.maxResponseBody()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, in.requestFailed(ctx, timeout, fmt.Errorf("reading the response body: %w", err))
	}
	truncated := int64(len(b)) > limit
	if truncated {
		b = b[:limit]
	}
	meta, err := json.Marshal(responseMeta{
		Status:    resp.StatusCode,
		Headers:   resp.Header,
		BodySize:  len(b),
		Truncated: truncated,
	})
	if err != nil {
		return nil, in.fail(EIO, "encoding the response headers: %v", err)
	}
	return &response{meta: meta, body: b}, OK
}

// requestFailed classifies a failed request: a redirect the policy denies
// is EDENIED, the end of the run ECANCELED, the request's own timeout
// ETIMEDOUT, anything else EIO.
func (in *invocation) requestFailed(reqCtx context.Context, timeout time.Duration, err error) Errno {
	var denied *redirectDeniedError
	switch {
	case errors.As(err, &denied):
		return in.fail(EDENIED, "%v", denied)
	case in.ctx.Err() != nil:
		return in.fail(ECANCELED, "the run was stopped during the request: %v", context.Cause(in.ctx))
	case errors.Is(reqCtx.Err(), context.DeadlineExceeded):
		return in.fail(ETIMEDOUT, "the request timed out after %v", timeout)
	}
	return in.fail(EIO, "%v", err)
}

// handleOf looks up an open response, recording EBADHANDLE.
func (in *invocation) handleOf(handle uint32) (*response, Errno) {
	r, ok := in.call.response(handle)
	if !ok {
		return nil, in.fail(EBADHANDLE, "%d is not an open response handle of this run", handle)
	}
	return r, OK
}

func httpResponseMeta(in *invocation, p []uint64) Errno {
	handle := api.DecodeU32(p[0])
	outPtr, outCap, lenPtr := api.DecodeU32(p[1]), api.DecodeU32(p[2]), api.DecodeU32(p[3])
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	r, e := in.handleOf(handle)
	if e != OK {
		return e
	}
	return in.write(outPtr, outCap, lenPtr, r.meta)
}

func httpResponseBody(in *invocation, p []uint64) Errno {
	handle, offset := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	outPtr, outCap, lenPtr := api.DecodeU32(p[2]), api.DecodeU32(p[3]), api.DecodeU32(p[4])
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	r, e := in.handleOf(handle)
	if e != OK {
		return e
	}
	var chunk []byte
	if uint64(offset) < uint64(len(r.body)) {
		chunk = r.body[offset:]
		chunk = chunk[:min(uint64(len(chunk)), uint64(outCap))]
	}
	return in.commit(outPtr, lenPtr, chunk)
}

func httpResponseClose(in *invocation, p []uint64) Errno {
	handle := api.DecodeU32(p[0])
	c := in.call
	c.mu.Lock()
	_, ok := c.responses[handle]
	delete(c.responses, handle)
	c.mu.Unlock()
	if !ok {
		return in.fail(EBADHANDLE, "%d is not an open response handle of this run", handle)
	}
	return OK
}
