package web

import (
	"testing"
)

func TestDescribeCron(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "plain", req: req{method: "GET", path: "/api/v1/cron/describe?expr=7+*+*+*+*&n=2", token: "viewer"}, status: 200,
			contains: []string{`"description":"At minute 7 past every hour (UTC)"`, `"next":["2026-01-05T10:07:00Z","2026-01-05T11:07:00Z"]`}},
		{name: "timezone", req: req{method: "GET", path: "/api/v1/cron/describe?expr=0+9+*+*+*&tz=Europe/Berlin&n=1", token: "viewer"}, status: 200,
			contains: []string{`(Europe/Berlin)`, `"next":["2026-01-06T08:00:00Z"]`}},
		{name: "timezone as tasks.yaml names it", req: req{method: "GET", path: "/api/v1/cron/describe?expr=0+9+*+*+*&timezone=Europe/Berlin&n=1", token: "viewer"}, status: 200,
			contains: []string{`(Europe/Berlin)`, `"next":["2026-01-06T08:00:00Z"]`}},
		{name: "tz and timezone alike", req: req{method: "GET", path: "/api/v1/cron/describe?expr=0+9+*+*+*&tz=Europe/Berlin&timezone=Europe/Berlin&n=1", token: "viewer"}, status: 200,
			contains: []string{`(Europe/Berlin)`}},
		{name: "tz and timezone differ", req: req{method: "GET", path: "/api/v1/cron/describe?expr=0+9+*+*+*&tz=Europe/Berlin&timezone=UTC", token: "viewer"}, status: 400, field: "timezone"},
		{name: "H with a task", req: req{method: "GET", path: "/api/v1/cron/describe?expr=H/5+*+*+*+*&task=hello/greet", token: "viewer"}, status: 200, contains: []string{`"Every 5 minutes`}},
		{name: "no times", req: req{method: "GET", path: "/api/v1/cron/describe?expr=@daily&n=0", token: "viewer"}, status: 200, contains: []string{`"next":[]`}},
		{name: "bad field", req: req{method: "GET", path: "/api/v1/cron/describe?expr=0+25+*+*+*", token: "viewer"}, status: 400, field: "expr", contains: []string{"hour"}},
		{name: "too few fields", req: req{method: "GET", path: "/api/v1/cron/describe?expr=*+*", token: "viewer"}, status: 400, field: "expr"},
		{name: "no expr", req: req{method: "GET", path: "/api/v1/cron/describe", token: "viewer"}, status: 400, field: "expr"},
		{name: "bad tz", req: req{method: "GET", path: "/api/v1/cron/describe?expr=*+*+*+*+*&tz=Mars/Base", token: "viewer"}, status: 400, field: "tz"},
		{name: "bad task", req: req{method: "GET", path: "/api/v1/cron/describe?expr=*+*+*+*+*&task=nope", token: "viewer"}, status: 400, field: "task"},
		{name: "bad n", req: req{method: "GET", path: "/api/v1/cron/describe?expr=*+*+*+*+*&n=101", token: "viewer"}, status: 400, field: "n"},
		{name: "no token", req: req{method: "GET", path: "/api/v1/cron/describe?expr=*+*+*+*+*"}, status: 401},
	})
	// H resolves differently for different tasks.
	a := f.send(req{method: "GET", path: "/api/v1/cron/describe?expr=H+*+*+*+*&task=hello/a", token: "viewer"}).json(t)["description"]
	b := f.send(req{method: "GET", path: "/api/v1/cron/describe?expr=H+*+*+*+*&task=hello/b", token: "viewer"}).json(t)["description"]
	c := f.send(req{method: "GET", path: "/api/v1/cron/describe?expr=H+*+*+*+*&task=hello/c", token: "viewer"}).json(t)["description"]
	if a == b && b == c {
		t.Errorf("H took the same value for three tasks: %v", a)
	}
}
