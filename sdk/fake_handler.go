//go:build !wasip1

package sdk

import (
	"encoding/json"

	"net/http"
	"strings"
)

// maxRouteResponse is the ABI's limit on a handler's response body.
const maxRouteResponse = 10 << 20

// fakeRoute is the request a Fake serves, and the response set.
type fakeRoute struct {
	req  *RouteRequest
	resp *RouteResponse
}

// SetRequest makes the run a route's handler that serves req: ReadRequest
// and Handle read it. Its header names are made canonical, as the host
// hands them over; a Path of "" is "/" and a Method of "" is "GET".
func (f *Fake) SetRequest(req RouteRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := req
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if r.Path == "" {
		r.Path = "/"
	}
	r.Header = Header{}
	for name, values := range req.Header {
		key := http.CanonicalHeaderKey(name)
		r.Header[key] = append(r.Header[key], values...)
	}
	r.Body = append([]byte(nil), req.Body...)
	f.route = fakeRoute{req: &r}
}

// RouteResponse returns the response the handler set, with its status
// (200 when it set 0), or nil when it set none.
func (f *Fake) RouteResponse() *RouteResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.route.resp == nil {
		return nil
	}
	r := *f.route.resp
	return &r
}

func hostRequestGet(out []byte) (uint32, Errno) { return active().requestGet(out) }

func hostRequestBody(offset uint32, out []byte) (uint32, Errno) {
	return active().requestBody(offset, out)
}

func hostResponseSet(meta, body []byte) Errno { return active().responseSet(meta, body) }

func (f *Fake) requestGet(out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.route.req == nil {
		return 0, f.failLocked(ErrNotFound, "this run serves no HTTP request: call Fake.SetRequest first")
	}
	b, err := json.Marshal(requestMeta{RouteRequest: *f.route.req, BodySize: len(f.route.req.Body)})
	if err != nil {
		return 0, f.failLocked(ErrIO, "encoding the request: %v", err)
	}
	return copyOut(out, b)
}

func (f *Fake) requestBody(offset uint32, out []byte) (uint32, Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.route.req == nil {
		return 0, f.failLocked(ErrNotFound, "this run serves no HTTP request: call Fake.SetRequest first")
	}
	body := f.route.req.Body
	if uint64(offset) >= uint64(len(body)) {
		return 0, 0
	}
	return uint32(copy(out, body[offset:])), 0
}

// responseSet checks the response as the host does (ParseResponseMeta in
// package hostapi) and keeps it.
func (f *Fake) responseSet(meta, body []byte) Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.route.req == nil {
		return f.failLocked(ErrNotFound, "this run serves no HTTP request: call Fake.SetRequest first")
	}
	if len(body) > maxRouteResponse {
		return f.failLocked(ErrTooLarge, "response body of %d bytes exceeds the limit of %d bytes", len(body), maxRouteResponse)
	}
	var m struct {
		Status  *int   `json:"status"`
		Headers Header `json:"headers"`
	}
	dec := json.NewDecoder(strings.NewReader(string(meta)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return f.failLocked(ErrInvalid, "decoding response: %v", err)
	}
	status := http.StatusOK
	if m.Status != nil {
		status = *m.Status
	}
	if status < 200 || status > 599 {
		return f.failLocked(ErrInvalid, "status %d is outside 200..599", status)
	}
	if msg := checkHeaders(m.Headers); msg != "" {
		return f.failLocked(ErrInvalid, "%s", msg)
	}
	h := Header{}
	for name, values := range m.Headers {
		if hostOwnedHeader(name) || strings.EqualFold(name, "Set-Cookie") {
			return f.failLocked(ErrInvalid, "header %q is set by the host, not by handlers", name)
		}
		key := http.CanonicalHeaderKey(name)
		h[key] = append(h[key], values...)
	}
	f.route.resp = &RouteResponse{Status: status, Header: h, Body: append([]byte(nil), body...)}
	f.echof("response %d (%d bytes)", status, len(body))
	return 0
}
