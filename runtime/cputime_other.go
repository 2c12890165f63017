//go:build !linux

package runtime

import "time"

// threadCPU is not measured where the thread's CPU clock is not read:
// Usage.CPUTime stays zero.
func threadCPU() time.Duration { return 0 }
