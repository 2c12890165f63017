// Command membomb is a hostile task of the soak benchmark: it allocates
// memory a MiB at a time, and keeps it, until the host refuses to grow its
// memory (the Go runtime then stops the module: out of memory).
package main

import "github.com/cronbox/cronbox/sdk"

var held [][]byte

func main() {
	for i := 1; ; i++ {
		b := make([]byte, 1<<20)
		b[len(b)-1] = byte(i)
		held = append(held, b)
		if i%16 == 0 {
			sdk.Info("holding", "mib", i)
		}
	}
}
