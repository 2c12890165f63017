package sdk

import "strconv"

// Errno is the status a host function returns, as listed in the ABI. Every
// non-zero Errno is an error, so errors.Is(err, sdk.ErrDenied) tells whether
// a call failed for that reason.
type Errno uint32

// The errno values of the ABI. Zero means success and has no constant.
const (
	ErrFault     Errno = 1  // a pointer/length pair lies outside guest memory (an SDK bug)
	ErrRange     Errno = 2  // an output buffer is too small; the SDK retries with a larger one
	ErrNotFound  Errno = 3  // no such key, nothing set
	ErrDenied    Errno = 4  // the app's permissions do not allow this
	ErrTooLarge  Errno = 5  // a value, key, message or body exceeds its limit
	ErrInvalid   Errno = 6  // a malformed argument
	ErrIO        Errno = 7  // the operation failed on the host's side
	ErrCanceled  Errno = 8  // the run was stopped while the call waited
	ErrBadHandle Errno = 9  // the handle is not an open handle of this run
	ErrLimit     Errno = 10 // a per-run limit, or a quota of the app (its key-value store), was reached
	ErrTimeout   Errno = 11 // an HTTP request exceeded its own timeout
)

var errnoText = [...]string{
	ErrFault:     "bad address",
	ErrRange:     "buffer too small",
	ErrNotFound:  "not found",
	ErrDenied:    "permission denied",
	ErrTooLarge:  "too large",
	ErrInvalid:   "invalid argument",
	ErrIO:        "I/O error",
	ErrCanceled:  "run canceled",
	ErrBadHandle: "bad handle",
	ErrLimit:     "limit reached",
	ErrTimeout:   "timed out",
}

// Error returns a short description of e, such as "not found".
func (e Errno) Error() string {
	if int(e) < len(errnoText) && errnoText[e] != "" {
		return errnoText[e]
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}

// CallError is the error of a failed host call.
type CallError struct {
	// Op is the ABI function that failed, such as "kv_get".
	Op string
	// Code is the errno the function returned.
	Code Errno
	// Message is the host's explanation (from last_error); it may be empty.
	Message string
}

// Error returns "op: code" or, when the host explained it, "op: code: message".
func (e *CallError) Error() string {
	s := e.Op + ": " + e.Code.Error()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns e.Code, so that errors.Is(err, sdk.ErrNotFound) works.
func (e *CallError) Unwrap() error { return e.Code }

// Timeout reports whether the call failed with [ErrTimeout]. With it, the
// errors of a net/http client using the Transport of package sdkhttp report
// timeouts as net/http's own do.
func (e *CallError) Timeout() bool { return e.Code == ErrTimeout }

// callError returns the error of the ABI function op that returned code,
// with the host's explanation from last_error.
func callError(op string, code Errno) error {
	msg, err := fetchRaw("last_error", hostLastError)
	if err != nil {
		msg = nil
	}
	return &CallError{Op: op, Code: code, Message: string(msg)}
}

// check returns nil for the zero errno and the error of op otherwise.
func check(op string, code Errno) error {
	if code == 0 {
		return nil
	}
	return callError(op, code)
}
