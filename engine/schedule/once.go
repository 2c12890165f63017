package schedule

import "time"

// onceSchedule fires once, at a fixed instant.
type onceSchedule struct {
	at time.Time
}

// Next returns the instant if it is after t, and the zero time otherwise.
func (o onceSchedule) Next(t time.Time) time.Time {
	if o.at.After(t) {
		return o.at
	}
	return time.Time{}
}

// String returns the instant in RFC 3339 form.
func (o onceSchedule) String() string { return o.at.Format(time.RFC3339Nano) }
