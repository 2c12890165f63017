// Command greet is the sample task of the hello app: it reads a name from
// its input, counts how often it has greeted in the app's key-value store,
// reports progress, and sets a result.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/cronbox/cronbox/sdk"
)

type input struct {
	Name string `json:"name"`
}

type result struct {
	Greeting string `json:"greeting"`
	Count    int    `json:"count"`
}

func main() {
	if err := run(); err != nil {
		sdk.Error("greet failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	in := input{Name: "world"}
	if err := sdk.Input(&in); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	_ = sdk.Progress(10, "counting")
	count := 0
	if b, err := sdk.KVGet("count"); err == nil {
		count, _ = strconv.Atoi(string(b))
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("reading count: %w", err)
	}
	count++
	if err := sdk.KVSet("count", []byte(strconv.Itoa(count))); err != nil {
		return fmt.Errorf("saving count: %w", err)
	}
	greeting := fmt.Sprintf("Hello, %s!", in.Name)
	fmt.Println(greeting)
	sdk.Info("greeted", "name", in.Name, "count", count)
	_ = sdk.Progress(100, "done")
	return sdk.SetResult(result{Greeting: greeting, Count: count})
}
