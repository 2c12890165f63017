package schedule

import (
	"testing"
	"time"
)

// Transition days used below (from the IANA database):
//   - Europe/Berlin, 2026-03-29: 02:00 CET (+01) jumps to 03:00 CEST (+02);
//     2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:00-02:59 occurs
//     twice.
//   - America/New_York, 2026-03-08: 02:00 EST (-05) jumps to 03:00 EDT (-04);
//     2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:00-01:59 occurs
//     twice.
//   - Australia/Lord_Howe shifts by half an hour: 2026-04-05 02:00 (+11)
//     falls back to 01:30 (+10:30); 2026-10-04 02:00 (+10:30) jumps to
//     02:30 (+11).
//   - Pacific/Apia skipped 2011-12-30: 2011-12-29 24:00 (-10) became
//     2011-12-31 00:00 (+14).

// TestDSTAppointments checks schedules that name their hours: a wall time in
// a spring-forward gap fires once at the first instant after the gap, and a
// repeated wall time fires at its first occurrence only.
func TestDSTAppointments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tz, cron, from string
		want                 []string
	}{{
		// 02:30 does not exist on 03-29: it fires at 03:00 CEST instead
		// of being skipped.
		name: "Berlin spring daily", tz: "Europe/Berlin", cron: "30 2 * * *",
		from: "2026-03-28T00:00:00+01:00",
		want: []string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"},
	}, {
		// Two wall times in the gap fire once, together, at 03:00.
		name: "Berlin spring two times in the gap", tz: "Europe/Berlin", cron: "15,45 2 * * *",
		from: "2026-03-28T00:00:00+01:00",
		want: []string{"2026-03-28T02:15:00+01:00", "2026-03-28T02:45:00+01:00",
			"2026-03-29T03:00:00+02:00", "2026-03-30T02:15:00+02:00"},
	}, {
		// 02:00 falls into the gap and 03:00 is the first instant after
		// it: one fire, not two.
		name: "Berlin spring gap and its end", tz: "Europe/Berlin", cron: "0 2,3 * * *",
		from: "2026-03-28T00:00:00+01:00",
		want: []string{"2026-03-28T02:00:00+01:00", "2026-03-28T03:00:00+01:00",
			"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"},
	}, {
		// Every minute of hour 2: that hour is missing, so one fire at 03:00.
		name: "Berlin spring a missing hour", tz: "Europe/Berlin", cron: "* 2 * * *",
		from: "2026-03-28T23:00:00+01:00",
		want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:01:00+02:00"},
	}, {
		// Sundays only: the gap fire still falls on the Sunday.
		name: "Berlin spring weekly", tz: "Europe/Berlin", cron: "30 2 * * SUN",
		from: "2026-03-22T03:00:00+01:00",
		want: []string{"2026-03-29T03:00:00+02:00", "2026-04-05T02:30:00+02:00"},
	}, {
		// Seconds inside a missing minute: one fire at 03:00.
		name: "Berlin spring seconds", tz: "Europe/Berlin", cron: "*/20 30 2 * * *",
		from: "2026-03-29T00:00:00+01:00",
		want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-30T02:30:20+02:00"},
	}, {
		// 02:30 occurs at 00:30Z and at 01:30Z on 10-25: the first only.
		name: "Berlin fall daily", tz: "Europe/Berlin", cron: "30 2 * * *",
		from: "2026-10-24T00:00:00+02:00",
		want: []string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
	}, {
		name: "Berlin fall two times", tz: "Europe/Berlin", cron: "15,45 2 * * *",
		from: "2026-10-25T00:00:00+02:00",
		want: []string{"2026-10-25T02:15:00+02:00", "2026-10-25T02:45:00+02:00", "2026-10-26T02:15:00+01:00"},
	}, {
		// The minutes of hour 2 fire during its first occurrence only.
		name: "Berlin fall a repeated hour", tz: "Europe/Berlin", cron: "* 2 * * *",
		from: "2026-10-25T02:58:00+02:00",
		want: []string{"2026-10-25T02:59:00+02:00", "2026-10-26T02:00:00+01:00"},
	}, {
		// Asked from inside the second occurrence, before its 02:30: the
		// first occurrence has fired, so the next fire is the next day.
		name: "Berlin fall from the repeated hour", tz: "Europe/Berlin", cron: "30 2 * * *",
		from: "2026-10-25T02:10:00+01:00",
		want: []string{"2026-10-26T02:30:00+01:00"},
	}, {
		name: "New York spring daily", tz: "America/New_York", cron: "30 2 * * *",
		from: "2026-03-07T00:00:00-05:00",
		want: []string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"},
	}, {
		// 01:30 occurs twice on 11-01; 02:30 only once (EST).
		name: "New York fall daily", tz: "America/New_York", cron: "30 1 * * *",
		from: "2026-10-31T00:00:00-04:00",
		want: []string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
	}, {
		name: "New York fall after the repeat", tz: "America/New_York", cron: "30 2 * * *",
		from: "2026-10-31T00:00:00-04:00",
		want: []string{"2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"},
	}, {
		name: "New York fall from the repeated hour", tz: "America/New_York", cron: "30 1 * * *",
		from: "2026-11-01T01:10:00-05:00",
		want: []string{"2026-11-02T01:30:00-05:00"},
	}, {
		// A half-hour gap: 02:15 fires at 02:30.
		name: "Lord Howe spring", tz: "Australia/Lord_Howe", cron: "15 2 * * *",
		from: "2026-10-03T00:00:00+10:30",
		want: []string{"2026-10-03T02:15:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"},
	}, {
		// A half-hour repeat: 01:45 at its first occurrence.
		name: "Lord Howe fall", tz: "Australia/Lord_Howe", cron: "45 1 * * *",
		from: "2026-04-04T00:00:00+11:00",
		want: []string{"2026-04-04T01:45:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"},
	}, {
		// A missing day: its noon fires at the first instant after it,
		// midnight of the 31st.
		name: "Apia skipped day", tz: "Pacific/Apia", cron: "0 12 * * *",
		from: "2011-12-29T00:00:00-10:00",
		want: []string{"2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNext(t, Spec{Cron: tt.cron, Timezone: tt.tz}, "app/task", tt.from, tt.want)
		})
	}
}

