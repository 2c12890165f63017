package schedule

import (
	"fmt"
	"testing"
	"time"
)

// testKeys returns n task keys shaped like real ones, which differ only in
// a few characters: "app-0/task-0", "app-0/task-1", ….
func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("app-%d/task-%d", i/100, i%100)
	}
	return keys
}

// chiSquare returns Pearson's statistic of counts against a uniform
// distribution.
func chiSquare(counts []int, total int) float64 {
	want := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - want
		x += d * d / want
	}
	return x
}

// TestHashSpread checks that H spreads 10,000 keys uniformly. The bounds are
// the chi-square critical values for p = 0.001 (the key set is fixed, so
// the test is deterministic; a hash that clusters fails by far).
func TestHashSpread(t *testing.T) {
	t.Parallel()
	keys := testKeys(10000)
	tests := []struct {
		name  string
		cron  string
		value func(c *cronSchedule) int // the bucket of a parsed schedule
		n     int                       // number of buckets
		bound float64
	}{{
		name: "minute", cron: "H * * * *",
		value: func(c *cronSchedule) int { return lowest(c.minute) },
		n:     60, bound: 98.3,
	}, {
		name: "hour", cron: "0 H * * *",
		value: func(c *cronSchedule) int { return lowest(c.hour) },
		n:     24, bound: 49.7,
	}, {
		name: "day of month", cron: "0 0 H * *",
		value: func(c *cronSchedule) int { return lowest(uint64(c.dom)) - 1 },
		n:     28, bound: 55.5,
	}, {
		name: "step offset", cron: "H/15 * * * *",
		value: func(c *cronSchedule) int { return lowest(c.minute) },
		n:     15, bound: 36.1,
	}, {
		name: "range", cron: "H(10-19) * * * *",
		value: func(c *cronSchedule) int { return lowest(c.minute) - 10 },
		n:     10, bound: 27.9,
	}, {
		// Minute and hour together: 1,440 cells, so fields of one task
		// must not be tied to each other (bound: normal approximation).
		name: "minute and hour", cron: "H H * * *",
		value: func(c *cronSchedule) int { return lowest(c.hour)*60 + lowest(c.minute) },
		n:     1440, bound: 1605,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			counts := make([]int, tt.n)
			for _, key := range keys {
				s, err := Parse(Spec{Cron: tt.cron}, key)
				if err != nil {
					t.Fatal(err)
				}
				counts[tt.value(s.(*cronSchedule))]++
			}
			x := chiSquare(counts, len(keys))
			t.Logf("chi-square %.1f over %d buckets", x, tt.n)
			if x > tt.bound {
				t.Errorf("chi-square %.1f above %.1f: %v", x, tt.bound, counts)
			}
		})
	}

	t.Run("@every phase", func(t *testing.T) {
		t.Parallel()
		counts := make([]int, 90)
		for _, key := range keys {
			s, err := Parse(Spec{Cron: "@every 90s"}, key)
			if err != nil {
				t.Fatal(err)
			}
			counts[s.(*everySchedule).phase]++
		}
		if x := chiSquare(counts, len(keys)); x > 122.9 {
			t.Errorf("chi-square %.1f above 122.9: %v", x, counts)
		}
	})
}

// lowest returns the smallest value in the bit set m.
func lowest(m uint64) int {
	for v := range 64 {
		if m&(1<<v) != 0 {
			return v
		}
	}
	return -1
}

// TestHashStable checks that a key always gets the same values, whatever
// else is parsed in between, and the same as in a five-field expression
// when a seconds field is added.
func TestHashStable(t *testing.T) {
	t.Parallel()
	for _, key := range testKeys(100) {
		first, err := Parse(Spec{Cron: "H H H * H"}, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(Spec{Cron: "H H H * H"}, key+"x"); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(Spec{Cron: "H H H * H", Timezone: "Europe/Berlin"}, key)
		if err != nil {
			t.Fatal(err)
		}
		withSeconds, err := Parse(Spec{Cron: "0 H H H * H"}, key)
		if err != nil {
			t.Fatal(err)
		}
		if first.String() != again.String() || "0 "+first.String() != withSeconds.String() {
			t.Fatalf("key %q: %q, %q and %q differ", key, first, again, withSeconds)
		}
	}
	from := time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC)
	a, errA := Parse(Spec{Cron: "@every 1h"}, "app/task")
	b, errB := Parse(Spec{Cron: "@every 1h"}, "app/task")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !a.Next(from).Equal(b.Next(from)) {
		t.Errorf("@every phase differs for one key: %v, %v", a.Next(from), b.Next(from))
	}
}
