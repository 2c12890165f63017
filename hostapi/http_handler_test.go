package hostapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cronbox/cronbox/hostapi"
)

func TestParseResponseMeta(t *testing.T) {
	t.Parallel()
	r, err := hostapi.ParseResponseMeta([]byte(`{"headers":{"content-type":["text/plain"],"X-A":["1","2"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.Headers.Get("Content-Type") != "text/plain" || len(r.Headers.Values("X-A")) != 2 {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{
		``, `[]`, `null`, `{"status":199}`, `{"status":600}`, `{"status":"200"}`, `{"body":"x"}`,
		`{"headers":{"Content-Length":["1"]}}`, `{"headers":{"set-cookie":["a=b"]}}`,
		`{"headers":{"Transfer-Encoding":["chunked"]}}`, `{"headers":{"X":["a\r\nb"]}}`, `{"headers":{"a b":["x"]}}`,
	} {
		if _, err := hostapi.ParseResponseMeta([]byte(bad)); err == nil {
			t.Errorf("ParseResponseMeta(%s) succeeded", bad)
		}
	}
}

// FuzzParseResponseMeta checks that any input is accepted or refused
// without panicking, and that what is accepted is a response the server
// may write as it is.
func FuzzParseResponseMeta(f *testing.F) {
	for _, s := range []string{`{}`, `{"status":404}`, `{"status":200,"headers":{"X":["y"]}}`, `{"headers":{"Connection":["close"]}}`, `{"status":1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := hostapi.ParseResponseMeta(b)
		if err != nil {
			return
		}
		if r.Status < 200 || r.Status > 599 {
			t.Fatalf("status %d accepted", r.Status)
		}
		for k, vs := range r.Headers {
			if k != http.CanonicalHeaderKey(k) || k == "Set-Cookie" || k == "Content-Length" || k == "Transfer-Encoding" {
				t.Fatalf("header %q accepted", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("value %q accepted", v)
				}
			}
		}
	})
}

// FuzzEncodeRequestMeta checks that request_get's JSON decodes back to the
// request it describes.
func FuzzEncodeRequestMeta(f *testing.F) {
	f.Add("GET", "/", "", "X-Test", "1", []byte(nil))
	f.Add("POST", "/api/v1/status", "a=1&b=%20", "Content-Type", "application/json", []byte(`{"n":1}`))
	f.Fuzz(func(t *testing.T, method, path, query, name, value string, body []byte) {
		for _, s := range []string{method, path, query, name, value} {
			if !utf8.ValidString(s) {
				return // the server hands over valid UTF-8 only
			}
		}
		req := &hostapi.Request{Method: method, Path: path, Query: query, Headers: map[string][]string{name: {value}}, Body: body}
		var got struct {
			Method   string              `json:"method"`
			Path     string              `json:"path"`
			Query    string              `json:"query"`
			Headers  map[string][]string `json:"headers"`
			BodySize int                 `json:"body_size"`
		}
		if err := json.Unmarshal(hostapi.EncodeRequestMeta(req), &got); err != nil {
			t.Fatal(err)
		}
		if got.Method != method || got.Path != path || got.Query != query || got.BodySize != len(body) || !reflect.DeepEqual(got.Headers, req.Headers) {
			t.Fatalf("got %+v for %+v", got, req)
		}
	})
}
