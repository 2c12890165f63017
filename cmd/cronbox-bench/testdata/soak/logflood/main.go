// Command logflood is a hostile task of the soak benchmark: it logs
// 64 KiB lines as fast as it can until the host refuses or its time limit
// stops it.
package main

import (
	"os"
	"strings"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	line := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		if err := sdk.Log(sdk.LevelInfo, line); err != nil {
			sdk.Error("log refused", "lines", i, "err", err)
			os.Exit(1)
		}
	}
}
