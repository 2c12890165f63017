package schedule

import (
	"testing"
	"time"
)

// BenchmarkNext measures Next as the engine calls it: from the previous fire
// time, over two years (so DST changes are crossed), for the schedules of
// the package's performance target.
func BenchmarkNext(b *testing.B) {
	for _, bc := range []struct{ name, cron, tz string }{
		{"every-5-minutes", "*/5 * * * *", ""},
		{"H-H-daily", "H H * * *", ""},
		{"weekdays-9am-New-York", "0 9 * * MON-FRI", "America/New_York"},
		{"every-15-minutes-Berlin", "*/15 * * * *", "Europe/Berlin"},
		{"daily-2:30-Berlin", "30 2 * * *", "Europe/Berlin"},
		{"every-90s", "@every 90s", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Parse(Spec{Cron: bc.cron, Timezone: bc.tz}, "app/task")
			if err != nil {
				b.Fatal(err)
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			end := start.AddDate(2, 0, 0)
			at := start
			b.ReportAllocs()
			for b.Loop() {
				if at = s.Next(at); at.After(end) {
					at = start
				}
			}
		})
	}
}

// BenchmarkParse measures parsing with a shared Parser, as the engine does
// when it loads its tasks.
func BenchmarkParse(b *testing.B) {
	var p Parser
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(Spec{Cron: "H H * * MON-FRI", Timezone: "Europe/Berlin"}, "app/task"); err != nil {
			b.Fatal(err)
		}
	}
}
