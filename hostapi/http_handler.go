package hostapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/tetratelabs/wazero/api"
)

// DefaultMaxResponse is the size in bytes of the largest response body a
// route's handler may set (ABI.md, "Limits").
const DefaultMaxResponse = 10 << 20

// Request is the HTTP request a route's handler serves, as the host hands
// it to the guest through request_get and request_body.
type Request struct {
	// Method is the request's method, "GET", "POST"…
	Method string `json:"method"`
	// Path is the path under the app's prefix, starting with "/".
	Path string `json:"path"`
	// Query is the raw query string, without "?".
	Query string `json:"query"`
	// Headers are the request's headers, canonical names.
	Headers map[string][]string `json:"headers"`
	// Body is the request's body, read whole by the host within the
	// route's body limit.
	Body []byte `json:"-"`
}

// requestMeta is request_get's JSON: the request without its body.
type requestMeta struct {
	Request
	BodySize int `json:"body_size"`
}

// EncodeRequestMeta is request_get's JSON for r: method, path, query,
// headers ({} when none) and body_size.
func EncodeRequestMeta(r *Request) []byte {
	m := requestMeta{Request: *r, BodySize: len(r.Body)}
	if m.Headers == nil {
		m.Headers = map[string][]string{}
	}
	b, err := json.Marshal(m)
	if err != nil { // strings and lists of strings always marshal
		panic(err)
	}
	return b
}

// Response is what a route's handler answers, set with response_set.
type Response struct {
	// Status is the HTTP status, 200 to 599.
	Status int
	// Headers are the response's headers, canonical names; never a
	// framing, hop-by-hop or cookie header (see ParseResponseMeta).
	Headers http.Header
	// Body is the response's body.
	Body []byte
}

// responseHeader reports whether the host owns the response header key
// (canonical): framing and hop-by-hop headers, and cookies, which would
// reach beyond the app's own path.
func responseHeader(key string) bool {
	return hostHeader(key) || key == "Set-Cookie"
}

// ParseResponseMeta decodes and checks response_set's JSON,
// {"status": 200, "headers": {"Content-Type": ["text/plain"]}}: status
// defaults to 200 and must lie in 200..599; header names must be tokens,
// values free of control characters, and none of the headers the host
// sets itself (Content-Length, Transfer-Encoding, Connection, Set-Cookie…).
// Unknown fields are refused.
func ParseResponseMeta(b []byte) (Response, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return Response{}, fmt.Errorf("decoding response: %w", err)
	}
	if fields == nil {
		return Response{}, errors.New("decoding response: not a JSON object")
	}
	resp := Response{Status: http.StatusOK, Headers: http.Header{}}
	var headers map[string][]string
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		var err error
		switch name {
		case "status":
			err = json.Unmarshal(fields[name], &resp.Status)
		case "headers":
			err = json.Unmarshal(fields[name], &headers)
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return Response{}, fmt.Errorf("decoding response: field %q: %w", name, err)
		}
	}
	if resp.Status < 200 || resp.Status > 599 {
		return Response{}, fmt.Errorf("status %d is outside 200..599", resp.Status)
	}
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		if !isToken(name) {
			return Response{}, fmt.Errorf("header name %q is not valid", name)
		}
		key := http.CanonicalHeaderKey(name)
		if responseHeader(key) {
			return Response{}, fmt.Errorf("header %q is set by the host, not by handlers", name)
		}
		for _, v := range headers[name] {
			if !validHeaderValue(v) {
				return Response{}, fmt.Errorf("header %q: value %q contains a control character", name, v)
			}
			resp.Headers.Add(key, v)
		}
	}
	return resp, nil
}

func (c *Call) request() *Request {
	return c.Request
}

// Response returns the response the handler set with response_set, or
// nil when it set none.
func (c *Call) Response() *Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer
}

// setResponse keeps r, its body reserved already, and releases the body
// it replaces.
func (c *Call) setResponse(r *Response) {
	c.mu.Lock()
	old := c.answer
	c.answer = r
	c.mu.Unlock()
	if old != nil {
		c.release(int64(len(old.Body)))
	}
}

// notHandler fails a request_* call of a run that serves no request.
func (in *invocation) notHandler() Errno {
	return in.fail(ENOTFOUND, "this run serves no HTTP request: it is a task, not a route's handler")
}

func requestGet(in *invocation, p []uint64) Errno {
	r := in.call.request()
	if r == nil {
		return in.notHandler()
	}
	return in.write(api.DecodeU32(p[0]), api.DecodeU32(p[1]), api.DecodeU32(p[2]), EncodeRequestMeta(r))
}

func requestBody(in *invocation, p []uint64) Errno {
	offset := api.DecodeU32(p[0])
	outPtr, outCap, lenPtr := api.DecodeU32(p[1]), api.DecodeU32(p[2]), api.DecodeU32(p[3])
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	r := in.call.request()
	if r == nil {
		return in.notHandler()
	}
	var chunk []byte
	if uint64(offset) < uint64(len(r.Body)) {
		chunk = r.Body[offset:]
		chunk = chunk[:min(uint64(len(chunk)), uint64(outCap))]
	}
	return in.commit(outPtr, lenPtr, chunk)
}

func responseSet(in *invocation, p []uint64) Errno {
	metaPtr, metaLen := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	bodyPtr, bodyLen := api.DecodeU32(p[2]), api.DecodeU32(p[3])
	if in.call.request() == nil {
		return in.notHandler()
	}
	if !in.inRange(metaPtr, metaLen) {
		return in.fault("response", metaPtr, metaLen)
	}
	if !in.inRange(bodyPtr, bodyLen) {
		return in.fault("body", bodyPtr, bodyLen)
	}
	if limit := in.call.Limits.maxResponse(); uint64(bodyLen) > uint64(limit) {
		return in.fail(ETOOLARGE, "response body of %d bytes exceeds the limit of %d bytes", bodyLen, limit)
	}
	if metaLen > uint32(in.call.Limits.maxMessage()) {
		return in.fail(ETOOLARGE, "response description of %d bytes exceeds the limit of %d bytes", metaLen, in.call.Limits.maxMessage())
	}
	meta, e := in.read("response", metaPtr, metaLen)
	if e != OK {
		return e
	}
	resp, err := ParseResponseMeta(meta)
	if err != nil {
		return in.fail(EINVAL, "%v", err)
	}
	// The body is held until the run ends or the guest replaces it.
	if e := in.hold("the response body", int64(bodyLen)); e != OK {
		return e
	}
	body, e := in.read("body", bodyPtr, bodyLen)
	if e != OK {
		in.call.release(int64(bodyLen))
		return e
	}
	resp.Body = body
	in.call.setResponse(&resp)
	return OK
}
