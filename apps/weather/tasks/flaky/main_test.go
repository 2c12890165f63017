package main

import (
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		input   any
		wantErr bool
	}{
		{input: map[string]bool{"fail": true}, wantErr: true},
		{input: map[string]bool{"fail": false}},
	} {
		f := sdk.NewFake(t)
		f.SetInput(tc.input)
		if err := run(); (err != nil) != tc.wantErr {
			t.Errorf("input %v: err = %v, want error %v", tc.input, err, tc.wantErr)
		}
	}
}

func TestRunFailsSometimes(t *testing.T) {
	failed := 0
	const n = 300
	for range n {
		sdk.NewFake(t)
		if run() != nil {
			failed++
		}
	}
	if failed < n/6 || failed > n/2 {
		t.Errorf("%d of %d runs failed, want about a third", failed, n)
	}
}
