package app

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by the error of Load when the app cannot be used at
// all, and by the error of ImportTasksFile.
var ErrInvalid = errors.New("invalid")

// ErrNotBuilt is wrapped by the Problem of a task whose module is missing
// but whose Go source sits beside it (tasks/cleanup/ for
// tasks/cleanup.wasm): building the source would fix it. Test with
// errors.Is(problem, ErrNotBuilt); Task.Source names the source directory.
var ErrNotBuilt = errors.New("module not built")

// Problem is one thing wrong (or doubtful, as a warning) with an app's
// files or with an override.
type Problem struct {
	// File is the file, relative to the app folder and with forward
	// slashes ("config/tasks.yaml"), or "" when the problem is in an
	// override or a tasks file.
	File string
	// Line and Column locate the value in File, from 1; 0 when unknown.
	Line, Column int
	// Field is the path of the value, e.g. "tasks[1].limits.memory", or ""
	// for the file as a whole.
	Field string
	// Message says what is wrong and, where it helps, what would be right.
	Message string
	// Err is the sentinel the problem wraps (ErrNotBuilt), or nil.
	Err error
}

// Error formats p as "file:line:column: field: message", leaving out the
// parts that are unknown.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
			if p.Column > 0 {
				b.WriteString(":" + strconv.Itoa(p.Column))
			}
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Unwrap returns p.Err.
func (p Problem) Unwrap() error { return p.Err }

// sortProblems orders problems by file, line and column, keeping the
// order of those at the same place.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// InvalidError is the error of Load when an app folder cannot be used at
// all (app.yaml or config/tasks.yaml is unusable), and of ImportTasksFile
// when a tasks file is rejected. It wraps ErrInvalid.
type InvalidError struct {
	// What failed: "loading app log-archiver", "importing tasks file".
	What string
	// Problems are the reasons, at least one.
	Problems []Problem
}

// Error names the first problem and how many more there are.
func (e *InvalidError) Error() string {
	msg := e.What + ": " + e.Problems[0].Error()
	if n := len(e.Problems) - 1; n == 1 {
		msg += " (and 1 more problem)"
	} else if n > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return msg
}

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }
