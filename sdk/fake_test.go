//go:build !wasip1

package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/sdk"
)

// The tests in this file install fakes, so they do not call t.Parallel.

// wantErr fails t unless err matches want (nil for success) and, when
// msg is not empty, err's text contains msg.
func wantErr(t *testing.T, err, want error, msg string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want one matching %v", err, want)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %q, want it to contain %q", err, msg)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		err     error
		text    string
		is      error
		timeout bool
	}{
		{sdk.ErrNotFound, "not found", sdk.ErrNotFound, false},
		{sdk.Errno(42), "errno 42", sdk.Errno(42), false},
		{&sdk.CallError{Op: "kv_get", Code: sdk.ErrDenied}, "kv_get: permission denied", sdk.ErrDenied, false},
		{&sdk.CallError{Op: "http_request", Code: sdk.ErrTimeout, Message: "slow"}, "http_request: timed out: slow", sdk.ErrTimeout, true},
		{fmt.Errorf("wrapped: %w", &sdk.CallError{Op: "kv_set", Code: sdk.ErrTooLarge}), "wrapped: kv_set: too large", sdk.ErrTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.text {
				t.Errorf("Error() = %q, want %q", got, tt.text)
			}
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.is)
			}
			if errors.Is(tt.err, sdk.ErrIO) {
				t.Errorf("errors.Is(%v, ErrIO) = true", tt.err)
			}
			var timeout interface{ Timeout() bool }
			if got := errors.As(tt.err, &timeout) && timeout.Timeout(); got != tt.timeout {
				t.Errorf("timeout = %v, want %v", got, tt.timeout)
			}
		})
	}
}

type secret string

func (secret) LogValue() slog.Value { return slog.StringValue("***") }

func TestLogging(t *testing.T) {
	long := strings.Repeat("é", 40<<10) // 80 KiB
	tests := []struct {
		name string
		log  func()
		want sdk.LogEntry
	}{
		{"debug", func() { sdk.Debug("d") }, sdk.LogEntry{Level: sdk.LevelDebug, Msg: "d"}},
		{"info", func() { sdk.Info("i", "n", 1, "ok", true) }, sdk.LogEntry{Level: sdk.LevelInfo, Msg: "i n=1 ok=true"}},
		{"warn", func() { sdk.Warn("w", "d", 1500*time.Millisecond) }, sdk.LogEntry{Level: sdk.LevelWarn, Msg: "w d=1.5s"}},
		{"error", func() { sdk.Error("e", "err", errors.New("it broke")) }, sdk.LogEntry{Level: sdk.LevelError, Msg: `e err="it broke"`}},
		{"quoting", func() {
			sdk.Info("q", "empty", "", "eq", "a=b", "quote", `say "hi"`, "nl", "a\nb", "key with space", 1)
		},
			sdk.LogEntry{Level: sdk.LevelInfo, Msg: `q empty="" eq="a=b" quote="say \"hi\"" nl="a\nb" "key with space"=1`}},
		{"bad key", func() { sdk.Info("odd", "lonely") }, sdk.LogEntry{Level: sdk.LevelInfo, Msg: "odd !BADKEY=lonely"}},
		{"time", func() { sdk.Info("t", "at", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) },
			sdk.LogEntry{Level: sdk.LevelInfo, Msg: "t at=2026-01-02T03:04:05Z"}},
		{"log valuer", func() { sdk.Info("v", "token", secret("hunter2")) }, sdk.LogEntry{Level: sdk.LevelInfo, Msg: "v token=***"}},
		{"groups", func() {
			sdk.Logger().With("app", "a").WithGroup("req").With("id", 7).WithGroup("").Info("g",
				slog.Group("user", "name", "bob"), slog.Group("", "inline", 1), slog.Group("empty"), slog.Attr{})
		}, sdk.LogEntry{Level: sdk.LevelInfo, Msg: "g app=a req.id=7 req.user.name=bob req.inline=1"}},
		{"slog levels", func() { sdk.Logger().Log(context.Background(), slog.LevelWarn+1, "between") },
			sdk.LogEntry{Level: sdk.LevelWarn, Msg: "between"}},
		{"below debug", func() { sdk.Logger().Log(context.Background(), slog.LevelDebug-4, "trace") },
			sdk.LogEntry{Level: sdk.LevelDebug, Msg: "trace"}},
		{"invalid UTF-8", func() { sdk.Info("a\xffb") }, sdk.LogEntry{Level: sdk.LevelInfo, Msg: "a\uFFFDb"}},
		{"truncated", func() { sdk.Info(long) }, sdk.LogEntry{Level: sdk.LevelInfo, Msg: long[:64<<10] + " …[truncated]"}},
		{"truncated between runes", func() { sdk.Info("x" + long) },
			sdk.LogEntry{Level: sdk.LevelInfo, Msg: "x" + long[:64<<10-2] + " …[truncated]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			tt.log()
			if got := f.Logs(); !reflect.DeepEqual(got, []sdk.LogEntry{tt.want}) {
				t.Errorf("logs = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("unknown level", func(t *testing.T) {
		f := sdk.NewFake(t)
		wantErr(t, sdk.Log(sdk.Level(4), "x"), sdk.ErrInvalid, "log: invalid argument: unknown level 4")
		wantErr(t, sdk.Log(sdk.LevelWarn, "y"), nil, "")
		if got := f.Logs(); len(got) != 1 || got[0].Msg != "y" {
			t.Errorf("logs = %q, want only y", got)
		}
	})
}

func TestLevelString(t *testing.T) {
	for l, want := range map[sdk.Level]string{
		sdk.LevelDebug: "debug", sdk.LevelInfo: "info", sdk.LevelWarn: "warn", sdk.LevelError: "error", 9: "level(9)",
	} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int(l), got, want)
		}
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		percent int
		err     error
	}{
		{0, nil}, {42, nil}, {100, nil},
		{-1, sdk.ErrInvalid}, {101, sdk.ErrInvalid}, {1<<32 + 50, sdk.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.percent), func(t *testing.T) {
			f := sdk.NewFake(t)
			err := sdk.Progress(tt.percent, "step")
			wantErr(t, err, tt.err, "outside 0..100")
			var want []sdk.ProgressEntry
			if tt.err == nil {
				want = []sdk.ProgressEntry{{Percent: tt.percent, Msg: "step"}}
			}
			if got := f.Progress(); !reflect.DeepEqual(got, want) {
				t.Errorf("progress = %v, want %v", got, want)
			}
		})
	}
}

