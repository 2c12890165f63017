// Command handler is a route's handler for tests: what it answers depends
// on the request's path.
//
//	/echo   the request as JSON: method, path, query, the X-Test header, body
//	/count  counts its calls in the app's KV store and answers the count
//	/loop   never returns (the route's time limit stops it)
//	/bomb   allocates until the memory limit refuses it
//	/huge   sets a body past the ABI's limit, then fails
//	/fail   exits 1 after setting a 200
//	/teapot answers 418 with a header
//	/init   the count of its starts, which its start-up logs and counts
//	        in the app's KV store (a start-up with effects)
//	other   "hello"
package main

import (
	"os"
	"strconv"

	"github.com/cronbox/cronbox/sdk"
)

var sinkHole [][]byte

// inits counts, for the route GET /init, the starts of the handler.
var inits = func() int {
	if len(os.Args) == 0 || os.Args[0] != "GET /init" {
		return 0
	}
	sdk.Info("starting")
	n := 0
	if b, err := sdk.KVGet("inits"); err == nil {
		n, _ = strconv.Atoi(string(b))
	}
	n++
	if err := sdk.KVSet("inits", []byte(strconv.Itoa(n))); err != nil {
		return -1
	}
	return n
}()

func main() {
	err := sdk.Handle(func(req *sdk.RouteRequest) sdk.RouteResponse {
		switch req.Path {
		case "/echo":
			return sdk.JSON(200, map[string]any{
				"method": req.Method, "path": req.Path, "query": req.QueryValue("q"),
				"x_test": req.Header.Get("X-Test"), "body": string(req.Body),
			})
		case "/count":
			n := 0
			if b, err := sdk.KVGet("count"); err == nil {
				n, _ = strconv.Atoi(string(b))
			}
			n++
			if err := sdk.KVSet("count", []byte(strconv.Itoa(n))); err != nil {
				return sdk.Text(500, err.Error())
			}
			return sdk.Text(200, strconv.Itoa(n))
		case "/loop":
			for i := 0; ; i++ {
				if i < 0 {
					break
				}
			}
		case "/bomb":
			for {
				sinkHole = append(sinkHole, make([]byte, 1<<20))
			}
		case "/huge":
			if err := sdk.WriteResponse(sdk.RouteResponse{Body: make([]byte, 11<<20)}); err != nil {
				sdk.Error("huge", "err", err)
				os.Exit(1)
			}
		case "/fail":
			_ = sdk.WriteResponse(sdk.Text(200, "set, then failed"))
			os.Exit(1)
		case "/init":
			return sdk.Text(200, strconv.Itoa(inits))
		case "/teapot":
			return sdk.RouteResponse{Status: 418, Header: sdk.Header{"X-Kind": {"teapot"}}, Body: []byte("short and stout")}
		}
		return sdk.Text(200, "hello")
	})
	if err != nil {
		sdk.Error("serving", "err", err)
		os.Exit(1)
	}
}
