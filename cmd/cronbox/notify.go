package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells the service manager that started serve (systemd's
// Type=notify) its state, "READY=1" or "STOPPING=1", as one datagram on
// the Unix socket $NOTIFY_SOCKET names; without it, it does nothing. A
// name starting with '@' is in the abstract namespace.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("telling the service manager %s: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("telling the service manager %s: %w", state, err)
	}
	return nil
}
