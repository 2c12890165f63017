// Command trivial is the benchmark's Go SDK task: it logs one line and
// sets a result, as the smallest useful task does.
package main

import "github.com/cronbox/cronbox/sdk"

func main() {
	sdk.Info("tick")
	if err := sdk.SetResult(map[string]int{"ticks": 1}); err != nil {
		panic(err)
	}
}
