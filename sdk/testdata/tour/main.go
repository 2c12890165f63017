// Command tour is a task that exercises the whole SDK against a real host;
// sdk's integration test builds it for wasip1 and runs it. Its first
// argument picks a scenario; the outcome of every check goes into the
// result, which the test compares.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cronbox/cronbox/sdk"
	"github.com/cronbox/cronbox/sdk/sdkhttp"
)

func main() {
	scenarios := map[string]func([]string) (map[string]any, error){
		"basics": basics,
		"kv":     kv,
		"http":   httpTour,
	}
	if len(os.Args) < 2 || scenarios[os.Args[1]] == nil {
		sdk.Error("usage: tour basics|kv|http [args]")
		os.Exit(2)
	}
	res, err := scenarios[os.Args[1]](os.Args[2:])
	if err == nil {
		err = sdk.SetResult(res)
	}
	if err != nil {
		sdk.Error("tour failed", "scenario", os.Args[1], "err", err)
		os.Exit(1)
	}
	fmt.Println("tour", os.Args[1], "done")
}

// describe returns the errno and message of a *sdk.CallError, or the text
// of another error.
func describe(err error) string {
	var ce *sdk.CallError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s %d %s", ce.Op, ce.Code, ce.Message)
	}
	if err == nil {
		return "<nil>"
	}
	return "other: " + err.Error()
}

func basics([]string) (map[string]any, error) {
	sdk.Debug("debug line")
	sdk.Info("info line", "n", 1, "s", "two words")
	sdk.Warn("warn line")
	sdk.Error("error line", "err", errors.New("boom"))
	sdk.Logger().With("k", "v").WithGroup("g").Info("grouped", "a", 1)
	badLevel := sdk.Log(sdk.Level(9), "nope")

	for _, p := range []int{0, 50, 100} {
		if err := sdk.Progress(p, fmt.Sprintf("at %d", p)); err != nil {
			return nil, err
		}
	}
	badProgress := sdk.Progress(101, "")

	in := struct {
		Days int    `json:"days"`
		Big  string `json:"big"`
	}{Days: 7}
	if err := sdk.Input(&in); err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := sdk.Config(&cfg); err != nil {
		return nil, err
	}
	badResult := sdk.SetResultRaw([]byte("{bad"))
	return map[string]any{
		"abi":           sdk.ABIVersion(),
		"days":          in.Days,
		"big":           len(in.Big),
		"config":        cfg,
		"bad_level":     errors.Is(badLevel, sdk.ErrInvalid),
		"bad_level_msg": describe(badLevel),
		"bad_progress":  errors.Is(badProgress, sdk.ErrInvalid),
		"bad_result":    describe(badResult),
	}, nil
}

func kv([]string) (map[string]any, error) {
	const n = 300
	pad := strings.Repeat("x", 40)
	for i := range n {
		if err := sdk.KVSet(fmt.Sprintf("item/%03d/%s", i, pad), []byte{byte(i)}); err != nil {
			return nil, err
		}
	}
	if err := sdk.KVSet("other", []byte("o")); err != nil {
		return nil, err
	}
	if err := sdk.KVDelete(fmt.Sprintf("item/%03d/%s", 7, pad)); err != nil {
		return nil, err
	}
	big := bytes.Repeat([]byte("0123456789"), 10_000)
	if err := sdk.KVSet("big", big); err != nil {
		return nil, err
	}
	gotBig, err := sdk.KVGet("big")
	if err != nil {
		return nil, err
	}
	v, err := sdk.KVGet(fmt.Sprintf("item/%03d/%s", 42, pad))
	if err != nil {
		return nil, err
	}
	_, missing := sdk.KVGet("missing")

	keys, err := sdk.KVList("item/")
	if err != nil {
		return nil, err
	}
	sorted := true
	for i := 1; i < len(keys); i++ {
		sorted = sorted && keys[i-1] < keys[i]
	}
	var firstTwo []string
	for k, err := range sdk.KVKeys("") {
		if err != nil {
			return nil, err
		}
		if firstTwo = append(firstTwo, k); len(firstTwo) == 2 {
			break
		}
	}
	return map[string]any{
		"keys":      len(keys),
		"sorted":    sorted,
		"first":     keys[0],
		"last":      keys[len(keys)-1],
		"has_7":     strings.Contains(strings.Join(keys, ","), "item/007/"),
		"first_two": firstTwo,
		"value_42":  int(v[0]),
		"big_ok":    bytes.Equal(gotBig, big),
		"missing":   errors.Is(missing, sdk.ErrNotFound),
		"empty_key": errors.Is(sdk.KVSet("", nil), sdk.ErrInvalid),
	}, nil
}

func httpTour(args []string) (map[string]any, error) {
	if len(args) != 1 {
		return nil, errors.New("http needs the server's base URL")
	}
	base := args[0]
	res := map[string]any{}

	resp, err := sdk.HTTPGet(base + "/json")
	if err != nil {
		return nil, err
	}
	b, err := readAll(resp)
	if err != nil {
		return nil, err
	}
	res["json"] = fmt.Sprintf("%d %s %s", resp.Status, resp.Header.Get("content-type"), b)

	resp, err = sdk.HTTP(sdk.Request{
		Method: "POST",
		URL:    base + "/echo",
		Header: sdk.Header{"X-Tour": {"yes"}, "Connection": {"close"}}, // owned by the host: left out
		Body:   []byte("ping"),
	})
	if err != nil {
		return nil, err
	}
	if b, err = readAll(resp); err != nil {
		return nil, err
	}
	res["echo"] = string(b)

	if resp, err = sdk.HTTPGet(base + "/big"); err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	res["big"] = fmt.Sprintf("%d %d %s", resp.Size, n, hex.EncodeToString(h.Sum(nil)))

	if resp, err = sdk.HTTPGet(base + "/redirect"); err != nil {
		return nil, err
	}
	resp.Body.Close()
	res["redirect"] = resp.Status

	if resp, err = sdk.HTTPGet(base + "/missing"); err != nil {
		return nil, err
	}
	resp.Body.Close()
	res["missing"] = resp.Status

	_, err = sdk.HTTPGet("http://denied.example/")
	res["denied"] = errors.Is(err, sdk.ErrDenied)
	res["denied_msg"] = describe(err)

	_, err = sdk.HTTP(sdk.Request{URL: base + "/slow", Timeout: 200 * time.Millisecond})
	res["timeout"] = errors.Is(err, sdk.ErrTimeout)

	// A request through net/http's types, with the timeout from the
	// context. Not through an http.Client: that would link net/http's own
	// transport and double the size of this module.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/echo", strings.NewReader("pong"))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Tour", "transport")
	req.Header.Set("Connection", "close") // owned by the host: left out
	hr, err := sdkhttp.Transport{}.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err = io.ReadAll(hr.Body)
	hr.Body.Close()
	if err != nil {
		return nil, err
	}
	res["transport"] = fmt.Sprintf("%s %d %s", hr.Status, hr.ContentLength, b)
	return res, nil
}

// readAll reads and closes the body of resp.
func readAll(resp *sdk.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
