//go:build !wasip1

package sdk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

// A task's work, run against a fake as a task's test does it. In a test,
// sdk.NewFake(t) installs the fake and removes it when the test ends.
func Example() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.SetInput(map[string]any{"days": 90})

	// The task's code, as main would run it.
	run := func() error {
		params := struct {
			Days int `json:"days"`
		}{Days: 30} // the default when the run has no input
		if err := sdk.Input(&params); err != nil {
			return err
		}
		sdk.Info("cleaning up", "older_than_days", params.Days)
		if err := sdk.Progress(100, "done"); err != nil {
			return err
		}
		return sdk.SetResult(map[string]int{"deleted": 12})
	}

	if err := run(); err != nil {
		fmt.Println("failed:", err)
	}
	fmt.Println(f.Logs())
	fmt.Println(f.Progress())
	fmt.Println(string(f.ResultRaw()))
	// Output:
	// [{info cleaning up older_than_days=90}]
	// [{100 done}]
	// {"deleted":12}
}

func ExampleInfo() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()

	sdk.Info("archived", "files", 12, "dir", "/data/old logs")
	sdk.Warn("slow disk", "op", "rename")
	sdk.Error("archive failed", "err", errors.New("disk full"))

	for _, e := range f.Logs() {
		fmt.Println(e.Level, e.Msg)
	}
	// Output:
	// info archived files=12 dir="/data/old logs"
	// warn slow disk op=rename
	// error archive failed err="disk full"
}

func ExampleLogger() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()

	log := sdk.Logger().With("job", "sync").WithGroup("db")
	log.Debug("connected", "host", "db.internal")
	log.Info("copied", slog.Int("rows", 1500))

	for _, e := range f.Logs() {
		fmt.Println(e.Level, e.Msg)
	}
	// Output:
	// debug connected job=sync db.host=db.internal
	// info copied job=sync db.rows=1500
}

func ExampleProgress() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()

	files := []string{"a.log", "b.log", "c.log", "d.log"}
	for i, name := range files {
		// ... process the file ...
		if err := sdk.Progress((i+1)*100/len(files), name); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println(sdk.Progress(120, "too far"))

	fmt.Println(f.Progress())
	// Output:
	// progress: invalid argument: percent 120 is outside 0..100
	// [{25 a.log} {50 b.log} {75 c.log} {100 d.log}]
}

func ExampleInput() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()

	type params struct {
		Days   int    `json:"days"`
		Prefix string `json:"prefix"`
	}
	p := params{Days: 30, Prefix: "logs/"}
	if err := sdk.Input(&p); err != nil { // the input is null: p keeps its defaults
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", p)

	f.SetInput(json.RawMessage(`{"days": 7}`))
	if err := sdk.Input(&p); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", p)
	// Output:
	// {Days:30 Prefix:logs/}
	// {Days:7 Prefix:logs/}
}

func ExampleConfig() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.SetConfig(map[string]any{"bucket": "archive", "retries": 3})

	var cfg struct {
		Bucket  string `json:"bucket"`
		Retries int    `json:"retries"`
	}
	if err := sdk.Config(&cfg); err != nil {
		fmt.Println(err)
	}
	fmt.Println(cfg.Bucket, cfg.Retries)
	// Output: archive 3
}

func ExampleSetResult() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()

	type summary struct {
		Deleted int      `json:"deleted"`
		Skipped []string `json:"skipped"`
	}
	if err := sdk.SetResult(summary{Deleted: 3, Skipped: []string{"keep.log"}}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(string(f.ResultRaw()))

	// The payload must be JSON.
	err := sdk.SetResultRaw([]byte("deleted 3"))
	fmt.Println(errors.Is(err, sdk.ErrInvalid))
	// Output:
	// {"deleted":3,"skipped":["keep.log"]}
	// true
}

func ExampleKVGet() {
	_, uninstall := sdk.InstallFake()
	defer uninstall()

	// runs counts the runs of the task in the app's KV store.
	runs := func() (int, error) {
		n := 0
		v, err := sdk.KVGet("runs")
		switch {
		case errors.Is(err, sdk.ErrNotFound): // the first run
		case err != nil:
			return 0, err
		default:
			if n, err = strconv.Atoi(string(v)); err != nil {
				return 0, err
			}
		}
		n++
		return n, sdk.KVSet("runs", []byte(strconv.Itoa(n)))
	}

	for range 3 {
		n, err := runs()
		fmt.Println(n, err)
	}
	// Output:
	// 1 <nil>
	// 2 <nil>
	// 3 <nil>
}

func ExampleKVList() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.KV["seen/b"] = []byte("1")
	f.KV["seen/a"] = []byte("1")
	f.KV["cursor"] = []byte("42")

	keys, err := sdk.KVList("seen/")
	fmt.Println(keys, err)

	for key, err := range sdk.KVKeys("") {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(key)
	}
	// Output:
	// [seen/a seen/b] <nil>
	// cursor
	// seen/a
	// seen/b
}

func ExampleHTTP() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	// In production the app's permissions allow the host; with the fake,
	// a handler does.
	f.HandleHTTP("api.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var item struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&item); err != nil || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": 7, "name": %q}`, item.Name)
	}))

	resp, err := sdk.HTTP(sdk.Request{
		Method: "POST",
		URL:    "https://api.example.com/v1/items",
		Header: sdk.Header{
			"Authorization": {"Bearer t0k3n"},
			"Content-Type":  {"application/json"},
		},
		Body:    []byte(`{"name": "report"}`),
		Timeout: 10 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var created struct {
		ID int `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), created.ID, err)
	// Output:
	// 201 application/json 7 <nil>
}

func ExampleHTTPGet() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.HandleHTTP("api.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "all good")
	}))

	resp, err := sdk.HTTPGet("https://api.example.com/v1/status")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body), err)

	// An HTTP error status is a response, not an error.
	resp, err = sdk.HTTPGet("https://api.example.com/v2/status")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	// A host the app may not reach is an error.
	_, err = sdk.HTTPGet("https://elsewhere.example/")
	fmt.Println(errors.Is(err, sdk.ErrDenied))
	fmt.Println(err)
	// Output:
	// 200 all good <nil>
	// 404
	// true
	// http_request: permission denied: host "elsewhere.example" is not in this app's allow-list
}

func ExampleCallError() {
	f, uninstall := sdk.InstallFake()
	defer uninstall()
	f.KV = nil // an app without the kv permission

	err := sdk.KVSet("k", []byte("v"))
	var ce *sdk.CallError
	if errors.As(err, &ce) {
		fmt.Println(ce.Op, "|", ce.Code, "|", ce.Message)
	}
	fmt.Println(errors.Is(err, sdk.ErrDenied))
	// Output:
	// kv_set | permission denied | this app has no kv permission
	// true
}
