//go:build linux

package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuClock names what threadClock measures.
const cpuClock = "CPU time of the thread"

// threadClock returns the CPU time the calling OS thread has used; the
// caller has locked its goroutine to the thread. Unlike the wall clock, it
// does not count the time other processes held the CPU.
func threadClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}
