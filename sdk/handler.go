package sdk

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RouteRequest is the HTTP request a route's handler serves: an app's
// route, declared in its app.yaml, runs its module once per request.
type RouteRequest struct {
	// Method is the request's method, "GET", "POST"…
	Method string `json:"method"`
	// Path is the path under the app's prefix /apps/<app>, starting
	// with "/".
	Path string `json:"path"`
	// Query is the raw query string, without "?"; see QueryValue.
	Query string `json:"query"`
	// Header holds the request's header fields under their canonical
	// names.
	Header Header `json:"headers"`
	// Body is the request's body, whole.
	Body []byte `json:"-"`
}

// RouteResponse is what a route's handler answers.
type RouteResponse struct {
	// Status is the HTTP status, 200 to 599; 0 means 200.
	Status int
	// Header holds the response's header fields. The host sets the
	// framing and hop-by-hop fields and cookies itself and refuses them
	// here, as it refuses them in a Request.
	Header Header
	// Body is the response's body, at most 10 MiB.
	Body []byte
}

// Text is a response of status with s as its plain-text body.
func Text(status int, s string) RouteResponse {
	return RouteResponse{Status: status, Header: Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte(s)}
}

// JSON is a response of status with v, marshalled, as its JSON body; a
// value that does not marshal gives a 500 that says why.
func JSON(status int, v any) RouteResponse {
	b, err := json.Marshal(v)
	if err != nil {
		return Text(500, "marshalling the response: "+err.Error())
	}
	return RouteResponse{Status: status, Header: Header{"Content-Type": {"application/json"}}, Body: b}
}

// requestMeta is the result of request_get: the request without its body,
// and the body's size.
type requestMeta struct {
	RouteRequest
	BodySize int `json:"body_size"`
}

// ReadRequest returns the request the run serves. It fails with
// ErrNotFound in a task, which serves none.
func ReadRequest() (*RouteRequest, error) {
	mj, err := fetch("request_get", hostRequestGet)
	if err != nil {
		return nil, err
	}
	m, err := decodeRequestMeta(mj)
	if err != nil {
		return nil, fmt.Errorf("request_get: decoding the request: %w", err)
	}
	if m.BodySize < 0 || m.BodySize > maxBuffer {
		return nil, &CallError{Op: "request_get", Code: ErrRange, Message: fmt.Sprintf("a body of %d bytes", m.BodySize)}
	}
	req := m.RouteRequest
	req.Body = make([]byte, 0, m.BodySize)
	for len(req.Body) < m.BodySize {
		chunk := req.Body[len(req.Body):m.BodySize]
		n, code := hostRequestBody(uint32(len(req.Body)), chunk)
		if err := check("request_body", code); err != nil {
			return nil, err
		}
		if n == 0 || int(n) > len(chunk) {
			return nil, &CallError{Op: "request_body", Code: ErrIO, Message: fmt.Sprintf("the host gave %d bytes at offset %d of %d", n, len(req.Body), m.BodySize)}
		}
		req.Body = req.Body[:len(req.Body)+int(n)]
	}
	return &req, nil
}

// WriteResponse sets the response the run answers with, replacing any
// set before; it is sent when the run ends.
func WriteResponse(resp RouteResponse) error {
	for name := range resp.Header {
		if hostOwnedHeader(name) || strings.EqualFold(name, "Set-Cookie") {
			return &CallError{Op: "response_set", Code: ErrInvalid, Message: fmt.Sprintf("header %q is set by the host, not by handlers", name)}
		}
	}
	return check("response_set", hostResponseSet(appendResponseMeta(nil, resp.Status, resp.Header), resp.Body))
}

// Handle serves the run's request with h: it reads the request, calls h
// and sets its response. A route's main is
//
//	func main() {
//		if err := sdk.Handle(func(req *sdk.RouteRequest) sdk.RouteResponse {
//			return sdk.Text(200, "hello "+req.QueryValue("name"))
//		}); err != nil {
//			sdk.Error("serving", "err", err)
//			os.Exit(1)
//		}
//	}
//
// A failed run answers 500 whatever it set.
func Handle(h func(req *RouteRequest) RouteResponse) error {
	req, err := ReadRequest()
	if err != nil {
		return err
	}
	return WriteResponse(h(req))
}
