// Command filefill is a hostile task of the soak benchmark: in the app's
// directory (/data) it creates a new file and writes to it a MiB at a time
// until the files quota refuses a write. It stops by itself at the stopAt
// bytes of its config, so that a host that enforces no quota does not fill
// the disk; it then fails saying so.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	var cfg struct {
		StopAt int64 `json:"stopAt"`
	}
	if err := sdk.Config(&cfg); err != nil || cfg.StopAt <= 0 {
		sdk.Error("config: want a positive stopAt", "err", err)
		os.Exit(1)
	}
	name := fmt.Sprintf("/data/fill-%d", time.Now().UnixNano())
	f, err := os.Create(name)
	if err != nil {
		sdk.Info("create refused", "file", name, "err", err)
		os.Exit(1)
	}
	chunk := make([]byte, 1<<20)
	var written int64
	for written < cfg.StopAt {
		n, err := f.Write(chunk)
		written += int64(n)
		if err != nil {
			f.Close()
			sdk.Info("write refused", "file", name, "written", written, "err", err)
			os.Exit(1)
		}
	}
	f.Close()
	sdk.Error("no quota refused the writes", "file", name, "written", written)
	os.Exit(2)
}
