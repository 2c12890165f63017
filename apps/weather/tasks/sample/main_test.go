package main

import (
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

func TestRun(t *testing.T) {
	f := sdk.NewFake(t)
	f.KV["readings"] = []byte("41")
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if got := string(f.KV["readings"]); got != "42" {
		t.Errorf("readings = %q, want 42", got)
	}
	if p := f.Progress(); len(p) != 4 || p[3].Percent != 100 {
		t.Errorf("progress = %+v, want 4 steps ending at 100", p)
	}
	var res map[string]int
	f.Result(&res)
	if res["readings"] != 42 {
		t.Errorf("result = %v", res)
	}
}

func TestRunFirstTime(t *testing.T) {
	f := sdk.NewFake(t)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if got := string(f.KV["readings"]); got != "1" {
		t.Errorf("readings = %q, want 1", got)
	}
}

func TestRunBadCount(t *testing.T) {
	f := sdk.NewFake(t)
	f.KV["readings"] = []byte("many")
	if err := run(); err == nil {
		t.Fatal("run succeeded with a count that is not a number")
	}
}
