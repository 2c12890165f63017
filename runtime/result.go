package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// Status is how a run ended.
type Status string

// The statuses of a finished run.
const (
	StatusSucceeded   Status = "succeeded"     // exited with code 0
	StatusFailed      Status = "failed"        // exited with a non-zero code
	StatusTrapped     Status = "trapped"       // a WebAssembly trap (unreachable, out-of-bounds access, stack overflow…)
	StatusTimedOut    Status = "timed_out"     // stopped at its time limit
	StatusOutOfMemory Status = "out_of_memory" // ended after being refused memory past its limit
	StatusCancelled   Status = "cancelled"     // stopped from outside
)

// Result is how a run ended and what it left.
type Result struct {
	Status   Status
	ExitCode int // the guest's exit code; -1 when it did not exit (trap, stop)
	Started  time.Time
	Duration time.Duration
	// PeakMemory is the most memory the run had at once: the guest's
	// linear memory plus the bytes the host held for it (see Account).
	PeakMemory int64
	// Usage is what the run consumed, for metering.
	Usage Usage
	// Stdout and Stderr are the captured output, up to the output limit;
	// the Dropped counts say how many bytes past it were discarded.
	Stdout, Stderr               []byte
	StdoutDropped, StderrDropped int64
	// Error says, for a person, why a run did not succeed. Empty on success.
	Error string
	// Trace is the guest's stack at a trap, one frame a line, innermost first.
	Trace string
}

// Usage is what one run consumed: what a host meters, bills and caps by.
type Usage struct {
	// CPUTime is the CPU time of the thread that ran the guest, its host
	// calls included (zero where the thread's CPU clock cannot be read).
	CPUTime time.Duration
	// PeakMemory is Result.PeakMemory: guest memory plus host-held bytes.
	PeakMemory int64
	// OutputBytes is the stdout and stderr kept.
	OutputBytes int64
	// LogBytes is the log and progress messages handed to the host.
	LogBytes int64
	// HTTPSent and HTTPReceived are HTTP body bytes sent and read.
	HTTPSent, HTTPReceived int64
	// KVWritten is the bytes of keys and values the run stored.
	KVWritten int64
	// FilesWritten is the bytes written to files in mounted directories.
	FilesWritten int64
}

// Truncated reports whether any output was dropped.
func (r *Result) Truncated() bool { return r.StdoutDropped > 0 || r.StderrDropped > 0 }

// classify sets Status, ExitCode, Error and Trace from how the guest's
// call returned. A guest that returns normally after its run was stopped
// (its time ran out or it was cancelled) did not succeed: the stop cut a
// sleep or a host call of it short, so it may not have done its work.
func (r *Result) classify(err error, runCtx context.Context, mem *runMemory, lim Limits) {
	r.ExitCode = -1
	var exit *sys.ExitError
	if (err == nil || errors.As(err, &exit) && exit.ExitCode() == 0) && runCtx.Err() == nil {
		r.Status, r.ExitCode = StatusSucceeded, 0
		return
	}
	// The interpreter ends a run whose context ended with an exit code
	// of its own, which is no exit of the guest's.
	stopped := runCtx.Err() != nil && exit != nil && (exit.ExitCode() == sys.ExitCodeContextCanceled || exit.ExitCode() == sys.ExitCodeDeadlineExceeded)
	if exit != nil && !stopped {
		r.ExitCode = int(exit.ExitCode())
	}
	switch {
	case runCtx.Err() != nil && errors.Is(context.Cause(runCtx), errTimedOut):
		r.Status = StatusTimedOut
		r.Error = fmt.Sprintf("stopped at its time limit of %s", lim.Timeout)
	case runCtx.Err() != nil:
		r.Status = StatusCancelled
		r.Error = fmt.Sprintf("cancelled: %v", context.Cause(runCtx))
	case mem.refused.Load():
		r.Status = StatusOutOfMemory
		r.Error = fmt.Sprintf("ran out of memory: the limit is %s", bytesize.Format(lim.Memory))
		if exit != nil {
			r.Error += fmt.Sprintf(" (exit code %d)", r.ExitCode)
		}
	case exit != nil:
		r.Status = StatusFailed
		r.Error = fmt.Sprintf("exited with code %d", r.ExitCode)
		if line := reason(r.Stderr); line != "" {
			r.Error += ": " + line
		}
	default:
		r.Status = StatusTrapped
		r.Error, r.Trace = describeTrap(err)
	}
}

// reason picks the line of a guest's stderr that best says why it failed:
// a Go panic or fatal error if there is one, else the last non-empty line.
func reason(stderr []byte) string {
	var last string
	for line := range bytes.Lines(stderr) {
		l := strings.TrimSpace(string(line))
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return clip(l, 300)
		}
		if l != "" {
			last = l
		}
	}
	return clip(last, 300)
}

// describeTrap turns wazero's trap error ("wasm error: unreachable\nwasm
// stack trace:\n\tmain.f(i32)\n...") into "trap: unreachable in main.f"
// and the trace.
func describeTrap(err error) (msg, trace string) {
	text := err.Error()
	head, rest, _ := strings.Cut(text, "\n")
	head = strings.TrimPrefix(head, "wasm error: ")
	var frames []string
	for _, line := range strings.Split(rest, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "wasm stack trace:" {
			continue
		}
		frames = append(frames, line)
	}
	msg = "trap: " + head
	if len(frames) > 0 {
		fn, _, _ := strings.Cut(frames[0], "(")
		msg += " in " + strings.TrimPrefix(fn, ".")
	}
	return clip(msg, 500), strings.Join(frames, "\n")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
