package schedule

import (
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the tests need the zones on every machine
)

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// checkNext checks the fire times of spec after from, in order.
func checkNext(t *testing.T, spec Spec, key, from string, want []string) {
	t.Helper()
	s, err := Parse(spec, key)
	if err != nil {
		t.Fatalf("Parse(%+v): %v", spec, err)
	}
	at := mustTime(t, from)
	for i, w := range want {
		got := s.Next(at)
		if w == "" {
			if !got.IsZero() {
				t.Fatalf("fire %d: Next(%v) = %v, want none", i, at, got)
			}
			return
		}
		if want := mustTime(t, w); !got.Equal(want) {
			t.Fatalf("fire %d: Next(%v) = %v, want %v", i, at, got, want)
		}
		at = got
	}
}

// Calendar facts used below (proleptic Gregorian, checked against cal(1)):
// 2026-01-01 is a Thursday, so 2026-01-30 is a Friday, 2026-02-01 and
// 2026-03-01 are Sundays (February 2026 has 28 days), 2026-04-01 is a
// Wednesday and 2026-05-01 a Friday. 2028 is the next leap year.
func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cron string
		tz   string
		from string
		want []string // successive fire times; "" = no more
	}{{
		// Every minute: the next minute boundary strictly after from, even
		// when from is on a boundary.
		name: "every minute from a boundary",
		cron: "* * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:01:00Z", "2026-01-30T12:02:00Z"},
	}, {
		// Fire times are whole seconds: from 12:00:30.5 the next minute.
		name: "every minute from inside a minute",
		cron: "* * * * *",
		from: "2026-01-30T12:00:30.5Z",
		want: []string{"2026-01-30T12:01:00Z"},
	}, {
		// */5 = 0,5,…,55: after 12:03 come 12:05 and 12:10.
		name: "step over the field",
		cron: "*/5 * * * *",
		from: "2026-01-30T12:03:00Z",
		want: []string{"2026-01-30T12:05:00Z", "2026-01-30T12:10:00Z"},
	}, {
		// 10-30/10 = 10,20,30: after 12:31 the hour is done, so 13:10.
		name: "step over a range",
		cron: "10-30/10 * * * *",
		from: "2026-01-30T12:31:00Z",
		want: []string{"2026-01-30T13:10:00Z", "2026-01-30T13:20:00Z",
			"2026-01-30T13:30:00Z", "2026-01-30T14:10:00Z"},
	}, {
		// 5/20 = 5-59/20 = 5,25,45.
		name: "step from a value",
		cron: "5/20 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:05:00Z", "2026-01-30T12:25:00Z",
			"2026-01-30T12:45:00Z", "2026-01-30T13:05:00Z"},
	}, {
		// A list, after 12:20: 12:45, then 13:00 and 13:15.
		name: "list",
		cron: "0,15,45 * * * *",
		from: "2026-01-30T12:20:00Z",
		want: []string{"2026-01-30T12:45:00Z", "2026-01-30T13:00:00Z", "2026-01-30T13:15:00Z"},
	}, {
		// Sundays (day of month is *, so only the weekday decides) in
		// January and March at noon: Jan 31 is a Saturday, February is
		// excluded, so March 1, 8 and 15.
		name: "month and weekday names",
		cron: "0 12 * JAN,mar sun",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-03-01T12:00:00Z", "2026-03-08T12:00:00Z", "2026-03-15T12:00:00Z"},
	}, {
		// Ranges of names: Monday to Friday at 09:00 in New York (EST,
		// UTC-5, in January): Friday Jan 30 12:00Z is 07:00 EST, so 09:00
		// that day (14:00Z), then Monday Feb 2.
		name: "weekday range in a time zone",
		cron: "0 9 * * MON-FRI",
		tz:   "America/New_York",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T14:00:00Z", "2026-02-02T14:00:00Z", "2026-02-03T14:00:00Z"},
	}, {
		// The 31st: January has one, February none, March one, April
		// none, May one.
		name: "day 31 skips short months",
		cron: "0 0 31 * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
	}, {
		// The 30th: February 2026 has 28 days.
		name: "day 30 skips February",
		cron: "0 0 30 * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"},
	}, {
		// Days 28-31 at the end of February: Feb 28, then March 28-31.
		name: "end of the month range",
		cron: "0 0 28-31 * *",
		from: "2026-02-27T12:00:00Z",
		want: []string{"2026-02-28T00:00:00Z", "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z",
			"2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-28T00:00:00Z"},
	}, {
		// February 29 exists in leap years only: 2028, 2032.
		name: "leap day",
		cron: "0 0 29 2 *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
	}, {
		// Both day fields restricted, so either matches (crontab(5)):
		// the Fridays of April 2026 are 3, 10, 17, 24 and the 13th is a
		// Monday; then Friday May 1.
		name: "day of month or day of week",
		cron: "0 0 13 * FRI",
		from: "2026-04-01T00:00:00Z",
		want: []string{"2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z",
			"2026-04-17T00:00:00Z", "2026-04-24T00:00:00Z", "2026-05-01T00:00:00Z"},
	}, {
		// A stepped star is unrestricted (it contains *), so both must
		// match: odd days that are Mondays. April's Mondays are 6, 13,
		// 20, 27 (13 and 27 odd); May's 4, 11, 18, 25 (11 and 25 odd).
		name: "stepped star and day of week",
		cron: "0 0 */2 * MON",
		from: "2026-04-01T00:00:00Z",
		want: []string{"2026-04-13T00:00:00Z", "2026-04-27T00:00:00Z", "2026-05-11T00:00:00Z"},
	}, {
		// ? is * in the day fields: every Monday.
		name: "question mark",
		cron: "0 0 ? * MON",
		from: "2026-04-01T00:00:00Z",
		want: []string{"2026-04-06T00:00:00Z", "2026-04-13T00:00:00Z"},
	}, {
		// Seconds field: second 30 of every 10th minute.
		name: "seconds field",
		cron: "30 */10 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:00:30Z", "2026-01-30T12:10:30Z", "2026-01-30T12:20:30Z"},
	}, {
		// Every 20 seconds: after :45 comes the next minute's :00.
		name: "every 20 seconds",
		cron: "*/20 * * * * *",
		from: "2026-01-30T12:00:45Z",
		want: []string{"2026-01-30T12:01:00Z", "2026-01-30T12:01:20Z"},
	}, {
		// The year wraps: the last minute of 2026, then January 2027.
		name: "year wrap",
		cron: "59 23 31 12 *",
		from: "2026-12-31T23:59:00Z",
		want: []string{"2027-12-31T23:59:00Z"},
	}, {
		// From the zero time (0001-01-01 00:00 UTC, a Monday).
		name: "zero time",
		cron: "0 0 1 1 *",
		from: "0001-01-01T00:00:00Z",
		want: []string{"0002-01-01T00:00:00Z"},
	}, {
		// Nothing after the end of year 9999.
		name: "end of supported time",
		cron: "* * * * *",
		from: "9999-12-31T23:59:59Z",
		want: []string{""},
	}, {
		name: "@yearly", // = 0 0 1 1 *
		cron: "@yearly",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
	}, {
		name: "@annually", // = @yearly
		cron: "@annually",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2027-01-01T00:00:00Z"},
	}, {
		name: "@monthly", // = 0 0 1 * *
		cron: "@monthly",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
	}, {
		name: "@weekly", // = 0 0 * * 0: Sundays Feb 1 and 8
		cron: "@weekly",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z"},
	}, {
		name: "@daily", // = 0 0 * * *
		cron: "@daily",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
	}, {
		name: "@midnight", // = @daily, in Berlin (UTC+1 in winter)
		cron: "@midnight",
		tz:   "Europe/Berlin",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T23:00:00Z", "2026-01-31T23:00:00Z"},
	}, {
		name: "@hourly", // = 0 * * * *
		cron: "@hourly",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T13:00:00Z", "2026-01-30T14:00:00Z"},
	}, {
		// A half-hour zone: 00:00 in Kolkata (UTC+5:30) is 18:30Z.
		name: "half-hour offset",
		cron: "0 0 * * *",
		tz:   "Asia/Kolkata",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T18:30:00Z", "2026-01-31T18:30:00Z"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNext(t, Spec{Cron: tt.cron, Timezone: tt.tz}, "app/task", tt.from, tt.want)
		})
	}
}

