package hostapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cronbox/cronbox/hostapi"
)

// slogSink forwards a run's log lines and progress to a slog.Logger.
type slogSink struct{ log *slog.Logger }

func (s slogSink) Log(level hostapi.Level, msg string) {
	s.log.Info(msg, "level", level.String())
}

func (s slogSink) Progress(percent int, msg string) {
	s.log.Info("progress", "percent", percent, "msg", msg)
}

// This example shows how a host runs one task: the host module is defined
// once per runtime, and each run gets a Call with its capabilities in the
// context of the guest's call. (It is compiled but not run: it needs a
// task module.)
func Example_host() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := hostapi.Instantiate(ctx, r); err != nil {
		fmt.Println(err)
		return
	}
	wasm, err := os.ReadFile("tasks/cleanup.wasm")
	if err != nil {
		fmt.Println(err)
		return
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}

	policy := &hostapi.HTTP{Allow: []string{"api.example.com", "*.storage.example.com"}}
	if err := policy.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	call := &hostapi.Call{
		Input:  []byte(`{"days":90}`),
		Config: []byte(`{"bucket":"logs"}`),
		KV:     hostapi.NewMemoryKV(),
		HTTP:   policy,
		Sink:   slogSink{slog.Default()},
	}
	defer call.Close()

	mod, err := r.InstantiateModule(hostapi.WithCall(ctx, call), compiled, wazero.NewModuleConfig().WithName(""))
	if mod != nil {
		defer mod.Close(ctx)
	}
	if err != nil {
		fmt.Println(err, call.LastError())
		return
	}
	fmt.Printf("result: %s\n", call.Result())
}

func ExampleHTTP_Allows() {
	policy := &hostapi.HTTP{Allow: []string{"api.example.com", "*.example.org", "localhost:8080"}}
	for _, raw := range []string{
		"https://api.example.com/v1",
		"https://API.EXAMPLE.COM/v1",
		"https://api.example.com:8443/v1",
		"https://cdn.example.org/x",
		"https://example.org/x",
		"http://localhost:8080/",
		"http://localhost/",
		"ftp://api.example.com/",
	} {
		u, _ := url.Parse(raw)
		fmt.Println(raw, policy.Allows(u))
	}
	// Output:
	// https://api.example.com/v1 true
	// https://API.EXAMPLE.COM/v1 true
	// https://api.example.com:8443/v1 false
	// https://cdn.example.org/x true
	// https://example.org/x false
	// http://localhost:8080/ true
	// http://localhost/ false
	// ftp://api.example.com/ false
}

func ExampleMemoryKV() {
	ctx := context.Background()
	kv := hostapi.NewMemoryKV()
	for _, k := range []string{"user/2", "user/1", "user/3", "session/9"} {
		if err := kv.Set(ctx, k, []byte("v")); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Page through the keys with the prefix "user/", two at a time.
	for after := ""; ; {
		keys, err := kv.List(ctx, "user/", after, 2)
		if err != nil || len(keys) == 0 {
			break
		}
		fmt.Println(keys)
		after = keys[len(keys)-1]
	}
	// Output:
	// [user/1 user/2]
	// [user/3]
}
