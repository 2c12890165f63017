package schedule

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// firingDays returns the weekdays on which s fires in the 14 days from
// start, a Sunday, each as often as it fires on one of those days.
func firingDays(t *testing.T, s Schedule, start time.Time) []time.Weekday {
	t.Helper()
	var days []time.Weekday
	end := start.AddDate(0, 0, 14)
	for at := start.Add(-time.Nanosecond); ; {
		next := s.Next(at)
		if next.IsZero() || !next.Before(end) {
			return days
		}
		days = append(days, next.Weekday())
		y, m, d := next.Date()
		at = time.Date(y, m, d+1, 0, 0, 0, 0, next.Location()).Add(-time.Nanosecond)
	}
}

// TestCrontabDayOfWeek checks the day-of-week forms of crontab(5) as cronie
// reads them: 0 and 7 are Sunday, also in ranges, and a range ending in
// Sunday (SUN or 0) after a later start ends at 7.
func TestCrontabDayOfWeek(t *testing.T) {
	t.Parallel()
	const (
		sun = time.Sunday
		mon = time.Monday
		tue = time.Tuesday
		wed = time.Wednesday
		thu = time.Thursday
		fri = time.Friday
		sat = time.Saturday
	)
	every := []time.Weekday{sun, mon, tue, wed, thu, fri, sat}
	tests := []struct {
		dow  string
		days []time.Weekday
		desc string // Describe of "0 0 * * <dow>" without " (UTC)"
	}{
		{"7", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"0", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"SUN", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"0,7", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"sun,7", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"7-7", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"5-7", []time.Weekday{sun, fri, sat}, "At 00:00 on Friday through Sunday"},
		{"FRI-7", []time.Weekday{sun, fri, sat}, "At 00:00 on Friday through Sunday"},
		{"6-7", []time.Weekday{sun, sat}, "At 00:00 on Saturday and Sunday"},
		{"1-7", every, "At 00:00"},
		{"0-7", every, "At 00:00"},
		{"0-6", every, "At 00:00"},
		{"2-7", []time.Weekday{sun, tue, wed, thu, fri, sat}, "At 00:00 on Tuesday through Sunday"},
		{"1,7", []time.Weekday{sun, mon}, "At 00:00 on Monday and Sunday"},
		{"7,1", []time.Weekday{sun, mon}, "At 00:00 on Sunday and Monday"},
		// N/step runs through 7: 3, 5, 7.
		{"3/2", []time.Weekday{sun, wed, fri}, "At 00:00 on Wednesday, Friday and Sunday"},
		{"1/2", []time.Weekday{sun, mon, wed, fri}, "At 00:00 on Monday, Wednesday, Friday and Sunday"},
		{"2/2", []time.Weekday{tue, thu, sat}, "At 00:00 on Tuesday, Thursday and Saturday"},
		{"1-7/3", []time.Weekday{sun, mon, thu}, "At 00:00 on Monday, Thursday and Sunday"},
		{"1-5/2", []time.Weekday{mon, wed, fri}, "At 00:00 on Monday, Wednesday and Friday"},
		// * is 0-7, so */n adds 7 only where 0 is there already.
		{"*/2", []time.Weekday{sun, tue, thu, sat}, "At 00:00 on Sunday, Tuesday, Thursday and Saturday"},
		{"*/3", []time.Weekday{sun, wed, sat}, "At 00:00 on Sunday, Wednesday and Saturday"},
		{"*/7", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"*", every, "At 00:00"},
		// A range that ends in Sunday, as a name or 0, after a later
		// start ends at 7, as in cronie.
		{"MON-SUN", every, "At 00:00"},
		{"mon-sun", every, "At 00:00"},
		{"FRI-SUN", []time.Weekday{sun, fri, sat}, "At 00:00 on Friday through Sunday"},
		{"SAT-SUN", []time.Weekday{sun, sat}, "At 00:00 on Saturday and Sunday"},
		{"5-0", []time.Weekday{sun, fri, sat}, "At 00:00 on Friday through Sunday"},
		{"MON-SUN/2", []time.Weekday{sun, mon, wed, fri}, "At 00:00 on Monday, Wednesday, Friday and Sunday"},
		{"SUN-SAT", every, "At 00:00"},
		{"SUN-SUN", []time.Weekday{sun}, "At 00:00 on Sunday"},
		{"MON-FRI", []time.Weekday{mon, tue, wed, thu, fri}, "At 00:00 on Monday through Friday"},
	}
	// 2026-01-04 is a Sunday.
	start := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.dow, func(t *testing.T) {
			t.Parallel()
			spec := Spec{Cron: "0 0 * * " + tt.dow}
			s, err := Parse(spec, "app/task")
			if err != nil {
				t.Fatal(err)
			}
			var want []time.Weekday
			for range 2 {
				want = append(want, tt.days...)
			}
			slices.Sort(want)
			got := firingDays(t, s, start)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("fires on %v in two weeks, want %v", got, want)
			}
			if s.String() != spec.Cron {
				t.Errorf("String() = %q, want %q", s.String(), spec.Cron)
			}
			desc, err := Describe(spec, "app/task")
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.desc + " (UTC)"; desc != want {
				t.Errorf("Describe = %q, want %q", desc, want)
			}
		})
	}
}

