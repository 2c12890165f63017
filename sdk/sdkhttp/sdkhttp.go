// Package sdkhttp lets a Cronbox task use net/http: its [Transport] makes
// the requests of an [http.Client] through the host with [sdk.HTTP], so code
// and libraries written for net/http work in a task.
//
// net/http is large, which is why package sdk does not import it. A task
// that uses an [http.Client] links net/http's own transport too, with TLS
// and HTTP/2, although the host does the networking: a task that makes one
// request is about 11 MB with [Client] against 4 MB with [sdk.HTTP], and
// each of its runs takes several milliseconds longer to start. Use this
// package for code and libraries written for net/http, and sdk.HTTP
// otherwise.
//
// Built natively, requests go to the fake of package sdk, as those of
// sdk.HTTP do: a test registers handlers with [sdk.Fake.HandleHTTP].
package sdkhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

// maxRequestBody is the ABI's limit of a request body. RoundTrip reads at
// most one byte more, and sdk.HTTP refuses a body over the limit.
const maxRequestBody = 10 << 20

// Transport is an [http.RoundTripper] that makes requests through the host
// with [sdk.HTTP]. The zero value is ready to use:
//
//	client := &http.Client{Transport: sdkhttp.Transport{}}
//
// The host requests only http and https URLs whose host is in the app's
// allow-list. It follows up to 10 redirects itself, checking each against
// the allow-list, and returns the final response; [Client] returns a client
// that does not try to follow redirects again. A request to a host that is
// not allowed fails with an error matching [sdk.ErrDenied], a network
// failure with [sdk.ErrIO], and a request that exceeds its timeout with
// [sdk.ErrTimeout].
//
// The timeout is the time left until the deadline of the request's context
// or else the host's default of 30 s; the host caps it (at 60 s by default).
// [http.Client.Timeout] sets such a deadline too, but when it passes, the
// client reports its own timeout error, which does not match ErrTimeout
// (test with os.IsTimeout). A request is made synchronously: cancelling its
// context does not stop a request under way, only its deadline does.
//
// The request headers that the host sets itself (Connection,
// Content-Length, Host, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade) are left out, as [http.Transport] manages them
// itself; [http.Request.Host] is ignored, the host takes Host from the URL.
// The request body is read whole before the request is made, and one over
// 10 MiB fails with [sdk.ErrTooLarge].
//
// The host keeps at most 10 MiB of a response body; reading a body that was
// cut there returns the kept bytes and then an error matching
// [sdk.ErrTooLarge]. Close every response body: a run may hold at most 16
// open responses, and requests beyond that fail with [sdk.ErrLimit].
type Transport struct{}

var _ http.RoundTripper = Transport{}

// Client returns a client that makes its requests through [Transport] and
// returns redirect responses the host did not follow as they are.
func Client() *http.Client {
	return &http.Client{
		Transport: Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// RoundTrip makes the request req through the host and returns its
// response.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := requestBody(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := sdk.Request{Method: req.Method, URL: req.URL.String(), Header: sdk.Header(req.Header), Body: body}
	if deadline, ok := ctx.Deadline(); ok {
		if r.Timeout = time.Until(deadline); r.Timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	resp, err := sdk.HTTP(r)
	if err != nil {
		return nil, err
	}
	hr := &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header(resp.Header),
		ContentLength: resp.Size,
		Body:          resp.Body,
		Request:       req,
	}
	if resp.Size == 0 && !resp.Truncated {
		// Nothing to read: close the body, and return the one net/http
		// returns for an empty body.
		resp.Body.Close()
		hr.Body = http.NoBody
	}
	return hr, nil
}

// requestBody reads and closes the body of req, reading at most one byte
// more than the host accepts.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	return b, nil
}
