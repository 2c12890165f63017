package schedule

import (
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"minute past every hour", Spec{Cron: "7 * * * *"}, "At minute 7 past every hour (UTC)"},
		// "app/task" resolves H/15 to 7-59/15.
		{"H step", Spec{Cron: "H/15 * * * *"}, "Every 15 minutes, starting at minute 7 (UTC)"},
		{"step from zero", Spec{Cron: "*/15 * * * *"}, "Every 15 minutes (UTC)"},
		{"uneven step", Spec{Cron: "*/7 * * * *"}, "At every 7th minute past every hour (UTC)"},
		{"days or weekday", Spec{Cron: "30 2 1 * SUN", Timezone: "Europe/Berlin"},
			"At 02:30 on day 1 of the month and on Sunday (Europe/Berlin)"},
		{"every", Spec{Cron: "@every 90s"}, "Every 90s"},
		{"every as written", Spec{Cron: "@every 1h30m", Timezone: "Europe/Berlin"}, "Every 1h30m"},
		{"once", Spec{At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, "Once at 2026-12-01 10:00 (UTC)"},
		{"once in a zone", Spec{At: time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC), Timezone: "Europe/Berlin"},
			"Once at 2026-12-01 11:00:30 (Europe/Berlin)"},
		{"every minute", Spec{Cron: "* * * * *"}, "Every minute (UTC)"},
		{"every second", Spec{Cron: "* * * * * *"}, "Every second (UTC)"},
		{"every 10 seconds", Spec{Cron: "*/10 * * * * *"}, "Every 10 seconds (UTC)"},
		{"second of every minute", Spec{Cron: "30 * * * * *"}, "At second 30 past every minute (UTC)"},
		{"seconds of a time", Spec{Cron: "*/10 30 2 * * *"}, "At every 10th second past minute 30 past hour 2 (UTC)"},
		{"time with seconds", Spec{Cron: "15 30 2 * * *"}, "At 02:30:15 (UTC)"},
		{"weekdays", Spec{Cron: "0 9 * * MON-FRI"}, "At 09:00 on Monday through Friday (UTC)"},
		{"friday the 13th or", Spec{Cron: "0 0 13 * FRI"}, "At 00:00 on day 13 of the month and on Friday (UTC)"},
		{"several times", Spec{Cron: "0 0,6,12,18 * * *"}, "At 00:00, 06:00, 12:00 and 18:00 (UTC)"},
		{"every 2nd hour", Spec{Cron: "0 */2 * * *"}, "At minute 0 past every 2nd hour (UTC)"},
		{"hour range", Spec{Cron: "0 9-17 * * *"}, "At minute 0 past every hour from 9 through 17 (UTC)"},
		{"working hours", Spec{Cron: "*/5 9-17 * * 1-5"},
			"At every 5th minute past every hour from 9 through 17 on Monday through Friday (UTC)"},
		{"minute list", Spec{Cron: "0,15,45 * * * *"}, "At minutes 0, 15 and 45 past every hour (UTC)"},
		{"minute range", Spec{Cron: "0-29 * * * *"}, "At every minute from 0 through 29 past every hour (UTC)"},
		{"mixed list", Spec{Cron: "5,10-20/5 3 * * *"},
			"At minute 5 and every 5th minute from 10 through 20 past hour 3 (UTC)"},
		{"every minute of an hour", Spec{Cron: "* 2 * * *"}, "At every minute past hour 2 (UTC)"},
		{"days of the month", Spec{Cron: "0 0 1,15 * *"}, "At 00:00 on days 1 and 15 of the month (UTC)"},
		{"day range", Spec{Cron: "0 4 8-14 * *"}, "At 04:00 on every day from 8 through 14 of the month (UTC)"},
		{"stepped days and weekday", Spec{Cron: "0 0 */2 * MON"},
			"At 00:00 on every 2nd day of the month if it is a Monday (UTC)"},
		{"stepped weekdays", Spec{Cron: "0 0 * * */2"},
			"At 00:00 on Sunday, Tuesday, Thursday and Saturday (UTC)"},
		{"day and stepped weekdays", Spec{Cron: "0 0 1 * */3"},
			"At 00:00 on day 1 of the month if it is a Sunday, Wednesday or Saturday (UTC)"},
		{"months", Spec{Cron: "0 0 1 JAN-MAR,JUL *"},
			"At 00:00 on day 1 of the month in January through March and July (UTC)"},
		{"stepped months", Spec{Cron: "0 0 1 */3 *"},
			"At 00:00 on day 1 of the month in January, April, July and October (UTC)"},
		{"two weekdays as range", Spec{Cron: "0 0 * * FRI-SAT"}, "At 00:00 on Friday and Saturday (UTC)"},
		{"@yearly", Spec{Cron: "@yearly"}, "At 00:00 on day 1 of the month in January (UTC)"},
		{"@monthly", Spec{Cron: "@monthly"}, "At 00:00 on day 1 of the month (UTC)"},
		{"@weekly", Spec{Cron: "@weekly"}, "At 00:00 on Sunday (UTC)"},
		{"@daily", Spec{Cron: "@daily"}, "At 00:00 (UTC)"},
		{"@hourly", Spec{Cron: "@hourly"}, "At minute 0 past every hour (UTC)"},
		// "app/task" resolves H H to 28 21 and H(0-29)/10 to 4-29/10.
		{"H", Spec{Cron: "H H * * *", Timezone: "America/New_York"}, "At 21:28 (America/New_York)"},
		{"H range step", Spec{Cron: "H(0-29)/10 * * * *"},
			"At every 10th minute from 4 through 24 past every hour (UTC)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Describe(tt.spec, "app/task")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Describe(%+v)\n got %q\nwant %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestOrdinal(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th",
		12: "12th", 13: "13th", 21: "21st", 22: "22nd", 23: "23rd", 30: "30th", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}
