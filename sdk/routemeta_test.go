//go:build !wasip1

package sdk

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// referenceRequestMeta decodes b as encoding/json does, but with names
// matched exactly, as decodeRequestMeta matches them.
func referenceRequestMeta(b []byte) (requestMeta, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return requestMeta{}, err
	}
	var m requestMeta
	for name, dst := range map[string]any{"method": &m.Method, "path": &m.Path, "query": &m.Query, "headers": &m.Header, "body_size": &m.BodySize} {
		if raw, ok := fields[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return requestMeta{}, err
			}
		}
	}
	return m, nil
}

func TestDecodeRequestMeta(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want requestMeta
	}{
		{`{}`, requestMeta{}},
		{` {"method":"GET","path":"/a","query":"x=1","headers":{"Accept":["a","b"]},"body_size":12} `,
			requestMeta{RouteRequest: RouteRequest{Method: "GET", Path: "/a", Query: "x=1", Header: Header{"Accept": {"a", "b"}}}, BodySize: 12}},
		{`{"method":null,"headers":null,"body_size":null}`, requestMeta{}},
		{`{"headers":{"A":[],"B":null,"C":[null,"x"]}}`, requestMeta{RouteRequest: RouteRequest{Header: Header{"A": {}, "B": nil, "C": {"", "x"}}}}},
		{`{"later":{"a":[1,-2.5e3,true,false,null,"\""]},"path":"/p\u00e9\ud83d\ude00\n\/"}`, requestMeta{RouteRequest: RouteRequest{Path: "/pé😀\n/"}}},
		{`{"path":"\ud800x\udc00\ud800\u0041"}`, requestMeta{RouteRequest: RouteRequest{Path: "\uFFFDx\uFFFD\uFFFDA"}}},
		{"{\"path\":\"a\xffb\"}", requestMeta{RouteRequest: RouteRequest{Path: "a\uFFFDb"}}},
		{`{"path":"a","path":"b"}`, requestMeta{RouteRequest: RouteRequest{Path: "b"}}},
	} {
		got, err := decodeRequestMeta([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
		if ref, err := referenceRequestMeta([]byte(tc.in)); err != nil || !reflect.DeepEqual(ref, got) {
			t.Errorf("%s: encoding/json says %#v, %v", tc.in, ref, err)
		}
	}
	for _, in := range []string{``, `[]`, `{`, `{"method":1}`, `{"body_size":1.5}`, `{"body_size":"1"}`, `{"body_size":01}`,
		`{"body_size":99999999999999999999}`, `{"headers":{"A":"x"}}`, `{"headers":{"A":[1]}}`, `{"x":tru}`, `{"x":-}`,
		`{"x":1.}`, `{"x":1e}`, `{"method":"a"} x`, `{"method":"a",}`, `{"method" "a"}`, "{\"method\":\"a\nb\"}",
		`{"method":"\x"}`, `{"method":"\u12"}`, `{"method":"abc`, `{"x":[1 2]}`, `{method:"a"}`} {
		if m, err := decodeRequestMeta([]byte(in)); err == nil {
			t.Errorf("%q: decoded as %#v, want an error", in, m)
		}
	}
}

func FuzzRequestMeta(f *testing.F) {
	f.Add([]byte(`{"method":"POST","path":"/x","query":"a=1&b","headers":{"X":["1","2"]},"body_size":3,"more":[{"a":null}]}`))
	f.Add([]byte(`{"path":"\ud83d\ude00\ud800"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRequestMeta(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("%q is not JSON, yet decoded as %#v", b, got)
		}
		ref, err := referenceRequestMeta(b)
		if err != nil {
			t.Fatalf("%q: decoded as %#v; encoding/json: %v", b, got, err)
		}
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("%q:\n got %#v\nwant %#v", b, got, ref)
		}
	})
}

// FuzzRequestMetaRoundTrip: whatever the host's encoder writes decodes to
// what it encoded (strings made valid UTF-8, as the encoder makes them).
func FuzzRequestMetaRoundTrip(f *testing.F) {
	f.Add("GET", "/a/b", "x=1", "Accept", "text/html", 0)
	f.Add("P\x00\xff", "\u2028\"\\", "\ud7ff", "", "\t", -5)
	f.Fuzz(func(t *testing.T, method, path, query, name, value string, size int) {
		in := requestMeta{RouteRequest: RouteRequest{Method: method, Path: path, Query: query, Header: Header{name: {value, name}}}, BodySize: size}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := referenceRequestMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRequestMeta(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %#v, %v\nwant %#v", b, got, err, want)
		}
	})
}

// FuzzResponseMeta: the metadata written by hand means to encoding/json
// what encoding/json's own encoding of it means.
func FuzzResponseMeta(f *testing.F) {
	f.Add(200, "Content-Type", "text/plain; charset=utf-8", "X-A", "<&>")
	f.Add(0, "\xff", "\x00\x1f\u2028\"\\", "", "")
	f.Fuzz(func(t *testing.T, status int, n1, v1, n2, v2 string) {
		type meta struct {
			Status  int    `json:"status,omitempty"`
			Headers Header `json:"headers,omitempty"`
		}
		for _, h := range []Header{nil, {n1: {v1}}, {n1: {v1, v2}, n2: nil}, {n2: {}}} {
			in := meta{Status: status, Headers: h}
			ours := appendResponseMeta(nil, status, h)
			var got, want meta
			if err := json.Unmarshal(ours, &got); err != nil {
				t.Fatalf("%q: %v", ours, err)
			}
			theirs, _ := json.Marshal(in)
			if err := json.Unmarshal(theirs, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q means %#v; encoding/json's %s means %#v", ours, got, theirs, want)
			}
		}
	})
}

func TestQueryValue(t *testing.T) {
	for _, tc := range []struct{ query, name, want string }{
		{"a=1&b=2&a=3", "a", "1"},
		{"a=1&b=2", "b", "2"},
		{"a+b=c+d&x=%41%2f", "a b", "c d"},
		{"x=%41%2f", "x", "A/"},
		{"x=%4&x=2", "x", "2"},
		{"x;y=1&x=3", "x", "3"},
		{"&&x&", "x", ""},
		{"%zz=1&y=2", "y", "2"},
		{"", "x", ""},
	} {
		r := RouteRequest{Query: tc.query}
		if got := r.QueryValue(tc.name); got != tc.want {
			t.Errorf("QueryValue(%q) of %q = %q, want %q", tc.name, tc.query, got, tc.want)
		}
	}
}

// FuzzQueryValue: QueryValue reads a query as net/url's ParseQuery does.
func FuzzQueryValue(f *testing.F) {
	f.Add("a=1&b=%20x+y&a=2", "a")
	f.Add("x;y=1&%zz=2&k=%4", "k")
	f.Fuzz(func(t *testing.T, query, name string) {
		if strings.Count(query, "&") >= 1000 {
			return // net/url gives up on that many parameters
		}
		v, _ := url.ParseQuery(query)
		want, wantOK := v.Get(name), v.Has(name)
		got, ok := queryValue(query, name)
		if got != want || ok != wantOK {
			t.Fatalf("queryValue(%q, %q) = %q, %v; net/url: %q, %v", query, name, got, ok, want, wantOK)
		}
	})
}
