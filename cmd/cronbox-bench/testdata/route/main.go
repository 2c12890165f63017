// Command route is the benchmark's trivial route handler: it answers
// "ok" to every request.
package main

import (
	"os"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	if err := sdk.Handle(func(*sdk.RouteRequest) sdk.RouteResponse { return sdk.Text(200, "ok") }); err != nil {
		os.Exit(1)
	}
}
