package hostapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
)

// The ABI's default limits (ABI.md, "Limits"). A host may configure lower
// ones, never higher.
const (
	DefaultMaxMessage       = 64 << 10 // log and progress messages, bytes
	DefaultMaxResult        = 1 << 20  // the result payload, bytes
	DefaultMaxKey           = 512      // a KV key, bytes
	DefaultMaxValue         = 1 << 20  // a KV value, bytes
	DefaultMaxOpenResponses = 16       // HTTP responses open at once per run
)

// Limits caps what one run may pass through the API. A zero or negative
// field takes the ABI default; a field above the default is lowered to it,
// since the ABI promises guests at least that much and never more.
type Limits struct {
	// MaxMessage is the length in bytes after which log and progress
	// messages are truncated. Default (and maximum) 64 KiB.
	MaxMessage int
	// MaxResult is the size in bytes of the largest result payload.
	// Default (and maximum) 1 MiB.
	MaxResult int
	// MaxKey is the length in bytes of the longest KV key.
	// Default (and maximum) 512.
	MaxKey int
	// MaxValue is the size in bytes of the largest KV value.
	// Default (and maximum) 1 MiB.
	MaxValue int
	// MaxOpenResponses is how many HTTP responses a run may hold open at
	// once. Default (and maximum) 16.
	MaxOpenResponses int
	// MaxResponse is the size in bytes of the largest response body a
	// route's handler may set. Default (and maximum) 10 MiB.
	MaxResponse int
}

// capped returns v when it lies in 1..limit, else limit.
func capped[T int | int64](v, limit T) T {
	if v <= 0 || v > limit {
		return limit
	}
	return v
}

func (l Limits) maxMessage() int       { return capped(l.MaxMessage, DefaultMaxMessage) }
func (l Limits) maxResult() int        { return capped(l.MaxResult, DefaultMaxResult) }
func (l Limits) maxKey() int           { return capped(l.MaxKey, DefaultMaxKey) }
func (l Limits) maxValue() int         { return capped(l.MaxValue, DefaultMaxValue) }
func (l Limits) maxOpenResponses() int { return capped(l.MaxOpenResponses, DefaultMaxOpenResponses) }
func (l Limits) maxResponse() int      { return capped(l.MaxResponse, DefaultMaxResponse) }

// Call is one run's host state: the capabilities the run was given and what
// the guest hands back. Set the exported fields before the run starts and
// do not change them while it runs. A Call is safe for concurrent use (the
// host may read Result while the guest runs) and must not be copied after
// first use. Close it when the run ends.
type Call struct {
	// Input is the JSON value the run was triggered with; nil means null.
	Input []byte
	// Config is the task's configuration as a JSON object; nil means {}.
	Config []byte
	// KV is the app's key-value namespace; nil means the app has no kv
	// permission and every kv_* call returns EDENIED.
	KV KV
	// HTTP is the app's outbound HTTP policy; nil means the app has no
	// http permission and http_request returns EDENIED.
	HTTP *HTTP
	// Sink receives log lines and progress; nil drops them.
	Sink Sink
	// Limits caps sizes and counts; the zero value takes the ABI defaults.
	Limits Limits
	// Account, if set, is the run's account: every buffer the host
	// functions keep for the run is reserved in it before it is allocated
	// (a refusal fails the call with ELIMIT), and the bytes the run logs,
	// sends, receives and stores are metered in it. Nil: nothing is
	// reserved or metered.
	Account Account
	// Request is the HTTP request the run serves when it is a route's
	// handler; nil for a task, whose request_* and response_set calls
	// then return ENOTFOUND.
	Request *Request

	mu         sync.Mutex
	result     []byte
	answer     *Response // set with response_set
	lastErr    string
	responses  map[uint32]*response
	lastHandle uint32
	pending    int // HTTP requests in flight, counted against MaxOpenResponses
	closed     bool
	warned     bool            // a refusal of the account has been logged
	transport  *http.Transport // the run's own transport when HTTP.Transport is nil
}

// Result returns a copy of the payload the guest last set with result_set,
// or nil when it set none.
func (c *Call) Result() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.result)
}

// LastError returns the message of the guest's last failed call, or "" if
// no call has failed. Hosts can add it to a failed run's error text.
func (c *Call) LastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Close frees the run's open HTTP responses and idle connections. After
// Close, http_request fails with ECANCELED and every response handle is
// unknown. Close may be called more than once.
func (c *Call) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, r := range c.responses {
		c.release(r.held)
	}
	c.responses = nil
	c.closeIdleLocked()
}

// closeIdleLocked closes the idle connections of the run's own transport;
// c.mu is held.
func (c *Call) closeIdleLocked() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// fail records msg (formatted) as the last error and returns e.
func (c *Call) fail(e Errno, format string, args ...any) Errno {
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.lastErr = msg
	c.mu.Unlock()
	return e
}

// setResult keeps b, reserved already, as the result, and releases the
// payload it replaces.
func (c *Call) setResult(b []byte) {
	c.mu.Lock()
	old := c.result
	c.result = b
	c.mu.Unlock()
	c.release(int64(len(old)))
}

func (c *Call) input() []byte {
	if c.Input == nil {
		return []byte("null")
	}
	return c.Input
}

func (c *Call) config() []byte {
	if c.Config == nil {
		return []byte("{}")
	}
	return c.Config
}

// Account is a run's account of memory and usage, which the host functions
// report to (runtime.Account implements it). It must be safe for
// concurrent use.
type Account interface {
	// Reserve claims n bytes the host is about to allocate for the run. An
	// error means they would pass the run's memory limit: the host does
	// not allocate them, and the call fails with ELIMIT and the error's
	// text, which names the limit.
	Reserve(n int64) error
	// Release returns n bytes reserved earlier, once the host let go of them.
	Release(n int64)
	// AddLog meters n bytes of log and progress messages.
	AddLog(n int64)
	// AddHTTP meters HTTP body bytes sent and received.
	AddHTTP(sent, received int64)
	// AddKV meters n bytes of keys and values stored.
	AddKV(n int64)
}

// hold reserves n bytes the host is about to allocate for the call's run,
// what naming them for the error. A refusal fails the call with ELIMIT
// and, the first time in a run, is logged to the run's Sink.
func (in *invocation) hold(what string, n int64) Errno {
	a := in.call.Account
	if a == nil || n <= 0 {
		return OK
	}
	err := a.Reserve(n)
	if err == nil {
		return OK
	}
	c := in.call
	c.mu.Lock()
	first := !c.warned
	c.warned = true
	c.mu.Unlock()
	if first && c.Sink != nil {
		c.Sink.Log(LevelWarn, fmt.Sprintf("%s: the host refused to hold %s for the run: %v (further refusals are not logged)", in.area, what, err))
	}
	return in.fail(ELIMIT, "holding %s: %v", what, err)
}

// release returns n bytes reserved with hold.
func (c *Call) release(n int64) {
	if c.Account != nil && n > 0 {
		c.Account.Release(n)
	}
}

type callKey struct{}

// WithCall returns a copy of ctx that carries c. Pass it to the wazero call
// that runs the guest (InstantiateModule, or the call of _start): the host
// functions find their run's Call there.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the Call that ctx carries, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}
