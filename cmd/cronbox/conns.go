package main

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// The HTTP servers of serve (TCP and the local socket) hold a bounded
// number of connections, each for a bounded time, so that no client, with
// a token or without, can take the file descriptors the engine needs for
// runs, mounts and the store.

// httpLimits are the limits of one HTTP server.
type httpLimits struct {
	// MaxConns is how many connections it holds at once; more wait in
	// the kernel's backlog until one closes.
	MaxConns int
	// ReadHeaderTimeout bounds the reading of a request's header,
	// ReadTimeout the whole request, body included (net/http lifts it
	// once a request is read, so it does not end an event stream),
	// IdleTimeout a kept-alive connection between requests.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
}

// Defaults of serve's flags.
const (
	defaultReadTimeout = time.Minute
	defaultIdleTimeout = time.Minute
	readHeaderTimeout  = 10 * time.Second
	// localMaxConns caps the local socket's connections: the CLI holds
	// one or two.
	localMaxConns = 64
	// minFDReserve is the fewest file descriptors kept free of
	// connections, whatever --max-conns says.
	minFDReserve = 256
	// maxDefaultConns caps the default of --max-conns on hosts with a
	// very high descriptor limit: each connection also costs memory.
	maxDefaultConns = 16384
)

// connLimit returns the TCP server's connection cap for a descriptor
// limit of nofile (0 when unknown): want if set, checked against the
// limit; else half the limit less the local socket's share, so that the
// other half stays free for the engine. It fails when want would leave
// fewer than minFDReserve descriptors free.
func connLimit(want int, nofile uint64) (int, error) {
	if want < 0 {
		return 0, fmt.Errorf("--max-conns %d: want a positive number, or 0 for the default", want)
	}
	nofile = min(nofile, 1<<30) // an unlimited limit counts as a large one
	if nofile == 0 {
		// Unknown: the flag is trusted, or a modest default holds.
		if want > 0 {
			return want, nil
		}
		return 1024, nil
	}
	room := int64(nofile) - minFDReserve - localMaxConns
	if want > 0 {
		if int64(want) > room {
			return 0, fmt.Errorf("--max-conns %d: the file descriptor limit is %d, and %d of them stay free for the engine and the local socket; at most %d", want, nofile, minFDReserve+localMaxConns, max(room, 0))
		}
		return want, nil
	}
	n := min(int64(nofile)/2-localMaxConns, room, maxDefaultConns)
	return int(max(n, 1)), nil
}

// newHTTPServer returns a server of h with lim's timeouts; serve it on
// limitListen(ln, lim.MaxConns). There is no write timeout for the whole
// response: the event stream sets a deadline on each of its writes.
func newHTTPServer(h http.Handler, lim httpLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		IdleTimeout:       lim.IdleTimeout,
	}
}

// limitListener is a listener that holds at most cap(slots) connections
// at once: Accept waits for a free slot before it accepts, so that
// connections past the cap wait in the kernel's backlog and take no
// descriptor of the process.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func limitListen(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, slots: l.slots}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is closed, once.
type limitConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

// unwrapConn returns the connection a limitListener accepted.
func unwrapConn(c net.Conn) net.Conn {
	if lc, ok := c.(*limitConn); ok {
		return lc.Conn
	}
	return c
}
