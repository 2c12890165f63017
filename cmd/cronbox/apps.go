package main

import (
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
)

// loadOptions are the options the engine loads apps with: schedules are
// checked by the scheduler's parser.
func loadOptions() app.Options {
	return app.Options{ValidateSchedule: func(spec app.ScheduleSpec, key string) error {
		_, err := schedule.Parse(schedule.Spec{Cron: spec.Cron, Timezone: spec.Timezone, At: spec.At}, key)
		return err
	}}
}
