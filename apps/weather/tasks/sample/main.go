// Command sample is a task of the weather app: it takes a simulated
// reading in steps, reporting progress, and counts the readings in the
// app's key-value store, where the report task finds them.
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
		sdk.Error("sample failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	const steps = 4
	for i := 1; i <= steps; i++ {
		if err := sdk.Progress(i*100/steps, fmt.Sprintf("reading sensor %d of %d", i, steps)); err != nil {
			return err
		}
	}
	n, err := counter("readings")
	if err != nil {
		return err
	}
	n++
	if err := sdk.KVSet("readings", []byte(strconv.Itoa(n))); err != nil {
		return fmt.Errorf("saving the count: %w", err)
	}
	sdk.Info("sampled", "sensors", steps, "readings", n)
	return sdk.SetResult(map[string]int{"readings": n})
}

// counter returns the number stored under key, 0 if there is none.
func counter(key string) (int, error) {
	b, err := sdk.KVGet(key)
	if errors.Is(err, sdk.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %q is not a number", key, b)
	}
	return n, nil
}