func TestNextH(t *testing.T) {
	t.Parallel()
	// The values of H are pinned: they must never change, or every task
	// that uses H would move. For key "app/task" the hash picks minute 28
	// of 0..59 and hour 21 of 0..23; String shows them.
	tests := []struct {
		name, cron, key, str, from string
		want                       []string
	}{{
		name: "H minute",
		cron: "H * * * *", key: "app/task", str: "28 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:28:00Z", "2026-01-30T13:28:00Z"},
	}, {
		name: "H minute and hour",
		cron: "H H * * *", key: "app/task", str: "28 21 * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T21:28:00Z", "2026-01-31T21:28:00Z"},
	}, {
		// H/15: offset 7 of 0..14, so 7, 22, 37, 52.
		name: "H step",
		cron: "H/15 * * * *", key: "app/task", str: "7-59/15 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:07:00Z", "2026-01-30T12:22:00Z",
			"2026-01-30T12:37:00Z", "2026-01-30T12:52:00Z", "2026-01-30T13:07:00Z"},
	}, {
		// H(0-29) picks within 0..29: 14.
		name: "H range",
		cron: "H(0-29) * * * *", key: "app/task", str: "14 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:14:00Z"},
	}, {
		// H(0-29)/10: offset 4 of 0..9, then every 10th up to 29.
		name: "H range step",
		cron: "H(0-29)/10 * * * *", key: "app/task", str: "4-29/10 * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:04:00Z", "2026-01-30T12:14:00Z",
			"2026-01-30T12:24:00Z", "2026-01-30T13:04:00Z"},
	}, {
		// Another key, other values.
		name: "H other key",
		cron: "H H * * *", key: "billing/invoice", str: "23 23 * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T23:23:00Z"},
	}, {
		// H in the day of month stays in 1..28: 25.
		name: "H day of month",
		cron: "0 0 H * *", key: "app/task", str: "0 0 25 * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-02-25T00:00:00Z", "2026-03-25T00:00:00Z"},
	}, {
		// H in the seconds field hashes position 0, so it differs from
		// the minute's value for the same key.
		name: "H second",
		cron: "H * * * * *", key: "app/task", str: "58 * * * * *",
		from: "2026-01-30T12:00:00Z",
		want: []string{"2026-01-30T12:00:58Z", "2026-01-30T12:01:58Z"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Spec{Cron: tt.cron}, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			checkNext(t, Spec{Cron: tt.cron}, tt.key, tt.from, tt.want)
		})
	}
}

