package runtime

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// Account is one run's account of memory and usage. It holds the run's
// memory limit against two kinds of memory together: the guest's linear
// memory, which grows through the runtime's allocator, and the bytes the
// host holds for the run (output it captures, and whatever the host
// functions keep: HTTP bodies, KV values in flight, the result payload).
// Every host-side buffer is reserved before it is allocated and released
// when it is freed; a reservation or a memory.grow that would pass the
// limit fails instead. It also meters what the run moves, for Usage.
//
// Make one per run with NewAccount, give it to the run's Spec and to its
// host functions, which report to it (hostapi.Call.Account). It is safe
// for concurrent use.
type Account struct {
	mu       sync.Mutex
	bound    bool   // Run has taken the account
	limit    uint64 // the run's memory limit
	guest    uint64 // the guest's linear memory now
	held     uint64 // bytes the host holds for the run
	peakHeld uint64
	peak     uint64 // of guest + held
	refusals int64
	// flush, if set, is called when a reservation or a growth does not
	// fit, before it is refused: the host writes out what it can.
	flush func()

	log, httpSent, httpReceived, kv, files atomic.Int64
}

// NewAccount returns an account for one run, to be given to Run in its
// Spec. Until the run starts, nothing can be reserved.
func NewAccount() *Account { return &Account{} }

// errNotRunning refuses a reservation outside a run.
var errNotRunning = errors.New("the run has not started")

// bind gives the account to a run with memory limit limit.
func (a *Account) bind(limit uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bound {
		return errors.New("the Spec's Account has been used by another run")
	}
	a.bound, a.limit = true, limit
	return nil
}

// OnPressure sets flush, which is called (on the goroutine that asks, with
// no lock of the account held) when a reservation or a growth of the
// guest's memory does not fit, before it is refused: it lets the host
// write out buffers it can do without (a run's pending log lines), which
// release their bytes, so the request can be tried again. flush must not
// reserve. Set it before the run starts.
func (a *Account) OnPressure(flush func()) {
	a.mu.Lock()
	a.flush = flush
	a.mu.Unlock()
}

// underPressure calls the flush function, if any, and reports whether
// there was one.
func (a *Account) underPressure() bool {
	a.mu.Lock()
	f := a.flush
	a.mu.Unlock()
	if f == nil {
		return false
	}
	f()
	return true
}

// Reserve claims n bytes the host is about to allocate for the run. It
// fails, and counts a refusal, when the guest's memory and what the host
// holds already would then pass the run's memory limit even after the
// OnPressure function ran; the error wraps ErrLimit and names the limit.
func (a *Account) Reserve(n int64) error {
	err := a.reserve(n, false)
	if err != nil && err != errNotRunning && a.underPressure() {
		err = a.reserve(n, true)
	}
	return err
}

// reserve is one try of Reserve; a failed last try counts a refusal.
func (a *Account) reserve(n int64, last bool) error {
	if n <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.bound {
		return errNotRunning
	}
	if uint64(n) > a.limit || a.guest+a.held > a.limit-uint64(n) {
		if !last && a.flush == nil {
			last = true
		}
		if last {
			a.refusals++
		}
		return &limitError{fmt.Sprintf("%s more would pass the run's memory limit of %s (guest memory %s, held by the host %s)",
			bytesize.Format(n), bytesize.Format(int64(a.limit)), bytesize.Format(int64(a.guest)), bytesize.Format(int64(a.held)))}
	}
	a.held += uint64(n)
	a.peakHeld = max(a.peakHeld, a.held)
	a.peak = max(a.peak, a.guest+a.held)
	return nil
}

// limitError is a refused reservation; it wraps ErrLimit.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrLimit }

// Release returns n bytes reserved earlier, once the host has let go of them.
func (a *Account) Release(n int64) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	a.held -= min(uint64(n), a.held)
	a.mu.Unlock()
}

// grow reports whether the guest's linear memory may grow to size bytes
// beside what the host holds (after the OnPressure function ran, if it
// does not fit at first), and records the growth.
func (a *Account) grow(size uint64) bool {
	return a.tryGrow(size) || a.underPressure() && a.tryGrow(size)
}

func (a *Account) tryGrow(size uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if size > a.limit || a.held > a.limit-size {
		return false
	}
	a.guest = max(a.guest, size)
	a.peak = max(a.peak, a.guest+a.held)
	return true
}

// Held returns the bytes the host holds for the run now.
func (a *Account) Held() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(a.held)
}

// PeakHeld returns the most bytes the host held for the run at once.
func (a *Account) PeakHeld() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(a.peakHeld)
}

// Peak returns the largest the guest's memory and the host-held bytes
// were together.
func (a *Account) Peak() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(a.peak)
}

// Refusals returns how many reservations the limit refused.
func (a *Account) Refusals() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusals
}

// guestSize returns the guest's linear memory now.
func (a *Account) guestSize() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(a.guest)
}

// AddLog meters n bytes of log and progress messages the run handed over.
func (a *Account) AddLog(n int64) { a.log.Add(n) }

// AddHTTP meters HTTP body bytes sent and received.
func (a *Account) AddHTTP(sent, received int64) {
	a.httpSent.Add(sent)
	a.httpReceived.Add(received)
}

// AddKV meters n bytes written to the key-value store (keys and values).
func (a *Account) AddKV(n int64) { a.kv.Add(n) }
