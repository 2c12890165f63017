//go:build unix

package cputime

import (
	"syscall"
	"testing"
)

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

// TestSleepsCountsAThreadWaiting: a thread that waits in the kernel for a
// pipe to be written is counted.
func TestSleepsCountsAThreadWaiting(t *testing.T) {
	before, ok := Sleeps()
	if !ok {
		t.Fatal("the process's sleeps are not known")
	}
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	for {
		go syscall.Write(p[1], []byte{1})
		if _, err := syscall.Read(p[0], make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		after, ok := Sleeps()
		if !ok || after < before {
			t.Fatalf("sleeps went from %d to %d (known: %t)", before, after, ok)
		}
		if after > before {
			return
		}
	}
}