// TestDSTElapsed checks schedules that fire every hour: across both jumps
// they fire on the same grid as in UTC (Berlin and New York shift by whole
// hours), so no instant fires twice and no interval is lost or shortened.
func TestDSTElapsed(t *testing.T) {
	t.Parallel()
	days := []struct{ tz, day string }{
		{"Europe/Berlin", "2026-03-29"},
		{"Europe/Berlin", "2026-10-25"},
		{"America/New_York", "2026-03-08"},
		{"America/New_York", "2026-11-01"},
	}
	crons := []struct {
		cron   string
		period time.Duration
	}{
		{"0 * * * *", time.Hour},
		{"*/15 * * * *", 15 * time.Minute},
		{"@hourly", time.Hour},
	}
	for _, d := range days {
		for _, c := range crons {
			t.Run(d.tz+" "+d.day+" "+c.cron, func(t *testing.T) {
				t.Parallel()
				s, err := Parse(Spec{Cron: c.cron, Timezone: d.tz}, "app/task")
				if err != nil {
					t.Fatal(err)
				}
				loc, err := time.LoadLocation(d.tz)
				if err != nil {
					t.Fatal(err)
				}
				day, err := time.ParseInLocation(time.DateOnly, d.day, loc)
				if err != nil {
					t.Fatal(err)
				}
				// From 00:00 of the day to 00:00 of the next: 23 or 25
				// hours of elapsed time.
				start, end := day, time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
				fires := 0
				prev := start
				for at := s.Next(start); at.Before(end) || at.Equal(end); at = s.Next(at) {
					if at.Sub(prev) != c.period {
						t.Fatalf("fire at %v comes %v after %v, want %v", at, at.Sub(prev), prev, c.period)
					}
					prev = at
					fires++
				}
				if want := int(end.Sub(start) / c.period); fires != want {
					t.Errorf("%d fires in the day, want %d", fires, want)
				}
			})
		}
	}
}

