// Command progress is a test task for the UI's browser tests: it works
// through steps, logging a line and reporting progress at each, sleeping
// between them, and sets a result. Its input {"steps": n, "sleepMs": ms}
// sets how long it takes; without one, the environment variables STEPS and
// SLEEP_MS do, and without them 6 steps of 400 ms. Built by the tests with
// wasmtest.BuildFile.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

type input struct {
	Steps   int `json:"steps"`
	SleepMs int `json:"sleepMs"`
}

func main() {
	in := input{Steps: envInt("STEPS", 6), SleepMs: envInt("SLEEP_MS", 400)}
	if err := sdk.Input(&in); err != nil {
		sdk.Error("reading input", "err", err)
		os.Exit(1)
	}
	// Log lines are hostile input to a UI.
	sdk.Info("starting", "steps", in.Steps, "note", `<img src=x onerror="document.body.dataset.pwned=1">`)
	for i := 1; i <= in.Steps; i++ {
		time.Sleep(time.Duration(in.SleepMs) * time.Millisecond)
		sdk.Info(fmt.Sprintf("step %d of %d done", i, in.Steps))
		_ = sdk.Progress(i*100/in.Steps, fmt.Sprintf("step %d", i))
	}
	fmt.Println("all steps done")
	if err := sdk.SetResult(map[string]int{"steps": in.Steps}); err != nil {
		sdk.Error("setting the result", "err", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