func TestNextEvery(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, cron string
		period     time.Duration
	}{
		{"seconds", "@every 90s", 90 * time.Second},
		{"hours and minutes", "@every 1h30m", 90 * time.Minute},
		{"one second", "@every 1s", time.Second},
		{"a day", "@every 24h", 24 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Spec{Cron: tt.cron}, "app/task")
			if err != nil {
				t.Fatal(err)
			}
			from := mustTime(t, "2026-01-30T12:00:00.25Z")
			first := s.Next(from)
			// The first fire is within one period after from, at a
			// whole second, and the next ones follow a period apart.
			if !first.After(from) || first.Sub(from) > tt.period || first.Nanosecond() != 0 {
				t.Fatalf("Next(%v) = %v: not within %v after it at a whole second", from, first, tt.period)
			}
			at := first
			for range 5 {
				next := s.Next(at)
				if next.Sub(at) != tt.period {
					t.Fatalf("Next(%v) = %v, want %v later", at, next, tt.period)
				}
				at = next
			}
			// Next is a pure function of time: asking from any instant
			// between two fire times gives the later one.
			for _, d := range []time.Duration{time.Nanosecond, time.Second / 2, tt.period / 2, tt.period - time.Nanosecond} {
				if got := s.Next(first.Add(-tt.period).Add(d)); !got.Equal(first) {
					t.Errorf("Next(first-%v+%v) = %v, want %v", tt.period, d, got, first)
				}
			}
		})
	}

	// The phase is pinned for a known key: 90s periods fall on Unix times
	// that are 33 modulo 90 for "app/task" (12:00:00Z is 1769774400, 0
	// modulo 90, so the first fire after it is 12:00:33).
	checkNext(t, Spec{Cron: "@every 90s"}, "app/task", "2026-01-30T12:00:00Z",
		[]string{"2026-01-30T12:00:33Z", "2026-01-30T12:02:03Z"})
}

