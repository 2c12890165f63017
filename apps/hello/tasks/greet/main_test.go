package main

import (
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

// The task runs natively against the SDK's fake.
func TestGreetCounts(t *testing.T) {
	f := sdk.NewFake(t)
	f.SetInput(map[string]string{"name": "Ada"})
	f.KV = map[string][]byte{"count": []byte("41")}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	var got result
	f.Result(&got)
	if got.Greeting != "Hello, Ada!" || got.Count != 42 {
		t.Fatalf("result %+v", got)
	}
	if string(f.KV["count"]) != "42" {
		t.Fatalf("count stored as %q", f.KV["count"])
	}
}
