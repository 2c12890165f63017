package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestServeNotifies checks that serve tells a service manager listening
// on $NOTIFY_SOCKET that it is ready once it listens, and that it stops.
func TestServeNotifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	_, stop, _ := startServe(t, testHome(t))
	read := func() string {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if got := read(); got != "READY=1" {
		t.Errorf("first notice %q, want READY=1", got)
	}
	if code, logs := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, logs)
	}
	if got := read(); got != "STOPPING=1" {
		t.Errorf("second notice %q, want STOPPING=1", got)
	}
}

func TestSDNotifyAbstract(t *testing.T) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00cronbox-test-" + t.Name(), Net: "unixgram"})
	if err != nil {
		t.Skipf("no abstract Unix sockets here: %v", err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", "@cronbox-test-"+t.Name())
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("read %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}
