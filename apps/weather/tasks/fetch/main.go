// Command fetch is a task of the weather app: it asks Open-Meteo for the
// current temperature at the configured place. The host may be unreachable
// (no network, a sandbox, an outage); then the task logs a warning, sets a
// result saying so and still succeeds, since a missing reading is expected
// and retrying at once would not help.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/cronbox/cronbox/sdk"
)

type config struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type result struct {
	Available   bool     `json:"available"`
	Temperature *float64 `json:"temperature,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

func main() {
	if err := run(); err != nil {
		sdk.Error("fetch failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	c := config{Latitude: 52.52, Longitude: 13.41}
	if err := sdk.Config(&c); err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	url := fmt.Sprintf("https://api.open-meteo.com/v1/forecast?latitude=%g&longitude=%g&current=temperature_2m", c.Latitude, c.Longitude)
	temp, err := fetch(url)
	if err != nil {
		sdk.Warn("no reading", "err", err)
		return sdk.SetResult(result{Reason: err.Error()})
	}
	sdk.Info("temperature", "celsius", temp)
	return sdk.SetResult(result{Available: true, Temperature: &temp})
}

func fetch(url string) (float64, error) {
	resp, err := sdk.HTTPGet(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.Status != 200 {
		return 0, fmt.Errorf("open-meteo answered %d", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var v struct {
		Current struct {
			Temperature *float64 `json:"temperature_2m"`
		} `json:"current"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("decoding open-meteo's answer: %w", err)
	}
	if v.Current.Temperature == nil {
		return 0, fmt.Errorf("open-meteo's answer has no current temperature")
	}
	return *v.Current.Temperature, nil
}