// TestCrontabDayOfWeekRefused checks the day-of-week forms that stay
// refused: values above 7, ranges that wrap around the week, steps above 7.
func TestCrontabDayOfWeekRefused(t *testing.T) {
	t.Parallel()
	for dow, want := range map[string]string{
		"8":         `8 is above the maximum 7`,
		"5-8":       `8 is above the maximum 7`,
		"FRI-MON":   `range "FRI-MON" starts after it ends (ranges do not wrap around the week; as a list: 5-7,1)`,
		"SAT-TUE":   `range "SAT-TUE" starts after it ends (ranges do not wrap around the week; as a list: 6-7,1-2)`,
		"7-1":       `range "7-1" starts after it ends (ranges do not wrap around the week; as a list: 7,1)`,
		"*/8":       `step 8 is above the maximum 7`,
		"H(5-1)":    `range "5-1" starts after it ends (ranges do not wrap around the week; as a list: 5-7,1)`,
		"1-2-7":     `"1-2-7" has more than one -`,
		"Sunday":    `"Sunday" is not a day name`,
		"SUN-MON-7": `"SUN-MON-7" has more than one -`,
	} {
		t.Run(dow, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Spec{Cron: "0 0 * * " + dow}, "app/task")
			if err == nil {
				t.Fatalf("Parse = %q, want an error", s)
			}
			if want := "day-of-week: " + want; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestHashDayOfWeek checks that H in the day of week picks each of the
// seven days, never 7, and that H(0-7), which names Sunday twice, picks
// each day as often as H does.
func TestHashDayOfWeek(t *testing.T) {
	t.Parallel()
	keys := testKeys(7000)
	for _, cron := range []string{"0 0 * * H", "0 0 * * H(0-7)"} {
		t.Run(cron, func(t *testing.T) {
			t.Parallel()
			counts := make([]int, 7)
			for _, key := range keys {
				s, err := Parse(Spec{Cron: cron}, key)
				if err != nil {
					t.Fatal(err)
				}
				fields := strings.Fields(s.String())
				dow := fields[len(fields)-1]
				if len(dow) != 1 || dow < "0" || dow > "6" {
					t.Fatalf("key %q: %q resolves to %q", key, cron, s)
				}
				counts[dow[0]-'0']++
			}
			// Chi-square bound for 6 degrees of freedom, p = 0.001.
			if x := chiSquare(counts, len(keys)); x > 22.5 {
				t.Errorf("chi-square %.1f above 22.5: %v", x, counts)
			}
		})
	}
	// H(5-7) picks Friday, Saturday or Sunday, written 7.
	seen := map[string]bool{}
	for _, key := range testKeys(300) {
		s, err := Parse(Spec{Cron: "0 0 * * H(5-7)"}, key)
		if err != nil {
			t.Fatal(err)
		}
		seen[s.String()] = true
	}
	want := map[string]bool{"0 0 * * 5": true, "0 0 * * 6": true, "0 0 * * 7": true}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("H(5-7) resolves to %v, want %v", seen, want)
	}
}
