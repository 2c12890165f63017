// Command trivial is the smallest useful task: it logs one line and sets a
// result. sdk's BenchmarkTrivialTaskInstance measures what starting it
// costs, which every run of every task pays.
package main

import "github.com/cronbox/cronbox/sdk"

func main() {
	sdk.Info("tick")
	if err := sdk.SetResult(map[string]int{"ticks": 1}); err != nil {
		panic(err)
	}
}
