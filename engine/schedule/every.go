package schedule

import (
	"fmt"
	"strings"
	"time"
)

// everySchedule is "@every d": it fires at the Unix times (in whole seconds)
// that are phase modulo period, phase being picked by H's hash from the
// task's key. It is a pure function of time, like a cron expression: the
// same task fires at the same instants whenever the engine started.
type everySchedule struct {
	period, phase int64 // seconds; 0 <= phase < period
	loc           *time.Location
	duration      string // as written
}

// parseEvery parses the duration of "@every <duration>".
func parseEvery(arg, key string, loc *time.Location) (*everySchedule, error) {
	fail := func(value, format string, args ...any) error {
		return &ParseError{Field: "@every", Value: value, Reason: fmt.Sprintf(format, args...)}
	}
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return nil, fail(arg, "missing duration, e.g. @every 90s")
	}
	d, err := time.ParseDuration(arg)
	switch {
	case err != nil:
		return nil, fail(arg, "%q is not a duration, e.g. 90s or 1h30m", arg)
	case d < time.Second:
		return nil, fail(arg, "duration %s is below 1s", arg)
	case d%time.Second != 0:
		return nil, fail(arg, "duration %s is not a whole number of seconds", arg)
	}
	period := int64(d / time.Second)
	return &everySchedule{
		period:   period,
		phase:    int64(pick(hashKey(key, posEvery), int(period))),
		loc:      loc,
		duration: arg,
	}, nil
}

// Next returns the first fire time strictly after t.
func (e *everySchedule) Next(t time.Time) time.Time {
	from := t.Unix() + 1
	if from > maxUnix {
		return time.Time{}
	}
	wait := (e.phase - from) % e.period
	if wait < 0 {
		wait += e.period
	}
	return time.Unix(from+wait, 0).In(e.loc)
}

// String returns "@every" and the duration as written.
func (e *everySchedule) String() string { return "@every " + e.duration }
