//go:build !unix

// Package cputime reads the CPU time the process has used, which the
// benchmarks report per operation: a shared machine disturbs it less than
// the wall clock.
package cputime

import "time"

// Process returns the CPU time the process has used so far, and whether
// it is known: not on this system.
func Process() (time.Duration, bool) { return 0, false }

// Sleeps returns how many times the process's threads have gone to sleep,
// and whether it is known: not on this system.
func Sleeps() (int64, bool) { return 0, false }
