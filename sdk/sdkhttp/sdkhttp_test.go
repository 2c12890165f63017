//go:build !wasip1

package sdkhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/sdk"
	"github.com/cronbox/cronbox/sdk/sdkhttp"
)

// The tests in this file install fakes, so they do not call t.Parallel.

// wantErr fails t unless err matches want and its text contains msg.
func wantErr(t *testing.T, err, want error, msg string) {
	t.Helper()
	if !errors.Is(err, want) || !strings.Contains(fmt.Sprint(err), msg) {
		t.Fatalf("err = %v, want one matching %v and containing %q", err, want, msg)
	}
}

func TestTransport(t *testing.T) {
	f := sdk.NewFake(t)
	calls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Conn", r.Header.Get("Connection"))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Token"), b)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 11 {
			w.Write(chunk)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		calls++
		<-r.Context().Done()
	})
	f.HandleHTTP("api.example.com", mux)
	client := sdkhttp.Client()

	t.Run("post", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/echo", strings.NewReader("hi"))
		req.Header.Set("X-Token", "t0k")
		req.Header.Set("Connection", "close") // left out: the host sets it
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprintf("%s|%s|%s|%d|%s", resp.Status, resp.Proto, b, resp.ContentLength, resp.Header.Get("X-Conn")),
			"201 Created|HTTP/1.1|POST t0k hi|11|"; got != want {
			t.Errorf("response = %q, want %q", got, want)
		}
		if resp.Request != req {
			t.Error("resp.Request is not the request")
		}
	})

	t.Run("empty body", func(t *testing.T) {
		resp, err := client.Get("https://api.example.com/empty")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNoContent || resp.Body != http.NoBody {
			t.Errorf("status %d, body %T; want 204 and http.NoBody", resp.StatusCode, resp.Body)
		}
	})

	t.Run("truncated body", func(t *testing.T) {
		resp, err := client.Get("https://api.example.com/huge")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if n != 10<<20 || resp.ContentLength != 10<<20 {
			t.Errorf("read %d bytes of %d, want 10 MiB", n, resp.ContentLength)
		}
		wantErr(t, err, sdk.ErrTooLarge, "kept only the first 10485760 bytes")
	})

	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/slow", nil)
		_, err := client.Do(req)
		wantErr(t, err, sdk.ErrTimeout, "exceeded its timeout")
		if !os.IsTimeout(err) {
			t.Errorf("os.IsTimeout(%v) = false", err)
		}
	})

	t.Run("client timeout", func(t *testing.T) {
		client := sdkhttp.Client()
		client.Timeout = 50 * time.Millisecond
		_, err := client.Get("https://api.example.com/slow")
		if !os.IsTimeout(err) {
			t.Errorf("os.IsTimeout(%v) = false", err)
		}
	})

	t.Run("context done", func(t *testing.T) {
		calls = 0
		expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		req, _ := http.NewRequestWithContext(expired, http.MethodGet, "https://api.example.com/slow", nil)
		_, err := sdkhttp.Transport{}.RoundTrip(req)
		wantErr(t, err, context.DeadlineExceeded, "")

		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ = http.NewRequestWithContext(canceled, http.MethodGet, "https://api.example.com/slow", nil)
		_, err = sdkhttp.Transport{}.RoundTrip(req)
		wantErr(t, err, context.Canceled, "")
		if calls != 0 {
			t.Errorf("the handler ran %d times, want 0", calls)
		}
	})

	t.Run("denied", func(t *testing.T) {
		_, err := client.Get("https://evil.example/")
		wantErr(t, err, sdk.ErrDenied, `host "evil.example" is not in this app's allow-list`)
	})

	t.Run("request body too large", func(t *testing.T) {
		body := &closeRecorder{Reader: strings.NewReader(strings.Repeat("x", 10<<20+1))}
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/echo", body)
		_, err := sdkhttp.Transport{}.RoundTrip(req)
		wantErr(t, err, sdk.ErrTooLarge, "exceeds the limit of 10485760 bytes")
		if !body.closed {
			t.Error("RoundTrip did not close the request body")
		}
	})
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}
