// Command flaky is a task of the weather app that fails about one run in
// three, so that its retries (retry: {max: 2, backoff: 10s}) can be seen.
// Its input may force the outcome: {"fail": true} or {"fail": false}.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/cronbox/cronbox/sdk"
)

type input struct {
	Fail *bool `json:"fail"`
}

func main() {
	if err := run(); err != nil {
		sdk.Error("flaky failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := sdk.Input(&in); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	fail := rand.IntN(3) == 0
	if in.Fail != nil {
		fail = *in.Fail
	}
	if fail {
		return fmt.Errorf("the upstream service is flaky today (this task fails about one run in three)")
	}
	sdk.Info("lucky this time")
	return sdk.SetResult(map[string]bool{"ok": true})
}
