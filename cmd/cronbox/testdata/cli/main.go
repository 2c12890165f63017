// Command cli is the test task of `cronbox exec`: its first argument names
// what it does.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cronbox/cronbox/sdk"
)

var sink []byte

func main() {
	switch os.Args[1] {
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "), os.Getenv("WHO"))
	case "exit":
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	case "membomb":
		for {
			sink = append(sink, make([]byte, 1<<20)...)
		}
	case "cat":
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	case "double":
		var in struct{ N int }
		if err := sdk.Input(&in); err != nil {
			panic(err)
		}
		sdk.Info("doubling", "n", in.N)
		if err := sdk.SetResult(map[string]int{"n": in.N * 2}); err != nil {
			panic(err)
		}
	}
}
