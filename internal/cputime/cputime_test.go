//go:build unix

package cputime

import "testing"

// TestProcessGrows: the process's CPU time is known and moves forward with
// work.
func TestProcessGrows(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Fatal("the process's CPU time is not known")
	}
	for {
		after, ok := Process()
		if !ok || after < before {
			t.Fatalf("CPU time went from %v to %v (known: %t)", before, after, ok)
		}
		if after > before {
			return
		}
	}
}
