package schedule_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/cronbox/cronbox/engine/schedule"
)

func ExampleParse() {
	s, err := schedule.Parse(schedule.Spec{Cron: "0 9 * * MON-FRI", Timezone: "Europe/Berlin"}, "reports/daily")
	if err != nil {
		panic(err)
	}
	// Friday 2026-01-30, noon UTC: the next fire is Monday at 09:00 in Berlin.
	now := time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC)
	fmt.Println(s.Next(now))
	// Output: 2026-02-02 09:00:00 +0100 CET
}

func ExampleParse_hash() {
	// H picks a stable value per task, so tasks sharing a schedule spread out.
	for _, key := range []string{"app/task", "billing/invoice"} {
		s, err := schedule.Parse(schedule.Spec{Cron: "H H * * *"}, key)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s\n", key, s)
	}
	// Output:
	// app/task: 28 21 * * *
	// billing/invoice: 23 23 * * *
}

func ExampleParse_error() {
	_, err := schedule.Parse(schedule.Spec{Cron: "0 25 * * *"}, "app/task")
	var pe *schedule.ParseError
	if errors.As(err, &pe) {
		fmt.Printf("%s | field %s, value %s | %t\n", err, pe.Field, pe.Value, errors.Is(err, schedule.ErrInvalid))
	}
	// Output: hour: 25 is above the maximum 23 | field hour, value 25 | true
}

func ExampleParse_once() {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, err := schedule.Parse(schedule.Spec{At: at}, "app/task")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Next(at.Add(-time.Hour)))
	fmt.Println(s.Next(at).IsZero())
	// Output:
	// 2026-12-01 10:00:00 +0000 UTC
	// true
}

func ExampleDescribe() {
	for _, spec := range []schedule.Spec{
		{Cron: "7 * * * *"},
		{Cron: "H/15 * * * *"},
		{Cron: "30 2 1 * SUN", Timezone: "Europe/Berlin"},
		{Cron: "@every 90s"},
		{At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
	} {
		text, err := schedule.Describe(spec, "app/task")
		if err != nil {
			panic(err)
		}
		fmt.Println(text)
	}
	// Output:
	// At minute 7 past every hour (UTC)
	// Every 15 minutes, starting at minute 7 (UTC)
	// At 02:30 on day 1 of the month and on Sunday (Europe/Berlin)
	// Every 90s
	// Once at 2026-12-01 10:00 (UTC)
}

func ExampleNextN() {
	// 02:30 does not exist in Berlin on 2026-03-29: the task fires at 03:00.
	s, err := schedule.Parse(schedule.Spec{Cron: "30 2 * * *", Timezone: "Europe/Berlin"}, "app/task")
	if err != nil {
		panic(err)
	}
	for _, t := range schedule.NextN(s, time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), 3) {
		fmt.Println(t)
	}
	// Output:
	// 2026-03-28 02:30:00 +0100 CET
	// 2026-03-29 03:00:00 +0200 CEST
	// 2026-03-30 02:30:00 +0200 CEST
}

func ExampleParser() {
	// The engine shares one Parser, which loads each time zone once.
	var p schedule.Parser
	for _, key := range []string{"app/a", "app/b"} {
		s, err := p.Parse(schedule.Spec{Cron: "H/20 * * * *", Timezone: "America/New_York"}, key)
		if err != nil {
			panic(err)
		}
		fmt.Println(key, s)
	}
	// Output:
	// app/a 13-59/20 * * * *
	// app/b 12-59/20 * * * *
}
