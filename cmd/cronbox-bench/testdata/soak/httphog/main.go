// Command httphog is a hostile task of the soak benchmark: it requests
// large responses from the URL in its config and holds them, unread, until
// the host refuses another; then it frees one, to be allowed a request
// again, and waits on an upstream that never answers (the hold URL) until
// its time limit stops it.
package main

import (
	"os"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	var cfg struct {
		URL  string `json:"url"`
		Hold string `json:"hold"`
	}
	if err := sdk.Config(&cfg); err != nil {
		sdk.Error("config", "err", err)
		os.Exit(1)
	}
	var held []*sdk.Response
	// The ABI allows 16 open responses a run; 1000 bounds the loop
	// should a host allow more.
	for len(held) < 1000 {
		resp, err := sdk.HTTPGet(cfg.URL)
		if err != nil {
			sdk.Info("request refused", "held", len(held), "err", err)
			break
		}
		held = append(held, resp)
	}
	if len(held) > 0 {
		held[0].Body.Close()
		held = held[1:]
	}
	_, err := sdk.HTTP(sdk.Request{URL: cfg.Hold, Timeout: time.Hour})
	sdk.Info("hold ended", "held", len(held), "err", err)
	for _, r := range held {
		r.Body.Close()
	}
}
