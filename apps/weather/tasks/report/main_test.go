package main

import (
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   string // "" for none
		want float64
	}{
		{name: "no readings yet", want: 0},
		{name: "some readings", kv: "7", want: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			if tc.kv != "" {
				f.KV["readings"] = []byte(tc.kv)
			}
			if err := run(); err != nil {
				t.Fatal(err)
			}
			var res map[string]any
			f.Result(&res)
			if res["readings"] != tc.want {
				t.Errorf("result = %v, want readings %v", res, tc.want)
			}
		})
	}
}