func TestNextOnce(t *testing.T) {
	t.Parallel()
	at := mustTime(t, "2026-12-01T10:00:00Z")
	tests := []struct {
		name string
		from string
		want []string
	}{
		{"before", "2026-11-30T00:00:00Z", []string{"2026-12-01T10:00:00Z", ""}},
		{"just before", "2026-12-01T09:59:59.999999999Z", []string{"2026-12-01T10:00:00Z", ""}},
		{"at the instant", "2026-12-01T10:00:00Z", []string{""}},
		{"after", "2027-01-01T00:00:00Z", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNext(t, Spec{At: at, Timezone: "Europe/Berlin"}, "app/task", tt.from, tt.want)
		})
	}
}

func TestNextN(t *testing.T) {
	t.Parallel()
	from := mustTime(t, "2026-01-30T12:00:00Z")
	cron, err := Parse(Spec{Cron: "0 * * * *"}, "")
	if err != nil {
		t.Fatal(err)
	}
	once, err := Parse(Spec{At: from.Add(time.Hour)}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    Schedule
		n    int
		want int
	}{
		{"cron", cron, 3, 3},
		{"zero", cron, 0, 0},
		{"negative", cron, -1, 0},
		{"one-shot ends", once, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NextN(tt.s, from, tt.n)
			if len(got) != tt.want {
				t.Fatalf("NextN(%d) = %v, want %d times", tt.n, got, tt.want)
			}
			for i, g := range got {
				if want := from.Add(time.Duration(i+1) * time.Hour); !g.Equal(want) {
					t.Errorf("time %d = %v, want %v", i, g, want)
				}
			}
		})
	}
}

func TestParser(t *testing.T) {
	t.Parallel()
	// A Parser loads each zone once: its schedules share the location.
	var p Parser
	a, err := p.Parse(Spec{Cron: "0 * * * *", Timezone: "Europe/Berlin"}, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Parse(Spec{Cron: "H * * * *", Timezone: "Europe/Berlin"}, "b")
	if err != nil {
		t.Fatal(err)
	}
	if a.(*cronSchedule).loc != b.(*cronSchedule).loc {
		t.Error("the schedules do not share their location")
	}
	if _, err := p.Parse(Spec{Cron: "0 * * * *", Timezone: "Nowhere/Atlantis"}, "c"); err == nil {
		t.Error("an unknown zone parsed")
	}
}

func TestParserSharesSchedules(t *testing.T) {
	t.Parallel()
	// The expressions that are the same once H is resolved, in the same
	// zone, share one schedule; any difference makes another.
	var p Parser
	parse := func(cron, zone, key string) Schedule {
		t.Helper()
		s, err := p.Parse(Spec{Cron: cron, Timezone: zone}, key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := parse("5 * * * *", "", "a")
	if b := parse(" 5 * * * * ", "", "b"); b != a {
		t.Error("the same expression in the same zone made two schedules")
	}
	var h string
	for i := 0; h == "" && i < 1000; i++ {
		if s := parse("H * * * *", "", "k"+strconv.Itoa(i)); s.String() == "5 * * * *" {
			h = s.String()
			if s != a {
				t.Error("H resolved to the expression of another schedule made a schedule of its own")
			}
		}
	}
	if h == "" {
		t.Fatal("no key of 1000 resolves H to 5")
	}
	for _, other := range []Schedule{parse("6 * * * *", "", "a"), parse("5 * * * *", "Europe/Berlin", "a"), parse("0 5 * * * *", "", "a")} {
		if other == a {
			t.Errorf("%q shares the schedule of %q in UTC", other, a)
		}
	}
	after := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	if got, want := parse("5 * * * *", "", "c").Next(after), time.Date(2026, 1, 5, 10, 5, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("shared schedule: next %v, want %v", got, want)
	}
}
