// Command echo is a test task for the engine: it logs its input (and, given
// {"sleepMs": N}, sleeps that long), reports
// progress, stores the input in the app's KV store under "last", prints its
// GREETING environment variable and returns {"input": <input>, "config":
// <config>} as its result. Given {"kvFill": N} it stores values of N bytes
// under new keys, and given {"fileFill": N} it writes N bytes at a time to
// /data/fill, until that fails, and fails with the error. Given
// {"logLines": N, "logBytes": M} it logs N lines of M bytes. Built by the
// engine's tests with wasmtest.BuildFile.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	if err := run(); err != nil {
		sdk.Error("echo failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	in, err := sdk.InputRaw()
	if err != nil {
		return err
	}
	cfg, err := sdk.ConfigRaw()
	if err != nil {
		return err
	}
	sdk.Info("got input", "input", string(in))
	// {"sleepMs": N} makes the run last N ms after its first log line.
	var opts struct {
		SleepMs  int `json:"sleepMs"`
		KVFill   int `json:"kvFill"`
		FileFill int `json:"fileFill"`
		LogLines int `json:"logLines"`
		LogBytes int `json:"logBytes"`
	}
	if json.Unmarshal(in, &opts) != nil {
		opts.SleepMs, opts.KVFill, opts.FileFill, opts.LogLines = 0, 0, 0, 0
	}
	if opts.LogLines > 0 {
		line := strings.Repeat("x", opts.LogBytes)
		for range opts.LogLines {
			sdk.Info(line)
		}
	}
	if opts.SleepMs > 0 {
		time.Sleep(time.Duration(opts.SleepMs) * time.Millisecond)
	}
	if opts.KVFill > 0 {
		for i := 0; ; i++ {
			if err := sdk.KVSet(fmt.Sprint("fill", i), make([]byte, opts.KVFill)); err != nil {
				return fmt.Errorf("after %d values: %w", i, err)
			}
		}
	}
	if opts.FileFill > 0 {
		f, err := os.Create("/data/fill")
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			if _, err := f.Write(make([]byte, opts.FileFill)); err != nil {
				return fmt.Errorf("after %d writes: %w", i, err)
			}
		}
	}
	if err := sdk.Progress(50, "halfway"); err != nil {
		return err
	}
	if err := sdk.KVSet("last", in); err != nil {
		return err
	}
	fmt.Println("greeting:", os.Getenv("GREETING"))
	out, err := json.Marshal(map[string]json.RawMessage{"input": in, "config": cfg})
	if err != nil {
		return err
	}
	return sdk.SetResultRaw(out)
}
