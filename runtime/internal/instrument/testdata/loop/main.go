// Command loop spins forever in a tight loop that makes no calls, so that
// only the instrumentation can stop it.
package main

import "fmt"

// sink receives the loop counter so that the loop has an observable effect
// and is not optimised away.
var sink int

func main() {
	fmt.Println("spinning")
	for x := 0; ; x++ {
		sink = x
	}
}
