//go:build !linux

package main

import "net"

// samePeer reports whether c is a Unix connection; the socket's file mode
// (0600) keeps other users out.
func samePeer(c net.Conn) bool {
	_, ok := c.(*net.UnixConn)
	return ok
}
