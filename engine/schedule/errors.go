package schedule

import "errors"

// ErrInvalid is matched, through [errors.Is], by every error that [Parse] and
// [Describe] return for a schedule that cannot be used.
var ErrInvalid = errors.New("invalid schedule")

// ParseError describes what is wrong with a schedule.
type ParseError struct {
	// Field names the part of the schedule that is wrong: "second", "minute",
	// "hour", "day-of-month", "month", "day-of-week", "@every", "timezone",
	// or "" when the schedule as a whole is malformed (wrong number of
	// fields, unknown descriptor, neither or both of cron and at).
	Field string
	// Value is the offending text as written, for example "25" or "FUNDAY".
	Value string
	// Reason says what is wrong, in words that already include the value,
	// for example `25 is above the maximum 23`.
	Reason string
}

// Error returns the reason prefixed with the field, for example
// `hour: 25 is above the maximum 23`.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is reports whether target is [ErrInvalid].
func (e *ParseError) Is(target error) bool {
	return target == ErrInvalid
}
