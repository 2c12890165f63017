// Package runjson is the one JSON encoding of a run: the API's (the Run
// schema of web/openapi.json), which the CLI prints too, whether its runs
// come from a home or from a server.
package runjson

import (
	"cmp"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Run is a run in a listing.
type Run struct {
	ID         int64      `json:"id"`
	App        string     `json:"app"`
	Task       string     `json:"task"`
	Status     string     `json:"status"`
	Trigger    string     `json:"trigger"`
	User       string     `json:"user"`
	Scheduled  *time.Time `json:"scheduled"`
	Attempt    int        `json:"attempt"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end"`
	DurationMs int64      `json:"durationMs"`
	ExitCode   *int       `json:"exitCode"`
	Error      string     `json:"error"`
	// Cause is why a run that ended did not succeed, for lists: its last
	// error-level log line, or else its error or skip reason.
	Cause      string `json:"cause,omitempty"`
	Reason     string `json:"reason"`
	PeakMemory int64  `json:"peakMemory"`
	// Node is the node the run ran on; "" when not known.
	Node string `json:"node"`
	// While running; of an ended run, its last progress when its
	// store kept it (store.RunProgress).
	Progress        *int   `json:"progress,omitempty"`
	ProgressMessage string `json:"progressMessage,omitempty"`
	// While running, and of an ended run that went overdue.
	Overdue *bool `json:"overdue,omitempty"`
	// Remote is true while the run runs on another node of the
	// cluster: its log lines and progress are stored at least every
	// second, and do not come live on this node's events.
	Remote bool `json:"remote,omitempty"`
}

// Live is what the engine that runs a running run knows of it.
type Live struct {
	Progress int
	Message  string
	Overdue  bool
}

// Of returns r as the API shows it in a listing. now measures how long a
// running run has run. live is what this node's engine knows of a running
// run, nil when it does not run it here; remote then says whether it may
// run on another node of a cluster, whose progress is then the one
// stored (store.Run.Progress).
func Of(r store.Run, now time.Time, live *Live, remote bool) Run {
	out := Run{
		ID: r.ID, App: r.App, Task: r.Task, Status: string(r.Status), Trigger: string(r.Trigger),
		User: r.TriggeredByUser, Scheduled: utc(r.ScheduledTime), Attempt: r.Attempt, Start: r.StartTime.UTC(),
		End: utc(r.EndTime), DurationMs: Duration(r, now).Milliseconds(), Error: r.Error, Reason: r.Reason,
		PeakMemory: r.PeakMemory, Node: r.Node,
	}
	if r.Status != store.StatusRunning && r.Status != store.StatusSucceeded {
		out.Cause = cmp.Or(r.ErrorLine, r.Error, r.Reason)
	}
	if r.ExitCode >= 0 && r.Status != store.StatusRunning {
		code := r.ExitCode
		out.ExitCode = &code
	}
	if r.Status == store.StatusRunning {
		progress, overdue := 0, false
		switch {
		case live != nil:
			progress, overdue = live.Progress, live.Overdue
			out.ProgressMessage = live.Message
		case r.Progress != nil:
			progress, out.ProgressMessage = r.Progress.Percent, r.Progress.Message
			out.Remote = remote
		default:
			out.Remote = remote
		}
		out.Progress, out.Overdue = &progress, &overdue
		return out
	}
	if r.Progress != nil {
		progress := r.Progress.Percent
		out.Progress, out.ProgressMessage = &progress, r.Progress.Message
	}
	if r.Overdue {
		overdue := true
		out.Overdue = &overdue
	}
	return out
}

// Duration is how long r ran; for a running run, how long it has run at
// now.
func Duration(r store.Run, now time.Time) time.Duration {
	if r.Status == store.StatusRunning {
		return max(now.Sub(r.StartTime), 0)
	}
	return r.Duration
}

// utc is t in UTC, or nil for the zero time.
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
