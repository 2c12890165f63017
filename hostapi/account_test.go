package hostapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cronbox/cronbox/hostapi"
)

// account is a hostapi.Account with a fixed room for what the host holds.
type account struct {
	mu                 sync.Mutex
	room, held, peak   int64
	refused            int
	sent, received, kv int64
}

func (a *account) Reserve(n int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held+n > a.room {
		a.refused++
		return errors.New("the test's memory limit")
	}
	a.held += n
	a.peak = max(a.peak, a.held)
	return nil
}

func (a *account) Release(n int64) {
	a.mu.Lock()
	a.held -= n
	a.mu.Unlock()
}

func (a *account) AddLog(int64) {}

func (a *account) AddHTTP(sent, received int64) {
	a.mu.Lock()
	a.sent += sent
	a.received += received
	a.mu.Unlock()
}

func (a *account) AddKV(n int64) {}

func (a *account) state() (held, peak int64, refused int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held, a.peak, a.refused
}

// A response body is kept whole across its chunks, of announced length or
// not, and what it holds is reserved and given back.
func TestHTTPBodyChunks(t *testing.T) {
	body := make([]byte, 150_000)
	for i := range body {
		body[i] = byte('a' + i%23)
	}
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				for b := body; len(b) > 0; b = b[min(len(b), 7000):] {
					w.Write(b[:min(len(b), 7000)])
					w.(http.Flusher).Flush()
				}
			})
			acct := &account{room: 1 << 20}
			call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}, Account: acct}
			out := runGuest(t, call, "http", request(srv.URL, ""))
			if got := fields(out)["body"]; got != strconv.Quote(string(body)) {
				t.Fatalf("the guest read %d bytes of body, not the %d sent", len(got), len(body))
			}
			held, peak, _ := acct.state()
			if peak < int64(len(body)) || peak > int64(len(body))+64<<10 || held != 0 {
				t.Fatalf("peak held %d for a body of %d, %d still held after close", peak, len(body), held)
			}
			if acct.received != int64(len(body)) {
				t.Fatalf("metered %d bytes received; want %d", acct.received, len(body))
			}
			call.Close()
		})
	}
}

// A small body of unknown length needs little room; a larger one that
// does not fit is refused with ELIMIT, and nothing stays held.
func TestHTTPBodyRoom(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write([]byte(strings.Repeat("z", n)))
		w.(http.Flusher).Flush() // no Content-Length
	})
	acct := &account{room: 10 << 10}
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}, Account: acct}
	out := runGuest(t, call, "http", request(srv.URL+"?n=100", ""))
	if f := fields(out); f["request"] != "0" || f["body"] != strconv.Quote(strings.Repeat("z", 100)) {
		t.Fatalf("a 100-byte body under 10 KiB of room:\n%s", out)
	}
	out = runGuest(t, call, "http", request(srv.URL+"?n=20000", ""))
	if f := fields(out); f["request"] != "10" || !strings.Contains(f["error"], "the test's memory limit") {
		t.Fatalf("a 20000-byte body under 10 KiB of room:\n%s", out)
	}
	if held, peak, _ := acct.state(); held != 0 || peak > 10<<10 {
		t.Fatalf("held %d after the calls, peak %d", held, peak)
	}
}

// A body cut short of its announced length is EIO, not a short body.
func TestHTTPBodyCutShort(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b")
		buf.Flush()
	})
	call := &hostapi.Call{HTTP: &hostapi.HTTP{Allow: []string{srv.host()}}, Account: &account{room: 1 << 20}}
	out := runGuest(t, call, "http", request(srv.URL, ""))
	if f := fields(out); f["request"] != "7" {
		t.Fatalf("a body cut short: %s", out)
	}
}
