package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/web"
)

// The local socket: serve also answers the API on a Unix socket in the
// home's data folder, <home>/data/cronbox.sock, which only the home's owner
// can open. Requests over it act as the local admin without a token, so
// that `cronbox task trigger` can hand a run to a running serve, which then
// applies the task's overlap policy and quotas and shows the run live.

// socketPath is the local socket of home.
func socketPath(home string) string { return homedir.Home(home).Socket() }

// maxSocketPath is the longest path a Unix socket may have (sun_path, less
// its terminating NUL, on Linux; shorter elsewhere).
const maxSocketPath = 107

// listenLocal listens on home's local socket, replacing a stale one a
// killed serve left. It fails when another serve answers on it.
func listenLocal(home string) (net.Listener, error) {
	path, err := filepath.Abs(socketPath(home))
	if err != nil {
		return nil, err
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("the local socket's path %s is longer than %d bytes", path, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another cronbox serve answers on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// serveLocal serves ws's API on home's local socket until it is shut down,
// or logs why it cannot; the returned server is nil then. It has lim's
// timeouts and at most localMaxConns connections.
func serveLocal(log *slog.Logger, home string, ws *web.Server, lim httpLimits) *http.Server {
	ln, err := listenLocal(home)
	if err != nil {
		log.Warn("not serving the local socket; `cronbox task trigger` runs tasks in its own process", "err", err)
		return nil
	}
	srv := newHTTPServer(ws.Handler(), lim)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		c = unwrapConn(c)
		if !samePeer(c) {
			return ctx
		}
		return ws.LocalContext(ctx, c)
	}
	srv.RegisterOnShutdown(ws.CloseStreams)
	go srv.Serve(limitListen(ln, localMaxConns)) // ends with Shutdown, which also removes the socket
	return srv
}

// localClient returns an HTTP client for the local socket of home, or nil
// when no serve answers there.
func localClient(home string) *http.Client {
	path := socketPath(home)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}
