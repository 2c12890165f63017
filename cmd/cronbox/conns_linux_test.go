package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cronbox/cronbox/engine/store"
)

// healthz sends GET /healthz on c and reads the answer, failing after
// within.
func healthz(t *testing.T, c net.Conn, br *bufio.Reader, within time.Duration) {
	t.Helper()
	c.SetDeadline(time.Now().Add(within))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: cronbox\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("GET /healthz: %d %q %v", resp.StatusCode, body, err)
	}
}

// closedByPeer reports, without waiting, whether the other end closed c.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var rerr error
	buf := make([]byte, 1)
	if err := raw.Control(func(fd uintptr) {
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		t.Fatal(err)
	}
	return rerr == nil && n == 0
}

func TestServeConnectionCapAndIdleTimeout(t *testing.T) {
	t.Parallel()
	const max = 4
	addr, stop, _ := startServe(t, testHome(t), "--max-conns", fmt.Sprint(max), "--idle-timeout", "300ms")

	// max connections, each kept alive after an answer.
	held := make([]net.Conn, max)
	for i := range held {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		healthz(t, c, bufio.NewReader(c), 20*time.Second)
		held[i] = c
	}
	// One more waits for a slot: it is answered once the server has
	// closed an idle one, not before.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	healthz(t, extra, bufio.NewReader(extra), 20*time.Second)
	closed := 0
	for _, c := range held {
		if closedByPeer(t, c) {
			closed++
		}
	}
	if closed == 0 {
		t.Errorf("a connection past --max-conns %d was answered while %d others were open", max, max)
	}
	// Every idle connection is closed by the server.
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("idle connection %d: read %v, want the server to close it (EOF)", i, err)
		}
	}
	// And a fresh client is answered.
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, stderr := stop(); code != 0 {
		t.Errorf("serve exited with %d: %s", code, stderr)
	}
}

func TestServeStopsWithAStreamThatDoesNotRead(t *testing.T) {
	t.Parallel()
	home := testHome(t)
	// Recorded events far larger, together, than a socket holds: a
	// stream that resumes from the first is sent them all.
	ctx := context.Background()
	st, err := openStore(ctx, home, "")
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"message":"` + strings.Repeat("x", 60_000) + `"}`)
	for range 200 {
		if _, err := st.AppendEvent(ctx, store.Event{Time: time.Now(), Type: "run.finished", App: "demo", Task: "hello", Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	addr, stop, logs := startServe(t, home)
	m := regexp.MustCompile(`token=(cbx_[A-Za-z0-9_-]+)`).FindStringSubmatch(logs())
	if m == nil {
		t.Fatalf("no first token in serve's log:\n%s", logs())
	}

	// An event stream with a 4 KiB receive buffer that never reads.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: cronbox\r\nAuthorization: Bearer %s\r\nLast-Event-ID: 1\r\n\r\n", m[1])
	// Its answer has begun: the server is writing the events.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited with %d after a stream that does not read: %s", code, stderr)
	}
}
