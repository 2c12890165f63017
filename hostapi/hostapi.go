// Package hostapi implements the host functions that Cronbox tasks import
// from the module "cronbox": logging, progress, the result payload, input
// and configuration, an app's key-value namespace and allow-listed HTTP.
//
// The contract with guests is ABI.md in this directory. The host module is
// defined once per wazero.Runtime with [Instantiate]; each run's
// capabilities and outputs travel in a [Call] attached to the context of
// the guest's call with [WithCall]:
//
//	call := &hostapi.Call{Input: input, KV: kv, HTTP: policy, Sink: sink}
//	defer call.Close()
//	mod, err := r.InstantiateModule(hostapi.WithCall(ctx, call), compiled, cfg)
//	result := call.Result()
//
// The package depends on nothing of the engine: an app's store and
// network policy come in through the small [KV] and [HTTP] types.
package hostapi

import "fmt"

// ModuleName is the name of the host module guests import from.
const ModuleName = "cronbox"

// Version is the ABI version this package implements; abi_version returns it.
const Version = 1

// Errno is the status every host function returns to the guest (ABI.md,
// "Errno values"). Zero is success.
type Errno uint32

// The errno values of ABI version 1.
const (
	OK         Errno = 0  // success
	EFAULT     Errno = 1  // a pointer/length pair lies outside guest memory
	ERANGE     Errno = 2  // the output buffer is too small
	ENOTFOUND  Errno = 3  // no such key, nothing set
	EDENIED    Errno = 4  // the app's permissions do not allow this
	ETOOLARGE  Errno = 5  // a value, key, message or body exceeds its limit
	EINVAL     Errno = 6  // a malformed argument
	EIO        Errno = 7  // the operation failed on the host's side
	ECANCELED  Errno = 8  // the run was stopped while the call waited
	EBADHANDLE Errno = 9  // not an open handle of this run
	ELIMIT     Errno = 10 // a per-run limit was reached
	ETIMEDOUT  Errno = 11 // the HTTP request exceeded its own timeout
)

var errnoNames = [...]string{
	OK:         "OK",
	EFAULT:     "EFAULT",
	ERANGE:     "ERANGE",
	ENOTFOUND:  "ENOTFOUND",
	EDENIED:    "EDENIED",
	ETOOLARGE:  "ETOOLARGE",
	EINVAL:     "EINVAL",
	EIO:        "EIO",
	ECANCELED:  "ECANCELED",
	EBADHANDLE: "EBADHANDLE",
	ELIMIT:     "ELIMIT",
	ETIMEDOUT:  "ETIMEDOUT",
}

// String returns the errno's name as ABI.md spells it, e.g. "EFAULT".
func (e Errno) String() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return fmt.Sprintf("Errno(%d)", uint32(e))
}

// Level is the severity of a log line.
type Level int

// The log levels, numbered as the guest passes them to log.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// String returns "debug", "info", "warn" or "error".
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

func (l Level) valid() bool { return l >= LevelDebug && l <= LevelError }

// Sink receives a run's log lines and progress reports as they happen. It is
// called from the goroutine that runs the guest, so a slow Sink slows the
// run; implementations must be safe for concurrent use if the host reads
// them from other goroutines.
type Sink interface {
	// Log receives one log line: valid UTF-8, truncated to the run's
	// message limit (and then marked " …[truncated]").
	Log(level Level, msg string)
	// Progress receives a percentage from 0 to 100 and an optional message.
	Progress(percent int, msg string)
}
