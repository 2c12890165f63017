// Command greeting is the route of the hello app: GET /apps/hello/api/greeting
// answers how often the app has greeted, as JSON, for the app's page.
package main

import (
	"errors"
	"os"
	"strconv"

	"github.com/cronbox/cronbox/sdk"
)

func main() {
	if err := sdk.Handle(greeting); err != nil {
		sdk.Error("serving", "err", err)
		os.Exit(1)
	}
}

func greeting(req *sdk.RouteRequest) sdk.RouteResponse {
	name := req.QueryValue("name")
	if name == "" {
		name = "world"
	}
	count := 0
	if b, err := sdk.KVGet("count"); err == nil {
		count, _ = strconv.Atoi(string(b))
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return sdk.Text(500, "reading the count: "+err.Error())
	}
	return sdk.JSON(200, map[string]any{"greeting": "Hello, " + name + "!", "count": count})
}
