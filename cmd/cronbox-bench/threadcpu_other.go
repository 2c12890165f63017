//go:build !linux

package main

import "time"

// cpuClock names what threadClock measures.
const cpuClock = "wall time"

var clockStart = time.Now()

// threadClock is the wall clock where the thread's CPU clock is not read.
func threadClock() time.Duration { return time.Since(clockStart) }
