//go:build unix

// Package cputime reads the CPU time the process has used, which the
// benchmarks report per operation: a shared machine disturbs it less than
// the wall clock.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time, user and system, the process has used so
// far, and whether it is known.
func Process() (time.Duration, bool) {
	ru, ok := usage()
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ok
}

// Sleeps returns how many times the process's threads have gone to sleep
// (voluntary context switches: waiting on a lock, a channel of a locked
// goroutine, the network), and whether it is known. Per operation, it
// counts the hand-offs between threads that the operation costs.
func Sleeps() (int64, bool) {
	ru, ok := usage()
	return ru.Nvcsw, ok
}

// usage returns the process's resource usage, and whether it is known.
func usage() (syscall.Rusage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return syscall.Rusage{}, false
	}
	return ru, true
}
