package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/testenv"
)

// dialSmall opens a connection to the fixture's server whose receive
// buffer is 4 KiB, and asks it for the event stream with token; it reads
// nothing.
func (f *fixture) dialSmall(t *testing.T, token string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", f.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: cronbox\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n", f.tokens[token])
	return conn
}

// soleSubscriber waits until the server has exactly one open stream, and
// returns it.
func (f *fixture) soleSubscriber(t *testing.T) *subscriber {
	t.Helper()
	var subs []*subscriber
	testenv.WaitFor(t, "the stream to subscribe", func() bool {
		f.srv.hub.mu.Lock()
		defer f.srv.hub.mu.Unlock()
		subs = subs[:0]
		for s := range f.srv.hub.subs {
			subs = append(subs, s)
		}
		return len(subs) == 1
	})
	return subs[0]
}

// stuck sends the stream an event larger than any socket buffer, and
// waits until its handler took it, to write it to a client that does not
// read.
func (f *fixture) stuck(t *testing.T, sub *subscriber) {
	t.Helper()
	big := streamEvent{app: "hello", text: []byte(": " + strings.Repeat("x", 8<<20) + "\n\n")}
	f.srv.hub.broadcast(big)
	testenv.WaitFor(t, "the stream to take the event", func() bool { return len(sub.ch) == 0 && sub.queued.Load() == 0 })
}

func TestShutdownWithAStreamThatDoesNotRead(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.StreamWriteTimeout = time.Hour })
	f.dialSmall(t, "viewer")
	sub := f.soleSubscriber(t)
	f.stuck(t, sub)
	// Many more events, recorded ones among them: the stream's buffer
	// stays within its bounds.
	for i := range 5000 {
		f.srv.hub.broadcast(formatEvent(int64(i+1), eventJSON{Type: "run.log", App: "hello", Message: strings.Repeat("m", 1000)}))
	}
	if q := sub.queued.Load(); q > f.srv.cfg.StreamBufferBytes || len(sub.ch) > f.srv.cfg.StreamBuffer {
		t.Errorf("a stream that does not read holds %d events, %d bytes", len(sub.ch), q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.http.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stream that does not read: %v", err)
	}
}

func TestStreamThatDoesNotReadTimesOut(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.StreamWriteTimeout = 50 * time.Millisecond })
	f.dialSmall(t, "viewer")
	sub := f.soleSubscriber(t)
	f.stuck(t, sub)
	testenv.WaitFor(t, "the stream of a client that does not read to be closed", func() bool { return !f.subscribed(sub) })
}

// subscribed reports whether sub's stream is still open.
func (f *fixture) subscribed(sub *subscriber) bool {
	f.srv.hub.mu.Lock()
	defer f.srv.hub.mu.Unlock()
	_, ok := f.srv.hub.subs[sub]
	return ok
}

func TestSlowStreamGetsGap(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.StreamBuffer = 4 })
	conn := f.dialSmall(t, "viewer")
	sub := f.soleSubscriber(t)
	f.stuck(t, sub)
	for i := range 10 {
		f.srv.hub.broadcast(formatEvent(int64(i+1), eventJSON{Type: "task.changed", App: "hello", Task: "greet"}))
	}
	select {
	case <-sub.behind:
	default:
		t.Fatal("a full stream did not fall behind")
	}
	// The client reads again: it gets the events buffered before the
	// loss, the gap, and the end of the stream.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	i := bytes.Index(b, []byte("event: stream.gap\n"))
	if i < 0 {
		t.Fatalf("no stream.gap in the %d bytes of a stream that fell behind", len(b))
	}
	for id := 1; id <= 4; id++ {
		if !bytes.Contains(b[:i], fmt.Appendf(nil, "id: %d\n", id)) {
			t.Errorf("buffered event %d not sent before the gap", id)
		}
	}
	if !bytes.Contains(b[i:], []byte("lost events after 4")) {
		t.Errorf("the gap does not say what was lost: %q", b[i:min(len(b), i+300)])
	}
}
