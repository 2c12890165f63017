// Command normal is the soak benchmark's ordinary task: it logs a few
// lines, counts its runs in the app's key-value store, rewrites one of 16
// small entries there and sets a small result.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	if err := run(); err != nil {
		sdk.Error("normal task failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg struct {
		Prefix string `json:"prefix"`
	}
	if err := sdk.Config(&cfg); err != nil {
		return err
	}
	count := 0
	switch b, err := sdk.KVGet(cfg.Prefix + "/count"); {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return err
	default:
		if count, err = strconv.Atoi(string(b)); err != nil {
			return fmt.Errorf("the stored count %q: %w", b, err)
		}
	}
	count++
	sdk.Info("starting", "run", count)
	if err := sdk.KVSet(cfg.Prefix+"/count", []byte(strconv.Itoa(count))); err != nil {
		return err
	}
	key := fmt.Sprintf("%s/item/%d", cfg.Prefix, count%16)
	if err := sdk.KVSet(key, []byte(strings.Repeat("v", 512))); err != nil {
		return err
	}
	sdk.Debug("stored", "key", key, "bytes", 512)
	sdk.Info("done", "run", count)
	return sdk.SetResult(map[string]int{"run": count})
}
