package main

import (
	"encoding/json"
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

func TestGreeting(t *testing.T) {
	f := sdk.NewFake(t)
	f.KV["count"] = []byte("3")
	f.SetRequest(sdk.RouteRequest{Path: "/api/greeting", Query: "name=Ada"})
	if err := sdk.Handle(greeting); err != nil {
		t.Fatal(err)
	}
	resp := f.RouteResponse()
	var got struct {
		Greeting string `json:"greeting"`
		Count    int    `json:"count"`
	}
	if resp == nil || resp.Status != 200 || json.Unmarshal(resp.Body, &got) != nil || got.Greeting != "Hello, Ada!" || got.Count != 3 {
		t.Fatalf("response %+v", resp)
	}
}
