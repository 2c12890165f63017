package engine

import (
	"errors"
)

// ErrExists reports a task that cannot be created because its name is
// taken in its app.
var ErrExists = errors.New("already exists")

// Errors of the engine. Methods wrap them; test with errors.Is.
var (
	// ErrNotFound reports an unknown app, task or run.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning reports a call that needs a started engine.
	ErrNotRunning = errors.New("engine is not running")
	// ErrBusy reports a manual trigger refused by the task's overlap
	// policy (forbid) or by a full queue.
	ErrBusy = errors.New("task is busy")
	// ErrInvalidTask reports a task that has errors and so cannot run.
	ErrInvalidTask = errors.New("task has errors")
	// ErrInvalidOverride reports an override that its app rejects.
	ErrInvalidOverride = errors.New("invalid override")
)

// errShutdown is the cancel cause of runs cut short by Stop.
var errShutdown = errors.New("engine stopping")

// errReplaced is the cancel cause of runs replaced by a newer run.
var errReplaced = errors.New("replaced by a newer run")

// errCancelled is the cancel cause of runs cancelled through Cancel.
var errCancelled = errors.New("cancelled by request")
