//go:build !wasip1

package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/sdk"
)

func TestHandleWithFake(t *testing.T) {
	f := sdk.NewFake(t)
	f.SetRequest(sdk.RouteRequest{Method: "POST", Path: "/greet", Query: "name=ada", Header: sdk.Header{"x-test": {"1"}}, Body: []byte("body")})
	err := sdk.Handle(func(req *sdk.RouteRequest) sdk.RouteResponse {
		if req.Method != "POST" || req.Path != "/greet" || string(req.Body) != "body" || req.Header.Get("X-Test") != "1" {
			t.Errorf("request = %+v", req)
		}
		return sdk.Text(201, "hello "+req.QueryValue("name"))
	})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.RouteResponse()
	if resp == nil || resp.Status != 201 || string(resp.Body) != "hello ada" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("response = %+v", resp)
	}
}

func TestHandleRefusesWhatTheHostRefuses(t *testing.T) {
	f := sdk.NewFake(t)
	if _, err := sdk.ReadRequest(); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("ReadRequest in a task: %v, want ErrNotFound", err)
	}
	f.SetRequest(sdk.RouteRequest{})
	for _, resp := range []sdk.RouteResponse{
		{Status: 700},
		{Status: 100},
		{Header: sdk.Header{"Content-Length": {"1"}}},
		{Header: sdk.Header{"Set-Cookie": {"a=b"}}},
		{Header: sdk.Header{"X-Bad": {"a\nb"}}},
		{Body: make([]byte, 10<<20+1)},
	} {
		if err := sdk.WriteResponse(resp); err == nil {
			t.Errorf("WriteResponse(status %d, header %v, %d bytes) succeeded", resp.Status, resp.Header, len(resp.Body))
		}
	}
	if f.RouteResponse() != nil {
		t.Errorf("a refused response was kept: %+v", f.RouteResponse())
	}
}

// TestHandlerGuest runs the test handler built for wasip1 against the
// real host functions.
func TestHandlerGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a wasm module")
	}
	g := newGuest(t, "../engine/testdata/handler")
	serve := func(req *hostapi.Request) (*hostapi.Call, error) {
		call := &hostapi.Call{Request: req, Sink: &sink{}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		mod, err := g.r.InstantiateModule(hostapi.WithCall(ctx, call), g.mod, wazero.NewModuleConfig().WithName(""))
		if mod != nil {
			mod.Close(ctx)
		}
		return call, err
	}
	body := make([]byte, 70_000) // more than the SDK's first buffer
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	call, err := serve(&hostapi.Request{Method: "PUT", Path: "/echo", Query: "q=x%20y", Headers: map[string][]string{"X-Test": {"yes"}}, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	resp := call.Response()
	if resp == nil || resp.Status != 200 || resp.Headers.Get("Content-Type") != "application/json" {
		t.Fatalf("response = %+v", resp)
	}
	var got map[string]string
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"method": "PUT", "path": "/echo", "query": "x y", "x_test": "yes", "body": string(body)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %.40q, want %.40q", k, got[k], v)
		}
	}

	call, err = serve(&hostapi.Request{Method: "GET", Path: "/teapot"})
	if err != nil {
		t.Fatal(err)
	}
	if r := call.Response(); r == nil || r.Status != 418 || r.Headers.Get("X-Kind") != "teapot" || string(r.Body) != "short and stout" {
		t.Errorf("teapot response = %+v", r)
	}

	if _, err := serve(&hostapi.Request{Method: "GET", Path: "/huge"}); err == nil {
		t.Error("/huge exited 0")
	}
}
