// Command report is a task of the weather app that runs after each
// successful run of sample (its `after:` dependency) and summarises the
// readings counted so far.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	if err := run(); err != nil {
		sdk.Error("report failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	b, err := sdk.KVGet("readings")
	if errors.Is(err, sdk.ErrNotFound) {
		b = []byte("0")
	} else if err != nil {
		return fmt.Errorf("reading the count: %w", err)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("the count %q is not a number", b)
	}
	sdk.Info("report", "readings", n)
	return sdk.SetResult(map[string]any{"readings": n, "summary": fmt.Sprintf("%d readings so far", n)})
}