func TestInput(t *testing.T) {
	type params struct {
		Days int    `json:"days"`
		Dir  string `json:"dir"`
	}
	big := strings.Repeat("x", 10_000) // beyond the SDK's first buffer
	tests := []struct {
		name  string
		input any // nil: not set
		want  params
		err   string
	}{
		{"not set", nil, params{Days: 7}, ""},
		{"null", json.RawMessage(" null "), params{Days: 7}, ""},
		{"object", map[string]any{"days": 90}, params{Days: 90}, ""},
		{"big", map[string]any{"dir": big}, params{Days: 7, Dir: big}, ""},
		{"wrong type", map[string]any{"days": "many"}, params{Days: 7}, "decoding input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			if tt.input != nil {
				f.SetInput(tt.input)
			}
			got := params{Days: 7}
			err := sdk.Input(&got)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Input error = %v, want %q", err, tt.err)
			}
			if tt.err == "" && got != tt.want {
				t.Errorf("Input = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	f := sdk.NewFake(t)
	raw, err := sdk.ConfigRaw()
	if err != nil || string(raw) != "{}" {
		t.Errorf("default ConfigRaw = %s, %v; want {}", raw, err)
	}
	f.SetConfig(map[string]string{"region": "eu"})
	var cfg struct{ Region string }
	if err := sdk.Config(&cfg); err != nil || cfg.Region != "eu" {
		t.Errorf("Config = %+v, %v; want region eu", cfg, err)
	}
	if err := sdk.Config(new(int)); err == nil || !strings.Contains(err.Error(), "decoding config") {
		t.Errorf("Config into an int: err = %v", err)
	}
}

func TestFakeMisuse(t *testing.T) {
	tests := []struct {
		name string
		do   func(f *sdk.Fake)
		want string
	}{
		{"config not an object", func(f *sdk.Fake) { f.SetConfig([]int{1}) }, "must be a JSON object"},
		{"input not JSON", func(f *sdk.Fake) { f.SetInput(func() {}) }, "encoding the input"},
		{"no result", func(f *sdk.Fake) { f.Result(new(any)) }, "set no result"},
		{"result mismatch", func(f *sdk.Fake) {
			sdk.SetResult("text")
			f.Result(new(int))
		}, "decoding the result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, uninstall := sdk.InstallFake()
			defer uninstall()
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.Contains(msg, tt.want) {
					t.Errorf("panic %q, want one containing %q", msg, tt.want)
				}
			}()
			tt.do(f)
		})
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name string
		set  func() error
		want string // the payload kept; "" for none
		err  error
	}{
		{"value", func() error { return sdk.SetResult(map[string]int{"n": 1}) }, `{"n":1}`, nil},
		{"raw", func() error { return sdk.SetResultRaw([]byte(` [1, 2] `)) }, ` [1, 2] `, nil},
		{"null", func() error { return sdk.SetResult(nil) }, `null`, nil},
		{"replaced", func() error {
			sdk.SetResult(1)
			return sdk.SetResult(2)
		}, `2`, nil},
		{"invalid", func() error { return sdk.SetResultRaw([]byte(`{"a":`)) }, "", sdk.ErrInvalid},
		{"two values", func() error { return sdk.SetResultRaw([]byte(`1 2`)) }, "", sdk.ErrInvalid},
		{"empty", func() error { return sdk.SetResultRaw(nil) }, "", sdk.ErrInvalid},
		{"too large", func() error { return sdk.SetResult(strings.Repeat("x", 1<<20)) }, "", sdk.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			wantErr(t, tt.set(), tt.err, "result_set")
			if got := f.ResultRaw(); string(got) != tt.want {
				t.Errorf("result = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("not encodable", func(t *testing.T) {
		sdk.NewFake(t)
		var uerr *json.UnsupportedTypeError
		if err := sdk.SetResult(make(chan int)); !errors.As(err, &uerr) {
			t.Errorf("err = %v, want a *json.UnsupportedTypeError", err)
		}
	})
}

// TestFallback checks the SDK without an installed fake.
func TestFallback(t *testing.T) {
	in := map[string]int{"days": 7}
	if err := sdk.Input(&in); err != nil || in["days"] != 7 {
		t.Errorf("Input = %v, %v; want the defaults kept", in, err)
	}
	if err := sdk.KVSet("fallback", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := sdk.KVGet("fallback"); err != nil || string(v) != "v" {
		t.Errorf("KVGet = %q, %v", v, err)
	}
	_, err := sdk.HTTPGet("https://example.com/")
	wantErr(t, err, sdk.ErrDenied, "allow-list")
	if v := sdk.ABIVersion(); v != 1 {
		t.Errorf("ABIVersion = %d, want 1", v)
	}
}

func TestKV(t *testing.T) {
	t.Run("round trip", func(t *testing.T) {
		f := sdk.NewFake(t)
		f.KV["seeded"] = []byte("s")
		v := []byte("value")
		wantErr(t, sdk.KVSet("k", v), nil, "")
		v[0] = 'X' // the store keeps a copy
		got, err := sdk.KVGet("k")
		if err != nil || string(got) != "value" {
			t.Errorf("KVGet = %q, %v", got, err)
		}
		if got, err := sdk.KVGet("seeded"); err != nil || string(got) != "s" {
			t.Errorf("KVGet(seeded) = %q, %v", got, err)
		}
		big := []byte(strings.Repeat("b", 1<<20))
		wantErr(t, sdk.KVSet("big", big), nil, "")
		if got, err := sdk.KVGet("big"); err != nil || len(got) != len(big) {
			t.Errorf("KVGet(big) = %d bytes, %v", len(got), err)
		}
		wantErr(t, sdk.KVSet("empty", nil), nil, "")
		if got, err := sdk.KVGet("empty"); err != nil || len(got) != 0 {
			t.Errorf("KVGet(empty) = %q, %v", got, err)
		}
		wantErr(t, sdk.KVDelete("k"), nil, "")
		wantErr(t, sdk.KVDelete("k"), nil, "")
		_, err = sdk.KVGet("k")
		wantErr(t, err, sdk.ErrNotFound, `kv_get: not found: key "k" not found`)
		if _, ok := f.KV["k"]; ok {
			t.Error("the deleted key is still in f.KV")
		}
	})

	tests := []struct {
		name string
		key  string
		val  []byte
		err  error
		msg  string
	}{
		{"longest key", strings.Repeat("k", 512), nil, nil, ""},
		{"empty key", "", nil, sdk.ErrInvalid, "key is empty"},
		{"long key", strings.Repeat("k", 513), nil, sdk.ErrTooLarge, "key of 513 bytes"},
		{"NUL", "a\x00b", nil, sdk.ErrInvalid, "NUL"},
		{"not UTF-8", "a\xffb", nil, sdk.ErrInvalid, "UTF-8"},
		{"large value", "v", make([]byte, 1<<20+1), sdk.ErrTooLarge, "value of 1048577 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sdk.NewFake(t)
			wantErr(t, sdk.KVSet(tt.key, tt.val), tt.err, tt.msg)
			if tt.err != nil && tt.val == nil {
				_, err := sdk.KVGet(tt.key)
				wantErr(t, err, tt.err, tt.msg)
				wantErr(t, sdk.KVDelete(tt.key), tt.err, tt.msg)
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		f := sdk.NewFake(t)
		f.KV = nil
		const msg = "no kv permission"
		_, err := sdk.KVGet("k")
		wantErr(t, err, sdk.ErrDenied, msg)
		wantErr(t, sdk.KVSet("k", nil), sdk.ErrDenied, msg)
		wantErr(t, sdk.KVDelete("k"), sdk.ErrDenied, msg)
		_, err = sdk.KVList("")
		wantErr(t, err, sdk.ErrDenied, msg)
	})
}

func TestKVList(t *testing.T) {
	f := sdk.NewFake(t)
	var want []string
	for i := range 500 { // about 20 KB of keys: several pages
		k := fmt.Sprintf("log/%04d/%s", i, strings.Repeat("p", 30))
		f.KV[k] = nil
		want = append(want, k)
	}
	f.KV["logo"] = nil
	f.KV["other"] = nil
	f.KV["lo\u00e9"] = nil

	tests := []struct {
		prefix string
		want   []string
	}{
		{"log/", want},
		{"log/0499", want[499:]},
		{"logo", []string{"logo"}},
		{"none", nil},
		{"", append(append(append([]string{}, want...), "logo", "lo\u00e9"), "other")},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := sdk.KVList(tt.prefix)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("KVList(%q) = %d keys, %v; want %d keys", tt.prefix, len(got), err, len(tt.want))
			}
		})
	}

	t.Run("stop early", func(t *testing.T) {
		var got []string
		for k, err := range sdk.KVKeys("log/") {
			if err != nil {
				t.Fatal(err)
			}
			if got = append(got, k); len(got) == 3 {
				break
			}
		}
		if !reflect.DeepEqual(got, want[:3]) {
			t.Errorf("first keys = %q, want %q", got, want[:3])
		}
	})

	t.Run("bad prefix", func(t *testing.T) {
		_, err := sdk.KVList(strings.Repeat("p", 513))
		wantErr(t, err, sdk.ErrTooLarge, "prefix of 513 bytes")
	})
}

func TestNewFakeNesting(t *testing.T) {
	outer := sdk.NewFake(t)
	t.Run("inner", func(t *testing.T) {
		inner := sdk.NewFake(t)
		sdk.Info("inner")
		if len(inner.Logs()) != 1 || len(outer.Logs()) != 0 {
			t.Errorf("logs went to the wrong fake")
		}
	})
	sdk.Info("outer")
	if len(outer.Logs()) != 1 {
		t.Errorf("the outer fake was not restored")
	}
}

func TestHeaderGet(t *testing.T) {
	h := sdk.Header{"Content-Type": {"text/plain", "ignored"}, "x-lower": {"l"}, "Empty": {}}
	for name, want := range map[string]string{
		"Content-Type": "text/plain",
		"content-type": "text/plain",
		"X-Lower":      "l",
		"Empty":        "",
		"Missing":      "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	if got := sdk.Header(nil).Get("X"); got != "" {
		t.Errorf("Get on a nil Header = %q", got)
	}
}

func TestHTTPAllowList(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host) })
	tests := []struct {
		name    string
		pattern string
		url     string
		allowed bool
	}{
		{"host", "api.example.com", "https://api.example.com/x", true},
		{"case", "API.example.com", "http://api.EXAMPLE.com", true},
		{"other host", "api.example.com", "https://example.com", false},
		{"default port", "api.example.com", "https://api.example.com:443", true},
		{"other port", "api.example.com", "https://api.example.com:8443", false},
		{"port", "localhost:8080", "http://localhost:8080/", true},
		{"port mismatch", "localhost:8080", "http://localhost:8081/", false},
		{"port needed", "localhost:8080", "http://localhost/", false},
		{"wildcard", "*.example.com", "https://a.b.example.com", true},
		{"wildcard excludes apex", "*.example.com", "https://example.com", false},
		{"wildcard with port", "*.example.com:9000", "http://a.example.com:9000", true},
		{"IPv6", "[::1]:8080", "http://[::1]:8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			f.HandleHTTP(tt.pattern, ok)
			resp, err := sdk.HTTPGet(tt.url)
			if !tt.allowed {
				wantErr(t, err, sdk.ErrDenied, "not in this app's allow-list")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		})
	}

	t.Run("most specific", func(t *testing.T) {
		f := sdk.NewFake(t)
		for _, p := range []string{"*.com", "*.example.com", "a.example.com", "a.example.com:8080"} {
			f.HandleHTTP(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, p) }))
		}
		for url, want := range map[string]string{
			"http://a.example.com:8080": "a.example.com:8080",
			"http://a.example.com":      "a.example.com",
			"http://b.example.com":      "*.example.com",
			"http://example.com":        "*.com",
		} {
			if _, got := do(t, sdk.Request{URL: url}); got != want {
				t.Errorf("%s answered by %q, want %q", url, got, want)
			}
		}
	})
}

