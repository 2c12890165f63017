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
	"sort"
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
	meta   []byte   // the JSON of http_response_meta
	body   [][]byte // the body, in chunks
	starts []int64  // the offset in the body of each chunk
	size   int64    // of the body
	// truncated: the body was longer than the limit; the rest was dropped.
	truncated bool
	held      int64 // bytes reserved for it in the run's account
}

// A response body is read in chunks, each reserved before it is allocated
// and never grown by copying, so the memory the body takes is its size.
// A body of unknown length is read in chunks of 4 KiB, then twice as
// large each time up to 64 KiB, so a small body needs little room; one of
// announced length in chunks of 64 KiB.
const (
	minBodyChunk = 4 << 10
	maxBodyChunk = 64 << 10
)

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

// keep stores r under a new handle; ok is false when the run has ended,
// and r is then released.
func (c *Call) keep(r *response) (handle uint32, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.closeIdleLocked() // the request may have pooled its connection
		c.release(r.held)
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
	if e := in.hold("the request", int64(reqLen)); e != OK {
		return e
	}
	reqJSON, e := in.read("request", reqPtr, reqLen)
	in.call.release(int64(reqLen)) // parsed below, then dropped
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
	if e := in.hold("the request body", int64(bodyLen)); e != OK {
		return e
	}
	defer in.call.release(int64(bodyLen))
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
	if a := in.call.Account; a != nil {
		a.AddHTTP(int64(len(body)), 0)
	}
	r := &response{}
	if e := in.readBody(r, resp, policy.maxResponseBody(), func(err error) Errno {
		return in.requestFailed(ctx, timeout, fmt.Errorf("reading the response body: %w", err))
	}); e != OK {
		return nil, e
	}
	meta, err := json.Marshal(responseMeta{
		Status:    resp.StatusCode,
		Headers:   resp.Header,
		BodySize:  int(r.size),
		Truncated: r.truncated,
	})
	if err != nil {
		in.call.release(r.held)
		return nil, in.fail(EIO, "encoding the response headers: %v", err)
	}
	if e := in.hold("the response headers", int64(len(meta))); e != OK {
		in.call.release(r.held)
		return nil, e
	}
	r.held += int64(len(meta))
	r.meta = meta
	return r, OK
}

// readBody reads up to limit bytes of resp's body into r, reserving each
// chunk in the run's account before allocating it. A body whose length is
// announced is reserved whole first (up to limit), so a body that does not
// fit in what the run has left is refused before any of it is read; one
// that grows past it while read is refused at the chunk that does not fit.
// Either way the connection is dropped, the rest unread. On failure,
// nothing stays reserved; failed turns a read error into the call's errno.
func (in *invocation) readBody(r *response, resp *http.Response, limit int64, failed func(error) Errno) Errno {
	fail := func(e Errno) Errno {
		in.call.release(r.held)
		r.held, r.body, r.starts = 0, nil, nil
		return e
	}
	want, next := limit, int64(minBodyChunk)
	if n := resp.ContentLength; n > 0 {
		want, next = min(n, limit), maxBodyChunk
		if e := in.hold("a response body", want); e != OK {
			return e
		}
		r.held = want
	}
	received := int64(0)
	defer func() {
		if a := in.call.Account; a != nil {
			a.AddHTTP(0, received)
		}
	}()
	for {
		n := min(next, want-r.size)
		if n == 0 {
			// At the limit: one more byte says whether the body was longer.
			var probe [1]byte
			k, _, _ := fill(resp.Body, probe[:])
			received += int64(k)
			r.truncated = k > 0
			break
		}
		if grow := r.size + n - r.held; grow > 0 {
			if e := in.hold("a response body", grow); e != OK {
				return fail(e)
			}
			r.held += grow
		}
		chunk := make([]byte, n)
		k, eof, err := fill(resp.Body, chunk)
		received += int64(k)
		if k > 0 {
			if int64(k) < n {
				chunk = bytes.Clone(chunk[:k])
			}
			r.body, r.starts = append(r.body, chunk), append(r.starts, r.size)
			r.size += int64(k)
		}
		if err != nil {
			return fail(failed(err))
		}
		if eof {
			break
		}
		next = min(2*next, maxBodyChunk)
	}
	// A body shorter than announced, or than its last chunk.
	in.call.release(r.held - r.size)
	r.held = r.size
	return OK
}

// fill reads from rd until b is full, the body ends (eof) or a read fails.
// A body cut short (io.ErrUnexpectedEOF from the transport) is a failure.
func fill(rd io.Reader, b []byte) (n int, eof bool, err error) {
	for n < len(b) {
		k, err := rd.Read(b[n:])
		n += k
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
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
	n := uint32(0)
	off := int64(offset)
	// The chunk that holds off: the last that starts at or before it.
	i := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > off }) - 1
	for ; off < r.size && n < outCap; i++ {
		chunk := r.body[i][off-r.starts[i]:]
		chunk = chunk[:min(uint64(len(chunk)), uint64(outCap-n))]
		if !in.mem.Write(outPtr+n, chunk) {
			return in.fault("output buffer", outPtr+n, uint32(len(chunk)))
		}
		n += uint32(len(chunk))
		off += int64(len(chunk))
	}
	if !in.mem.WriteUint32Le(lenPtr, n) {
		return in.fault("length pointer", lenPtr, 4)
	}
	return OK
}

func httpResponseClose(in *invocation, p []uint64) Errno {
	handle := api.DecodeU32(p[0])
	c := in.call
	c.mu.Lock()
	r, ok := c.responses[handle]
	delete(c.responses, handle)
	c.mu.Unlock()
	if ok {
		c.release(r.held)
	}
	if !ok {
		return in.fail(EBADHANDLE, "%d is not an open response handle of this run", handle)
	}
	return OK
}
