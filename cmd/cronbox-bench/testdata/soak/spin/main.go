// Command spin is a hostile task of the soak benchmark: a tight loop that
// never calls the host, until its time limit stops it.
package main

import "github.com/cronbox/cronbox/sdk"

var n uint64

func main() {
	for {
		n++
		if n == 0 {
			sdk.Info("wrapped around")
		}
	}
}