// do makes the request req with sdk.HTTP and returns the response and its
// body, which it reads and closes.
func do(t *testing.T, req sdk.Request) (*sdk.Response, string) {
	t.Helper()
	resp, err := sdk.HTTP(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHTTP(t *testing.T) {
	f := sdk.NewFake(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Conn", r.Header.Get("Connection"))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Token"), b)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html></html>") })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 11 {
			w.Write(chunk)
		}
	})
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/see-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/method", http.StatusSeeOther)
	})
	mux.HandleFunc("/method", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	f.HandleHTTP("api.example.com", mux)

	t.Run("post", func(t *testing.T) {
		req := sdk.Request{
			Method: http.MethodPost,
			URL:    "https://api.example.com/echo",
			Header: sdk.Header{"X-Token": {"t0k"}, "connection": {"close"}}, // Connection is left out
			Body:   []byte("hi"),
		}
		resp, body := do(t, req)
		if got, want := fmt.Sprintf("%d|%s|%d|%t|%q", resp.Status, body, resp.Size, resp.Truncated, resp.Header["X-Conn"]),
			`201|POST /echo t0k hi|17|false|[""]`; got != want {
			t.Errorf("response = %s, want %s", got, want)
		}
		if len(req.Header) != 2 {
			t.Errorf("HTTP changed the request's header to %q", req.Header)
		}
	})

	t.Run("default method", func(t *testing.T) {
		if _, body := do(t, sdk.Request{URL: "https://api.example.com/method"}); body != "GET" {
			t.Errorf("method = %q, want GET", body)
		}
	})

	t.Run("sniffed content type", func(t *testing.T) {
		resp, _ := do(t, sdk.Request{URL: "https://api.example.com/html"})
		if got := resp.Header.Get("content-type"); got != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", got)
		}
	})

	t.Run("not found is a response", func(t *testing.T) {
		if resp, _ := do(t, sdk.Request{URL: "https://api.example.com/nothing"}); resp.Status != http.StatusNotFound {
			t.Errorf("status = %d, want 404", resp.Status)
		}
	})

	t.Run("empty body", func(t *testing.T) {
		// An empty response is freed at once, so leaving its body open
		// does not count against the open responses.
		for range 20 {
			resp, err := sdk.HTTPGet("https://api.example.com/empty")
			if err != nil {
				t.Fatal(err)
			}
			if n, err := resp.Body.Read(make([]byte, 1)); resp.Status != http.StatusNoContent || n != 0 || err != io.EOF {
				t.Fatalf("status %d, read %d, %v; want 204 and EOF", resp.Status, n, err)
			}
		}
	})

	t.Run("truncated body", func(t *testing.T) {
		resp, err := sdk.HTTPGet("https://api.example.com/huge")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Size != 10<<20 || !resp.Truncated {
			t.Errorf("size %d, truncated %t; want 10 MiB, true", resp.Size, resp.Truncated)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if n != 10<<20 {
			t.Errorf("read %d bytes, want 10 MiB", n)
		}
		wantErr(t, err, sdk.ErrTooLarge, "kept only the first 10485760 bytes")
	})

	t.Run("read after close", func(t *testing.T) {
		resp, err := sdk.HTTPGet("https://api.example.com/html")
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("Read after Close succeeded")
		}
	})

	t.Run("redirect", func(t *testing.T) {
		req := sdk.Request{Method: http.MethodPost, URL: "https://api.example.com/see-other", Body: []byte("x")}
		if _, body := do(t, req); body != "GET" {
			t.Errorf("after 303 the method is %q, want GET", body)
		}
	})

	errTests := []struct {
		name string
		req  sdk.Request
		err  error
		msg  string
	}{
		{"denied", sdk.Request{URL: "https://evil.example/"},
			sdk.ErrDenied, `http_request: permission denied: host "evil.example" is not in this app's allow-list`},
		{"denied redirect", sdk.Request{URL: "https://api.example.com/away"}, sdk.ErrDenied, `host "evil.example"`},
		{"redirect loop", sdk.Request{URL: "https://api.example.com/loop"}, sdk.ErrIO, "stopped after 10 redirects"},
		{"aborted", sdk.Request{URL: "https://api.example.com/abort"}, sdk.ErrIO, "broken"},
		{"timeout", sdk.Request{URL: "https://api.example.com/slow", Timeout: 50 * time.Millisecond},
			sdk.ErrTimeout, "exceeded its timeout of 50ms"},
		{"negative timeout", sdk.Request{URL: "https://api.example.com/html", Timeout: -time.Second},
			sdk.ErrInvalid, "the timeout -1s is negative"},
		{"not http", sdk.Request{URL: "ftp://api.example.com/"}, sdk.ErrInvalid, "not an http or https URL"},
		{"bad method", sdk.Request{Method: "GET /", URL: "https://api.example.com/html"}, sdk.ErrInvalid, "invalid method"},
		{"bad header", sdk.Request{URL: "https://api.example.com/html", Header: sdk.Header{"X-Bad": {"a\x01b"}}},
			sdk.ErrInvalid, "control character"},
		{"request body too large", sdk.Request{Method: http.MethodPost, URL: "https://api.example.com/echo",
			Body: make([]byte, 10<<20+1)}, sdk.ErrTooLarge, "exceeds the limit of 10485760 bytes"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sdk.HTTP(tt.req)
			wantErr(t, err, tt.err, tt.msg)
		})
	}

	t.Run("open responses limit", func(t *testing.T) {
		var open []*sdk.Response
		defer func() {
			for _, r := range open {
				r.Body.Close()
			}
		}()
		for range 16 {
			resp, err := sdk.HTTPGet("https://api.example.com/html")
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, resp)
		}
		_, err := sdk.HTTPGet("https://api.example.com/html")
		wantErr(t, err, sdk.ErrLimit, "open HTTP responses")
		open[0].Body.Close()
		resp, err := sdk.HTTPGet("https://api.example.com/html")
		if err != nil {
			t.Fatalf("after closing a response: %v", err)
		}
		open[0] = resp
	})
}
