//go:build !wasip1

package sdkhttp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cronbox/cronbox/sdk"
	"github.com/cronbox/cronbox/sdk/sdkhttp"
)

func ExampleClient() {
	// With the fake of package sdk, as in a task's test; in production the
	// app's permissions allow the host.
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.HandleHTTP("api.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))

	client := sdkhttp.Client() // or any library that takes an *http.Client
	resp, err := client.Get("https://api.example.com/v1/status")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var status struct{ Path string }
	err = json.NewDecoder(resp.Body).Decode(&status)
	fmt.Println(resp.Status, status.Path, err)

	_, err = client.Get("https://elsewhere.example/")
	fmt.Println(errors.Is(err, sdk.ErrDenied))
	// Output:
	// 200 OK /v1/status <nil>
	// true
}
