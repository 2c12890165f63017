package schedule

import (
	"errors"
	"reflect"
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
	f.Fuzz(func(t *testing.T, cron, key string, zone uint8) {
		spec := Spec{Cron: cron, Timezone: fuzzZones[int(zone)%len(fuzzZones)]}
		text, err := Describe(spec, key)
		_, perr := Parse(spec, key)
		switch {
		case err != nil && perr != nil:
			checkError(t, err)
			if err.Error() != perr.Error() {
				t.Fatalf("%q: Describe says %v, Parse %v", cron, err, perr)
			}
		case err != nil || perr != nil:
			t.Fatalf("%q: Describe error %v, Parse error %v", cron, err, perr)
		case text == "" || strings.Contains(text, "%!"):
			t.Fatalf("%q: bad description %q", cron, text)
		}
	})
}
