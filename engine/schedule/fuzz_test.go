package schedule

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzZones are the time zones the fuzz tests pick from: UTC, zones with
// one-hour, half-hour and two-hour DST shifts, DST at midnight (São Paulo,
// historically), a 24-hour jump (Apia) and odd offsets (Chatham, +12:45).
var fuzzZones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
	"America/Sao_Paulo", "Pacific/Apia", "Pacific/Chatham", "Antarctica/Troll", "Asia/Kolkata"}

// fuzzTime maps any int64 to a time between 1900 and 2200.
func fuzzTime(n int64) time.Time {
	const from, span = -2208988800, 300 * 365 * 24 * 3600 // 1900-01-01, about 300 years
	n %= span
	if n < 0 {
		n += span
	}
	return time.Unix(from+n, n%1000*1000000).UTC()
}

// checkError checks that err is a *ParseError that matches ErrInvalid.
func checkError(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) || err.Error() == "" {
		t.Fatalf("error %#v is not a *ParseError matching ErrInvalid", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, cron, key string, zone uint8, at int64) {
		tz := fuzzZones[int(zone)%len(fuzzZones)]
		s, err := Parse(Spec{Cron: cron, Timezone: tz}, key)
		if err != nil {
			checkError(t, err)
			return
		}
		// Times to ask from: a random one and instants around the ends
		// of its UTC-offset period, where DST rules apply.
		from := fuzzTime(at)
		loc, _ := time.LoadLocation(tz)
		start, end := from.In(loc).ZoneBounds()
		times := []time.Time{from}
		for _, bound := range []time.Time{start, end} {
			if !bound.IsZero() {
				d := time.Duration(at%7200) * time.Second
				times = append(times, bound.Add(-d), bound.Add(d), bound.Add(-time.Nanosecond))
			}
		}
		for _, t0 := range times {
			next := s.Next(t0)
			if next.IsZero() {
				t.Fatalf("%q in %q: no fire time after %v", cron, tz, t0)
			}
			if !next.After(t0) {
				t.Fatalf("%q in %q: Next(%v) = %v, not after it", cron, tz, t0, next)
			}
			if again := s.Next(next.Add(-time.Nanosecond)); !again.Equal(next) {
				t.Fatalf("%q in %q: Next(%v) = %v but Next(that - 1ns) = %v", cron, tz, t0, next, again)
			}
			if after := s.Next(next); !after.After(next) {
				t.Fatalf("%q in %q: Next(%v) = %v, not after it", cron, tz, next, after)
			}
		}

		// String parses again to the same schedule.
		again, err := Parse(Spec{Cron: s.String(), Timezone: tz}, key)
		if err != nil {
			t.Fatalf("%q: String() = %q does not parse: %v", cron, s.String(), err)
		}
		if again.String() != s.String() {
			t.Fatalf("%q: String() = %q parses to %q", cron, s.String(), again.String())
		}
		if c, ok := s.(*cronSchedule); ok {
			if !reflect.DeepEqual(c, again.(*cronSchedule)) {
				t.Fatalf("%q: String() = %q parses to %+v, not %+v", cron, s.String(), again, c)
			}
			compareRobfig(t, s.String(), c)
		}
		if a, b := NextN(s, from, 3), NextN(again, from, 3); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: fires at %v, String() = %q at %v", cron, a, s.String(), b)
		}
	})
}

func FuzzDescribe(f *testing.F) {
	f.Fuzz(func(t *testing.T, cron, key string, zone uint8, at int64) {
		spec := Spec{Cron: cron, Timezone: fuzzZones[int(zone)%len(fuzzZones)]}
		text, err := Describe(spec, key)
		s, perr := Parse(spec, key)
		switch {
		case err != nil && perr != nil:
			checkError(t, err)
			if err.Error() != perr.Error() {
				t.Fatalf("%q: Describe says %v, Parse %v", cron, err, perr)
			}
			return
		case err != nil || perr != nil:
			t.Fatalf("%q: Describe error %v, Parse error %v", cron, err, perr)
		case text == "" || strings.Contains(text, "%!"):
			t.Fatalf("%q: bad description %q", cron, text)
		}
		if c, ok := s.(*cronSchedule); ok {
			checkDescribedDays(t, cron, c, text, fuzzTime(at))
		}
	})
}

// The bit sets of a cronSchedule's fields that match every day of the
// month, every month and every day of the week.
const (
	allDays   = 1<<32 - 2 // bits 1..31
	allMonths = 1<<13 - 2 // bits 1..12
	allWeek   = 1<<7 - 1  // bits 0..6, Sunday to Saturday
)

// describedDays returns the weekdays (bit 0 = Sunday) that a description of
// a schedule whose days the day of week alone decides names: after " on ",
// a list of days and ranges "X through Y", which may end on Sunday; every
// day if there is no " on ".
func describedDays(t *testing.T, text string) uint64 {
	t.Helper()
	if i := strings.LastIndex(text, " ("); i >= 0 {
		text = text[:i]
	}
	_, list, ok := strings.Cut(text, " on ")
	if !ok {
		return allWeek
	}
	index := func(name string) int {
		i := slices.Index(dayNames, name)
		if i < 0 {
			t.Fatalf("%q in description %q is not a day", name, text)
		}
		return i
	}
	var days uint64
	for _, part := range strings.Split(strings.ReplaceAll(list, " and ", ", "), ", ") {
		from, to, isRange := strings.Cut(part, " through ")
		if !isRange {
			to = from
		}
		for d, last := index(from), index(to); ; d = (d + 1) % 7 {
			days |= 1 << d
			if d == last {
				break
			}
		}
	}
	return days
}

// checkDescribedDays checks, for an expression whose days the day of week
// alone decides (every day of the month and every month, so the day fields
// are not or-ed), that the days its description names are the weekdays on
// which Next fires in the 14 days from the start of from's day. A fire time
// at the end of a spring-forward gap does not count: it stands for a wall
// time that the gap skipped, which may lie on the day before (Apia skipped
// 30 December 2011).
func checkDescribedDays(t *testing.T, cron string, c *cronSchedule, text string, from time.Time) {
	t.Helper()
	if c.dom != allDays || c.month != allMonths || c.dayOr {
		return
	}
	want := describedDays(t, text)
	y, m, d := from.In(c.loc).Date()
	start, end := time.Date(y, m, d, 0, 0, 0, 0, c.loc), time.Date(y, m, d+14, 0, 0, 0, 0, c.loc)
	var got uint64
	for at := start.Add(-time.Nanosecond); ; {
		next := c.Next(at)
		if next.IsZero() || !next.Before(end) {
			break
		}
		_, off := next.Zone()
		if _, before := next.Add(-time.Second).Zone(); before >= off {
			got |= 1 << next.Weekday()
		}
		// On to the next day; where its midnight does not exist,
		// time.Date may land before next.
		y, m, d := next.Date()
		at = time.Date(y, m, d+1, 0, 0, 0, 0, c.loc).Add(-time.Nanosecond)
		if at.Before(next) {
			at = next
		}
	}
	if got != want {
		t.Fatalf("%q in %s from %v: Describe says %q, days %07b (bit 0 Sunday), but it fires on days %07b",
			cron, c.loc, start, text, want, got)
	}
}
