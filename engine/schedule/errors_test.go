package schedule

import (
	"errors"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		spec  Spec
		field string
		value string
		text  string
	}{
		{"too few fields", Spec{Cron: "* * * *"}, "", "* * * *",
			`expected 5 or 6 fields, found 4 in "* * * *"`},
		{"too many fields", Spec{Cron: "0 0 0 * * * 2026"}, "", "0 0 0 * * * 2026",
			`expected 5 or 6 fields, found 7 in "0 0 0 * * * 2026"`},
		{"hour above maximum", Spec{Cron: "0 25 * * *"}, "hour", "25",
			`hour: 25 is above the maximum 23`},
		{"minute above maximum", Spec{Cron: "60 * * * *"}, "minute", "60",
			`minute: 60 is above the maximum 59`},
		{"second above maximum", Spec{Cron: "61 * * * * *"}, "second", "61",
			`second: 61 is above the maximum 59`},
		{"day of month zero", Spec{Cron: "0 0 0 * *"}, "day-of-month", "0",
			`day-of-month: 0 is below the minimum 1`},
		{"month thirteen", Spec{Cron: "0 0 1 13 *"}, "month", "13",
			`month: 13 is above the maximum 12`},
		{"huge number", Spec{Cron: "99999999999999999999 * * * *"}, "minute", "99999999999999999999",
			`minute: 99999999999999999999 is above the maximum 59`},
		{"day name", Spec{Cron: "0 0 * * FUNDAY"}, "day-of-week", "FUNDAY",
			`day-of-week: "FUNDAY" is not a day name`},
		{"full day name", Spec{Cron: "0 0 * * Monday"}, "day-of-week", "Monday",
			`day-of-week: "Monday" is not a day name`},
		{"month name", Spec{Cron: "0 0 1 FOO *"}, "month", "FOO",
			`month: "FOO" is not a month name`},
		{"day name in months", Spec{Cron: "0 0 1 MON *"}, "month", "MON",
			`month: "MON" is not a month name`},
		{"name in a numeric field", Spec{Cron: "0 JAN * * *"}, "hour", "JAN",
			`hour: "JAN" is not a number`},
		{"day of week eight", Spec{Cron: "0 0 * * 8"}, "day-of-week", "8",
			`day-of-week: 8 is above the maximum 7`},
		{"negative", Spec{Cron: "-5 * * * *"}, "minute", "-5",
			`minute: "-5" is missing a value`},
		{"open range", Spec{Cron: "5- * * * *"}, "minute", "5-",
			`minute: range "5-" is missing its end`},
		{"backwards range", Spec{Cron: "30-10 * * * *"}, "minute", "30-10",
			`minute: range "30-10" starts after it ends`},
		{"wrapping day range", Spec{Cron: "0 0 * * FRI-MON"}, "day-of-week", "FRI-MON",
			`day-of-week: range "FRI-MON" starts after it ends (ranges do not wrap around the week; as a list: 5-7,1)`},
		{"two hyphens", Spec{Cron: "1-2-3 * * * *"}, "minute", "1-2-3",
			`minute: "1-2-3" has more than one -`},
		{"star range", Spec{Cron: "*-5 * * * *"}, "minute", "*",
			`minute: "*" is not a number`},
		{"step zero", Spec{Cron: "*/0 * * * *"}, "minute", "0",
			`minute: step 0 must be at least 1`},
		{"step too large", Spec{Cron: "*/75 * * * *"}, "minute", "75",
			`minute: step 75 is above the maximum 60`},
		{"step not a number", Spec{Cron: "*/x * * * *"}, "minute", "x",
			`minute: step "x" is not a number`},
		{"two slashes", Spec{Cron: "*/5/2 * * * *"}, "minute", "*/5/2",
			`minute: "*/5/2" has more than one /`},
		{"missing step", Spec{Cron: "*/ * * * *"}, "minute", "",
			`minute: step "" is not a number`},
		{"empty list element", Spec{Cron: "1,,2 * * * *"}, "minute", "1,,2",
			`minute: "1,,2" has an empty list element`},
		{"L", Spec{Cron: "0 0 L * *"}, "day-of-month", "L",
			`day-of-month: "L" is not a number`},
		{"lower-case h", Spec{Cron: "h * * * *"}, "minute", "h",
			`minute: "h" is not a number`},
		{"H without range", Spec{Cron: "H(5) * * * *"}, "minute", "H(5)",
			`minute: "H(5)" is not H or H(low-high)`},
		{"H unclosed", Spec{Cron: "H(0-29 * * * *"}, "minute", "H(0-29",
			`minute: "H(0-29" is not H or H(low-high)`},
		{"H range above maximum", Spec{Cron: "0 H(0-30) * * *"}, "hour", "30",
			`hour: 30 is above the maximum 23`},
		{"H step zero", Spec{Cron: "H/0 * * * *"}, "minute", "0",
			`minute: step 0 must be at least 1`},
		{"30 February", Spec{Cron: "0 0 30 2 *"}, "day-of-month", "30",
			`day-of-month: "30" never occurs in month "2"`},
		{"31 in short months", Spec{Cron: "0 0 31 APR,JUN *"}, "day-of-month", "31",
			`day-of-month: "31" never occurs in month "APR,JUN"`},
		{"unknown descriptor", Spec{Cron: "@fortnightly"}, "", "@fortnightly",
			`"@fortnightly" is not a descriptor (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)`},
		{"descriptor argument", Spec{Cron: "@daily 5"}, "", "@daily 5",
			`@daily takes no arguments`},
		{"every below a second", Spec{Cron: "@every 500ms"}, "@every", "500ms",
			`@every: duration 500ms is below 1s`},
		{"every negative", Spec{Cron: "@every -5m"}, "@every", "-5m",
			`@every: duration -5m is below 1s`},
		{"every fraction", Spec{Cron: "@every 1.5s"}, "@every", "1.5s",
			`@every: duration 1.5s is not a whole number of seconds`},
		{"every not a duration", Spec{Cron: "@every 5x"}, "@every", "5x",
			`@every: "5x" is not a duration, e.g. 90s or 1h30m`},
		{"every without duration", Spec{Cron: "@every"}, "@every", "",
			`@every: missing duration, e.g. @every 90s`},
		{"time zone prefix", Spec{Cron: "CRON_TZ=Europe/Berlin 0 9 * * *"}, "", "CRON_TZ=Europe/Berlin",
			`"CRON_TZ=Europe/Berlin": set the time zone in the schedule's timezone instead`},
		{"unknown time zone", Spec{Cron: "0 9 * * *", Timezone: "Mars/Olympus"}, "timezone", "Mars/Olympus",
			`timezone: "Mars/Olympus" is not a known IANA time zone`},
		{"local time zone", Spec{Cron: "0 9 * * *", Timezone: "Local"}, "timezone", "Local",
			`timezone: "Local" depends on the host; use an IANA name such as Europe/Berlin`},
		{"empty", Spec{}, "", "", `missing cron or at`},
		{"blank", Spec{Cron: "  "}, "", "", `missing cron or at`},
		{"both cron and at", Spec{Cron: "0 9 * * *", At: at}, "", "0 9 * * *",
			`set either cron or at, not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.spec, "app/task")
			if err == nil {
				t.Fatalf("Parse(%+v) = %q, want an error", tt.spec, s)
			}
			if got := err.Error(); got != tt.text {
				t.Errorf("error %q, want %q", got, tt.text)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Field != tt.field || pe.Value != tt.value {
				t.Errorf("Field, Value = %q, %q; want %q, %q", pe.Field, pe.Value, tt.field, tt.value)
			}
			if _, derr := Describe(tt.spec, "app/task"); derr == nil || derr.Error() != err.Error() {
				t.Errorf("Describe error %v, want %v", derr, err)
			}
		})
	}
}

// TestParseAccepts checks forms that are valid although unusual.
func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, cron, str string }{
		{"leading zeros", "05 09 * * *", "05 09 * * *"},
		{"lower-case names", "0 0 * jan-mar mon-fri", "0 0 * jan-mar mon-fri"},
		{"question mark anywhere", "? ? ? ? ?", "? ? ? ? ?"},
		{"extra spaces", "  0   9\t* * *  ", "0 9 * * *"},
		{"star step one", "*/1 * * * *", "*/1 * * * *"},
		{"single-value range", "5-5 * * * *", "5-5 * * * *"},
		{"step beyond the range", "0-5/10 * * * *", "0-5/10 * * * *"},
		{"whole field step", "*/60 * * * *", "*/60 * * * *"},
		{"upper-case descriptor", "@DAILY", "@daily"},
		{"leap day", "0 0 29 2 *", "0 0 29 2 *"},
		{"30 February or Mondays", "0 0 30 2 MON", "0 0 30 2 MON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Spec{Cron: tt.cron}, "app/task")
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tt.str {
				t.Errorf("String() = %q, want %q", s.String(), tt.str)
			}
		})
	}
}