// TestDSTYear walks a year of fire times in zones with DST and checks that
// they strictly increase, that Next is consistent with itself, and that
// daily schedules fire exactly once on every local day.
func TestDSTYear(t *testing.T) {
	t.Parallel()
	zones := []struct{ tz, year string }{
		{"Europe/Berlin", "2026"},
		{"Europe/Berlin", "2040"}, // a leap year past the zone's listed transitions
		{"America/New_York", "2026"},
		{"Australia/Lord_Howe", "2026"},
		{"Pacific/Apia", "2011"},
	}
	crons := []struct {
		cron  string
		daily bool
	}{
		{"30 2 * * *", true},
		{"H H * * *", true},
		{"0 0 * * *", true},
		{"15,45 2 * * *", false},
		{"* 2 * * *", false},
		{"0 * * * *", false},
		{"*/15 * * * *", false},
		{"0 9 * * MON-FRI", false},
		{"*/10 30 1,2 * * *", false},
	}
	for _, z := range zones {
		for _, c := range crons {
			t.Run(z.tz+" "+z.year+" "+c.cron, func(t *testing.T) {
				t.Parallel()
				s, err := Parse(Spec{Cron: c.cron, Timezone: z.tz}, "app/task")
				if err != nil {
					t.Fatal(err)
				}
				loc, err := time.LoadLocation(z.tz)
				if err != nil {
					t.Fatal(err)
				}
				start, err := time.ParseInLocation("2006", z.year, loc)
				if err != nil {
					t.Fatal(err)
				}
				end := start.AddDate(1, 0, 0)
				perDay := map[string]int{}
				prev := start.Add(-time.Nanosecond)
				for at := s.Next(prev); at.Before(end); at = s.Next(at) {
					if !at.After(prev) {
						t.Fatalf("Next(%v) = %v, not after it", prev, at)
					}
					if again := s.Next(at.Add(-time.Nanosecond)); !again.Equal(at) {
						t.Fatalf("Next(%v - 1ns) = %v, want %v", at, again, at)
					}
					if mid := prev.Add(at.Sub(prev) / 2); !s.Next(mid).Equal(at) {
						t.Fatalf("Next(%v) = %v, want %v", mid, s.Next(mid), at)
					}
					perDay[at.Format(time.DateOnly)]++
					prev = at
				}
				if !c.daily {
					return
				}
				// Count calendar dates in UTC, where every date exists.
				days := 0
				for d := time.Date(start.Year(), 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == start.Year(); d = d.AddDate(0, 0, 1) {
					date, want := d.Format(time.DateOnly), 1
					if z.tz == "Pacific/Apia" {
						switch {
						case date == "2011-12-30":
							continue // skipped: no such day
						case date == "2011-12-31" && c.cron != "0 0 * * *":
							want = 2 // the skipped day's fire, at 00:00, and its own
						}
					}
					days++
					if n := perDay[date]; n != want {
						t.Errorf("%s: %d fires, want %d", date, n, want)
					}
				}
				if len(perDay) != days {
					t.Errorf("fires on %d days, want %d", len(perDay), days)
				}
			})
		}
	}
}

// TestDSTBruteForce compares Next with a direct reading of the DST rules,
// minute by minute, over the two days around every transition of a year in
// zones with unusual jumps, including São Paulo's DST at midnight (2018).
func TestDSTBruteForce(t *testing.T) {
	t.Parallel()
	zones := []struct{ tz, year string }{
		{"Europe/Berlin", "2026"},
		{"America/New_York", "2026"},
		{"Australia/Lord_Howe", "2026"},
		{"Antarctica/Troll", "2026"},
		{"Pacific/Chatham", "2026"},
		{"America/Sao_Paulo", "2018"},
		{"Pacific/Apia", "2011"},
	}
	crons := []string{"30 2 * * *", "0 0 * * *", "30 23 * * *", "*/15 * * * *", "0 * * * *",
		"15,45 * * * *", "* 2 * * *", "30 1 * * *", "0 */2 * * *", "H H * * *", "*/7 0-3 * * *"}
	for _, z := range zones {
		loc, err := time.LoadLocation(z.tz)
		if err != nil {
			t.Fatal(err)
		}
		start, err := time.ParseInLocation("2006", z.year, loc)
		if err != nil {
			t.Fatal(err)
		}
		var transitions []time.Time
		for at := start; at.Before(start.AddDate(1, 0, 0)); {
			_, end := at.ZoneBounds()
			if end.IsZero() {
				break
			}
			transitions = append(transitions, end)
			at = end
		}
		if len(transitions) == 0 {
			t.Fatalf("%s has no transitions in %s", z.tz, z.year)
		}
		for _, cron := range crons {
			t.Run(z.tz+" "+cron, func(t *testing.T) {
				t.Parallel()
				s, err := Parse(Spec{Cron: cron, Timezone: z.tz}, "app/task")
				if err != nil {
					t.Fatal(err)
				}
				for _, tr := range transitions {
					from, to := tr.Add(-24*time.Hour), tr.Add(24*time.Hour)
					fires := bruteForce(s.(*cronSchedule), loc, from, to.Add(72*time.Hour))
					for at := from; at.Before(to); at = at.Add(30 * time.Second) {
						for len(fires) > 0 && !fires[0].After(at) {
							fires = fires[1:]
						}
						if got := s.Next(at); !got.Equal(fires[0]) {
							t.Fatalf("Next(%v) = %v, want %v", at, got, fires[0])
						}
					}
				}
			})
		}
	}
}

// bruteForce lists the fire times of c between from and to (whole minutes;
// c must fire at second 0), checking every minute against the rules of the
// package documentation.
func bruteForce(c *cronSchedule, loc *time.Location, from, to time.Time) []time.Time {
	offset := func(t time.Time) int64 {
		_, off := t.In(loc).Zone()
		return int64(off)
	}
	// matches reports whether the wall time w (seconds, as if UTC) matches.
	matches := func(w int64) bool {
		tm := time.Unix(w, 0).UTC()
		day := tm.Day()
		dom := c.dom&(1<<day) != 0
		dow := c.dowDays[0]&(1<<(int(tm.Weekday())+1)) != 0 // day w+1 of a month starting on Sunday
		dayOK := dom && dow
		if c.dayOr {
			dayOK = dom || dow
		}
		return dayOK && c.month&(1<<tm.Month()) != 0 && c.hour&(1<<tm.Hour()) != 0 &&
			c.minute&(1<<tm.Minute()) != 0 && c.second&1 != 0
	}
	var fires []time.Time
	var repeatedUntil int64 // wall time up to which wall times have occurred before
	from = from.Truncate(time.Minute)
	for at := from; at.Before(to); at = at.Add(time.Minute) {
		u, off, prev := at.Unix(), offset(at), offset(at.Add(-time.Minute))
		wall := u + off
		if !c.everyHour {
			if prev > off { // fall back: walls up to u+prev have occurred
				repeatedUntil = u + prev
			}
			if prev < off { // spring forward: walls u+prev .. u+off are skipped
				gap := false
				for w := u + prev; w < u+off; w += 60 {
					gap = gap || matches(w)
				}
				if gap {
					fires = append(fires, at)
					continue
				}
			}
			if wall < repeatedUntil {
				continue
			}
		}
		if matches(wall) {
			fires = append(fires, at)
		}
	}
	return fires
}

// TestLeapYearEnd checks the last day of a leap year in zones whose
// transitions come from their TZ rule, where time.Time.ZoneBounds reports a
// period end before the instant (golang/go#81583).
func TestLeapYearEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tz, cron, from string
		want                 []string
	}{{
		name: "Berlin daily", tz: "Europe/Berlin", cron: "0 12 * * *",
		from: "2040-12-30T12:00:00Z",
		want: []string{"2040-12-31T11:00:00Z", "2041-01-01T11:00:00Z"},
	}, {
		name: "Berlin hourly", tz: "Europe/Berlin", cron: "0 * * * *",
		from: "2040-12-31T22:30:00Z",
		want: []string{"2040-12-31T23:00:00Z", "2041-01-01T00:00:00Z", "2041-01-01T01:00:00Z"},
	}, {
		// Sundays that are February 29 (*/7 is Sunday only, and as a
		// stepped star it leaves the day of the month deciding): 2032,
		// then 2060, searched through the leap years between.
		name: "Troll rare", tz: "Antarctica/Troll", cron: "0 0 29 2 */7",
		from: "2005-02-11T22:01:29Z",
		want: []string{"2032-02-29T00:00:00+00:00", "2060-02-29T00:00:00+00:00"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNext(t, Spec{Cron: tt.cron, Timezone: tt.tz}, "app/task", tt.from, tt.want)
		})
	}
}
