package web

import (
	"strings"
	"testing"
)

func TestListTasks(t *testing.T) {
	f := newFixture(t)
	f.trigger("hello", "greet", "")
	f.idle()
	f.run(t, []check{
		{name: "all", req: req{method: "GET", path: "/api/v1/tasks", token: "viewer"}, status: 200,
			contains: []string{`"total":4`, `"name":"greet"`, `"name":"job"`, `"scheduleText":"Every 5 minutes`, `"cron":"H/5 * * * *","timezone":"UTC"`,
				`"recent":[{"id":1,"status":"succeeded"`, `"lastStatus":"succeeded"`, `"tags":["greeting"]`}},
		{name: "by app", req: req{method: "GET", path: "/api/v1/tasks?app=other", token: "viewer"}, status: 200, contains: []string{`"total":1`, `"job"`}, absent: []string{`"greet"`}},
		{name: "by tag", req: req{method: "GET", path: "/api/v1/tasks?tag=greeting", token: "viewer"}, status: 200, contains: []string{`"total":2`}},
		{name: "by text", req: req{method: "GET", path: "/api/v1/tasks?q=ECHOES", token: "viewer"}, status: 200, contains: []string{`"total":1`, `"echo"`}},
		{name: "by status", req: req{method: "GET", path: "/api/v1/tasks?status=enabled", token: "viewer"}, status: 200, contains: []string{`"total":4`}},
		{name: "by status disabled", req: req{method: "GET", path: "/api/v1/tasks?status=disabled", token: "viewer"}, status: 200, contains: []string{`"total":0`, `"tasks":[]`}},
		{name: "paged", req: req{method: "GET", path: "/api/v1/tasks?limit=1&after=0:hello/echo", token: "viewer"}, status: 200, contains: []string{`"total":4`, `"name":"greet"`, `"next":"0:hello/greet"`}, absent: []string{`"name":"echo"`}},
		{name: "first page", req: req{method: "GET", path: "/api/v1/tasks?limit=1", token: "viewer"}, status: 200, contains: []string{`"total":4`, `"name":"echo"`, `"next":"0:hello/echo"`}},
		{name: "last page", req: req{method: "GET", path: "/api/v1/tasks?after=0:other/job", token: "viewer"}, status: 200, contains: []string{`"total":4`, `"tasks":[]`, `"next":null`}},
		{name: "by app/task", req: req{method: "GET", path: "/api/v1/tasks?q=LLO/gr", token: "viewer"}, status: 200, contains: []string{`"total":1`, `"greet"`}},
		{name: "by tag text", req: req{method: "GET", path: "/api/v1/tasks?q=greeti", token: "viewer"}, status: 200, contains: []string{`"total":2`}},
		{name: "sorted by next", req: req{method: "GET", path: "/api/v1/tasks?sort=next&limit=1", token: "viewer"}, status: 200, contains: []string{`"name":"greet"`, `"total":4`}},
		{name: "sorted by name reversed", req: req{method: "GET", path: "/api/v1/tasks?sort=-name&limit=1", token: "viewer"}, status: 200, contains: []string{`"name":"job"`, `"next":"0:other/job"`}},
		{name: "sorted by status", req: req{method: "GET", path: "/api/v1/tasks?sort=status&limit=1", token: "viewer"}, status: 200, contains: []string{`"name":"greet"`}},
		{name: "bad sort", req: req{method: "GET", path: "/api/v1/tasks?sort=size", token: "viewer"}, status: 400, field: "sort"},
		{name: "bad cursor", req: req{method: "GET", path: "/api/v1/tasks?after=7", token: "viewer"}, status: 400, field: "after"},
		{name: "bad limit", req: req{method: "GET", path: "/api/v1/tasks?limit=0", token: "viewer"}, status: 400, field: "limit"},
		{name: "limit too large", req: req{method: "GET", path: "/api/v1/tasks?limit=1001", token: "viewer"}, status: 400, field: "limit"},
		{name: "limit not a number", req: req{method: "GET", path: "/api/v1/tasks?limit=ten", token: "viewer"}, status: 400, field: "limit"},
		{name: "bad status", req: req{method: "GET", path: "/api/v1/tasks?status=sleepy", token: "viewer"}, status: 400, field: "status"},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/tasks?offset=1", token: "viewer"}, status: 400, field: "offset"},
		{name: "repeated parameter", req: req{method: "GET", path: "/api/v1/tasks?app=a&app=b", token: "viewer"}, status: 400, field: "app"},
		{name: "no token", req: req{method: "GET", path: "/api/v1/tasks"}, status: 401},
		{name: "scoped", req: req{method: "GET", path: "/api/v1/tasks", token: "scoped"}, status: 200, contains: []string{`"total":3`}, absent: []string{`"job"`, `"other"`}},
		{name: "scoped asks for another app", req: req{method: "GET", path: "/api/v1/tasks?app=other", token: "scoped"}, status: 200, contains: []string{`"total":0`}},
	})
}

func TestGetTask(t *testing.T) {
	f := newFixture(t)
	f.trigger("hello", "echo", `{"x":1}`)
	f.idle()
	f.run(t, []check{
		{name: "detail", req: req{method: "GET", path: "/api/v1/tasks/hello/echo", token: "viewer"}, status: 200,
			contains: []string{`"module":"tasks/echo.wasm"`, `"environment":{"GREETING":"hi"}`, `"concurrency":"forbid"`, `"misfire":"skip"`,
				`"lastRun":{"id":1`, `"overridden":[]`, `"nextTimes":[]`, `"retry":null`, `"termination":{"maxRuntimeMs":60000`, `"limits":{"memory":67108864`}},
		{name: "next times", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "viewer"}, status: 200,
			contains: []string{`"next":"2026-01-05T10:0`, `"nextTimes":["2026-01-05T10:0`}},
		{name: "unknown task", req: req{method: "GET", path: "/api/v1/tasks/hello/nope", token: "viewer"}, status: 404},
		{name: "unknown app", req: req{method: "GET", path: "/api/v1/tasks/nope/greet", token: "viewer"}, status: 404},
		{name: "no token", req: req{method: "GET", path: "/api/v1/tasks/hello/greet"}, status: 401},
		{name: "scoped own app", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "scoped"}, status: 200},
		{name: "scoped other app", req: req{method: "GET", path: "/api/v1/tasks/other/job", token: "scoped"}, status: 404, absent: []string{"job"}},
	})
}

func TestPatchTask(t *testing.T) {
	f := newFixture(t)
	big := `{"environment":{"A":"` + strings.Repeat("x", maxBody) + `"}}`
	f.run(t, []check{
		{name: "schedule", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":"30 12 * * *"}`}, status: 200,
			contains: []string{`"cron":"30 12 * * *"`, `"overridden":["schedule"]`, `"nextTimes":["2026-01-05T12:30:00Z","2026-01-06T12:30:00Z"`}},
		{name: "schedule object", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":{"cron":"0 9 * * *","timezone":"Europe/Berlin"}}`}, status: 200,
			contains: []string{`"timezone":"Europe/Berlin"`, `"next":"2026-01-06T08:00:00Z"`}},
		{name: "schedule reset", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":null}`}, status: 200,
			contains: []string{`"cron":"H/5 * * * *"`}},
		{name: "no schedule", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":""}`}, status: 200,
			contains: []string{`"schedule":null`, `"next":null`}},
		{name: "environment and enabled", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"environment":{"GREETING":"hey","NEW":"1"},"enabled":false}`}, status: 200,
			contains: []string{`"GREETING":"hey"`, `"NEW":"1"`, `"enabled":false`}},
		{name: "environment reset", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"environment":null,"enabled":true}`}, status: 200,
			contains: []string{`"environment":{"GREETING":"hi"}`, `"enabled":true`}},
		{name: "bad cron", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":"61 * * * *"}`}, status: 422, field: "schedule", contains: []string{"minute"}},
		{name: "bad timezone", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":{"cron":"* * * * *","timezone":"Mars/Olympus"}}`}, status: 422, field: "schedule"},
		{name: "schedule of the wrong kind", req: req{method: "PATCH", path: "/api/v1/tasks/hello/greet", token: "admin", body: `{"schedule":[1]}`}, status: 400, field: "schedule"},
		{name: "bad variable name", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"environment":{"1X":"a"}}`}, status: 422, field: "environment"},
		{name: "variable not a string", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"environment":{"X":1}}`}, status: 400, field: "environment"},
		{name: "enabled null", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"enabled":null}`}, status: 400, field: "enabled"},
		{name: "nothing to change", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{}`}, status: 400},
		{name: "unknown field", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"enabeld":true}`}, status: 400, field: "enabeld"},
		{name: "trailing data", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"enabled":true} {}`}, status: 400},
		{name: "not JSON", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `enabled=true`, contentType: "text/plain"}, status: 415},
		{name: "broken JSON", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: `{"enabled":`}, status: 400},
		{name: "too large", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: big}, status: 413},
		{name: "empty body", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin"}, status: 400},
		{name: "unknown task", req: req{method: "PATCH", path: "/api/v1/tasks/hello/nope", token: "admin", body: `{"enabled":true}`}, status: 404},
		{name: "no token", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", body: `{"enabled":true}`}, status: 401},
		{name: "operator", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "operator", body: `{"enabled":true}`}, status: 403},
		{name: "viewer", req: req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "viewer", body: `{"enabled":true}`}, status: 403},
		{name: "scoped other app", req: req{method: "PATCH", path: "/api/v1/tasks/other/job", token: "scoped", body: `{"enabled":false}`}, status: 404},
	})
	if info, _ := f.eng.Task("other", "job"); !info.Task.Enabled {
		t.Error("a scoped token disabled another app's task")
	}
}

func TestCreateTask(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "custom", req: req{method: "POST", path: "/api/v1/tasks", token: "admin",
			body: `{"app":"hello","name":"again","description":"Greets again","schedule":"0 * * * *","module":"tasks/greet.wasm","environment":{"A":"b"},"enabled":true}`},
			status: 201, contains: []string{`"custom":true`, `"name":"again"`, `"next":"2026-01-05T11:00:00Z"`, `"environment":{"A":"b"}`}},
		{name: "listed", req: req{method: "GET", path: "/api/v1/tasks?app=hello", token: "viewer"}, status: 200, contains: []string{`"total":4`, `"again"`}},
		{name: "custom patched", req: req{method: "PATCH", path: "/api/v1/tasks/hello/again", token: "admin", body: `{"schedule":"45 * * * *","enabled":false}`}, status: 200,
			contains: []string{`"custom":true`, `"cron":"45 * * * *"`, `"enabled":false`}},
		{name: "exists", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"again","module":"tasks/greet.wasm"}`}, status: 409},
		{name: "name of the file", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"greet"}`}, status: 409},
		{name: "missing module", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"ghost","module":"tasks/ghost.wasm"}`}, status: 422},
		{name: "bad cron", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"late","schedule":"* * * *","module":"tasks/greet.wasm"}`}, status: 422, field: "schedule"},
		{name: "no name", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello"}`}, status: 400, field: "name"},
		{name: "bad name", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"../x"}`}, status: 400, field: "name"},
		{name: "no app", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"name":"x"}`}, status: 400, field: "app"},
		{name: "unknown app", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"nope","name":"x"}`}, status: 404},
		{name: "unknown field", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"x","command":"rm"}`}, status: 400, field: "command"},
		{name: "wrong type", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"x","enabled":"yes"}`}, status: 400, field: "enabled"},
		{name: "no token", req: req{method: "POST", path: "/api/v1/tasks", body: `{"app":"hello","name":"x"}`}, status: 401},
		{name: "operator", req: req{method: "POST", path: "/api/v1/tasks", token: "operator", body: `{"app":"hello","name":"x"}`}, status: 403},
		{name: "scoped other app", req: req{method: "POST", path: "/api/v1/tasks", token: "scoped", body: `{"app":"other","name":"x","module":"tasks/job.wasm"}`}, status: 404},
		{name: "scoped own app", req: req{method: "POST", path: "/api/v1/tasks", token: "scoped", body: `{"app":"hello","name":"mine","module":"tasks/greet.wasm"}`}, status: 201},
	})
}

func TestDeleteTask(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "create", req: req{method: "POST", path: "/api/v1/tasks", token: "admin", body: `{"app":"hello","name":"extra","module":"tasks/greet.wasm"}`}, status: 201},
		{name: "viewer", req: req{method: "DELETE", path: "/api/v1/tasks/hello/greet", token: "viewer"}, status: 403},
		{name: "operator", req: req{method: "DELETE", path: "/api/v1/tasks/hello/greet", token: "operator"}, status: 403},
		{name: "no token", req: req{method: "DELETE", path: "/api/v1/tasks/hello/greet"}, status: 401},
		{name: "scoped other app", req: req{method: "DELETE", path: "/api/v1/tasks/other/job", token: "scoped"}, status: 404},
		{name: "file task", req: req{method: "DELETE", path: "/api/v1/tasks/hello/greet", token: "admin"}, status: 204},
		{name: "custom task", req: req{method: "DELETE", path: "/api/v1/tasks/hello/extra", token: "admin"}, status: 204},
		{name: "gone", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "admin"}, status: 404},
		{name: "custom gone", req: req{method: "GET", path: "/api/v1/tasks/hello/extra", token: "admin"}, status: 404},
		{name: "again", req: req{method: "DELETE", path: "/api/v1/tasks/hello/greet", token: "admin"}, status: 404},
		{name: "other untouched", req: req{method: "GET", path: "/api/v1/tasks/other/job", token: "admin"}, status: 200},
	})
}

func TestTriggerTask(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "no body", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/trigger", token: "operator"}, status: 202,
			contains: []string{`"app":"hello"`, `"task":"greet"`, `"trigger":"manual"`, `"user":"token:operator"`}},
		{name: "input", req: req{method: "POST", path: "/api/v1/tasks/hello/echo/trigger", token: "operator", body: `{"input":{"n":42}}`}, status: 202},
		{name: "unknown field", req: req{method: "POST", path: "/api/v1/tasks/hello/echo/trigger", token: "operator", body: `{"inptu":1}`}, status: 400, field: "inptu"},
		{name: "not JSON", req: req{method: "POST", path: "/api/v1/tasks/hello/echo/trigger", token: "operator", body: `x`, contentType: "text/plain"}, status: 415},
		{name: "curl -d", req: req{method: "POST", path: "/api/v1/tasks/hello/echo/trigger", token: "operator", body: `{}`, contentType: "application/x-www-form-urlencoded"}, status: 415,
			contains: []string{`the header \"Content-Type: application/json\"`, `not \"application/x-www-form-urlencoded\"`}},
		{name: "unknown task", req: req{method: "POST", path: "/api/v1/tasks/hello/nope/trigger", token: "operator"}, status: 404},
		{name: "viewer", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/trigger", token: "viewer"}, status: 403},
		{name: "no token", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/trigger"}, status: 401},
		{name: "scoped other app", req: req{method: "POST", path: "/api/v1/tasks/other/job/trigger", token: "scoped"}, status: 404},
	})
	f.idle()
	f.run(t, []check{
		{name: "recorded input and result", req: req{method: "GET", path: "/api/v1/runs?task=echo", token: "viewer"}, status: 200, contains: []string{`"status":"succeeded"`}},
	})
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	f.run(t, []check{
		{name: "busy", req: req{method: "POST", path: "/api/v1/tasks/hello/spin/trigger", token: "operator"}, status: 409},
	})
	if err := f.eng.Cancel(t.Context(), spin); err != nil {
		t.Fatal(err)
	}
	f.idle()
}

func TestEnableDisableTask(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "disable", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", token: "operator"}, status: 200, contains: []string{`"enabled":false`, `"next":null`}},
		{name: "disabled listed", req: req{method: "GET", path: "/api/v1/tasks?status=disabled", token: "viewer"}, status: 200, contains: []string{`"total":1`, `"greet"`}},
		{name: "enable", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/enable", token: "operator"}, status: 200, contains: []string{`"enabled":true`, `"next":"2026`}},
		{name: "body ignored", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/enable", token: "operator", body: `{"x":1}`}, status: 200},
		{name: "unknown task", req: req{method: "POST", path: "/api/v1/tasks/hello/nope/enable", token: "operator"}, status: 404},
		{name: "viewer", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable", token: "viewer"}, status: 403},
		{name: "no token", req: req{method: "POST", path: "/api/v1/tasks/hello/greet/disable"}, status: 401},
		{name: "scoped other app", req: req{method: "POST", path: "/api/v1/tasks/other/job/disable", token: "scoped"}, status: 404},
	})
	if info, _ := f.eng.Task("other", "job"); !info.Task.Enabled {
		t.Error("a scoped token disabled another app's task")
	}
}

func TestSummary(t *testing.T) {
	f := newFixture(t)
	f.trigger("other", "job", "")
	f.idle()
	if err := f.eng.SetEnabled(t.Context(), "hello", "greet", false); err != nil {
		t.Fatal(err)
	}
	f.run(t, []check{
		{name: "all", req: req{method: "GET", path: "/api/v1/summary", token: "viewer"}, status: 200,
			contains: []string{`"tasksEnabled":3`, `"tasksDisabled":1`, `"running":0`, `"queued":0`, `"failures24h":0`}},
		{name: "scoped", req: req{method: "GET", path: "/api/v1/summary", token: "scoped"}, status: 200, contains: []string{`"tasksEnabled":2`, `"tasksDisabled":1`}},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/summary?x=1", token: "viewer"}, status: 400, field: "x"},
		{name: "no token", req: req{method: "GET", path: "/api/v1/summary"}, status: 401},
	})
}

func TestBulkEnable(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "neither", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{}`}, status: 400},
		{name: "both", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"tasks":[],"filter":{}}`}, status: 400},
		{name: "not app/task", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"tasks":["greet"]}`}, status: 400, field: "tasks"},
		{name: "unknown task", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"tasks":["hello/nope"]}`}, status: 404, field: "tasks"},
		{name: "bad status", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"filter":{"status":"sleepy"}}`}, status: 400, field: "filter.status"},
		{name: "viewer", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "viewer", body: `{"tasks":["hello/greet"]}`}, status: 403},
		{name: "scoped names another app's task", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "scoped", body: `{"tasks":["other/job"]}`}, status: 404, field: "tasks"},
		{name: "by name", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"tasks":["hello/greet","hello/echo"]}`}, status: 200,
			contains: []string{`{"changed":["hello/greet","hello/echo"]}`}},
		{name: "again changes nothing", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "operator", body: `{"tasks":["hello/greet"]}`}, status: 200, contains: []string{`{"changed":[]}`}},
		{name: "disabled", req: req{method: "GET", path: "/api/v1/tasks?status=disabled", token: "viewer"}, status: 200, contains: []string{`"total":2`}},
		{name: "scoped filter of every task reaches its app only", req: req{method: "POST", path: "/api/v1/tasks/disable", token: "scoped", body: `{"filter":{}}`}, status: 200,
			contains: []string{`{"changed":["hello/spin"]}`}},
		{name: "other app untouched", req: req{method: "GET", path: "/api/v1/tasks/other/job", token: "viewer"}, status: 200, contains: []string{`"enabled":true`}},
		{name: "enable by filter", req: req{method: "POST", path: "/api/v1/tasks/enable", token: "operator", body: `{"filter":{"q":"hello/"}}`}, status: 200,
			contains: []string{`{"changed":["hello/echo","hello/greet","hello/spin"]}`}},
		{name: "enabled again", req: req{method: "GET", path: "/api/v1/tasks?status=enabled", token: "viewer"}, status: 200, contains: []string{`"total":4`}},
		{name: "audited", req: req{method: "GET", path: "/api/v1/audit?app=hello", token: "admin"}, status: 200, contains: []string{`"action":"task.disable"`, `"action":"task.enable"`}},
	})
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{
		{"Weather", "ATH", true}, {"weather", "", true}, {"Ümlaut", "üml", true}, {"report", "ports", false}, {"ab", "abc", false}, {"a-b", "A-B", true},
	} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}

// TestPatchTaskFields edits each field an override may set, resets it to
// the file's, and gives each a bad value, refused with the message
// config/tasks.yaml gets for it.
func TestPatchTaskFields(t *testing.T) {
	f := newFixture(t)
	patch := func(body string) req {
		return req{method: "PATCH", path: "/api/v1/tasks/hello/echo", token: "admin", body: body}
	}
	f.run(t, []check{
		{name: "termination", req: patch(`{"termination":{"maxRuntime":"30s","maxFailures":3}}`), status: 200,
			contains: []string{`"overridden":["termination"]`, `"termination":{"maxRuntimeMs":30000,"killOnTimeout":true,"maxFailures":3`}},
		{name: "termination reset", req: patch(`{"termination":null}`), status: 200,
			contains: []string{`"overridden":[]`, `"termination":{"maxRuntimeMs":60000`}},
		{name: "limits", req: patch(`{"limits":{"memory":"32MiB","logs":"1KiB"}}`), status: 200,
			contains: []string{`"overridden":["limits"]`, `"limits":{"memory":33554432,"output":`, `"logs":1024}`}},
		{name: "retry too", req: patch(`{"retry":{"max":2,"backoff":"5s"}}`), status: 200,
			contains: []string{`"overridden":["limits","retry"]`, `"retry":{"max":2,"backoffMs":5000}`}},
		{name: "limits reset, retry kept", req: patch(`{"limits":null}`), status: 200,
			contains: []string{`"overridden":["retry"]`, `"limits":{"memory":67108864`}},
		{name: "retry reset", req: patch(`{"retry":null}`), status: 200, contains: []string{`"overridden":[]`, `"retry":null`}},
		{name: "concurrency", req: patch(`{"concurrency":"replace"}`), status: 200,
			contains: []string{`"overridden":["concurrency"]`, `"concurrency":"replace"`}},
		{name: "concurrency reset", req: patch(`{"concurrency":null}`), status: 200, contains: []string{`"concurrency":"forbid"`}},
		{name: "misfire", req: patch(`{"misfire":{"misfire":"run-once","misfireWindow":"2h"}}`), status: 200,
			contains: []string{`"overridden":["misfire"]`, `"misfire":"run-once"`, `"misfireWindowMs":7200000`}},
		{name: "misfire policy alone", req: patch(`{"misfire":"run-once"}`), status: 200,
			contains: []string{`"misfire":"run-once"`, `"misfireWindowMs":3600000`}},
		{name: "misfire reset", req: patch(`{"misfire":null}`), status: 200, contains: []string{`"overridden":[]`, `"misfire":"skip"`}},
		{name: "retention", req: patch(`{"retention":{"keep":10,"maxAge":"48h"}}`), status: 200,
			contains: []string{`"overridden":["retention"]`, `"retention":{"keep":10,"maxAgeMs":172800000}`}},
		{name: "retention reset", req: patch(`{"retention":null}`), status: 200, contains: []string{`"overridden":[]`, `"retention":{"keep":1000,"maxAgeMs":0}`}},
		{name: "environment with a secret", req: patch(`{"environment":{"TOKEN":"${secret:API_TOKEN}"}}`), status: 200,
			contains: []string{`"overridden":["environment"]`, `"TOKEN":"${secret:API_TOKEN}"`}},
		{name: "environment reset", req: patch(`{"environment":null}`), status: 200, contains: []string{`"overridden":[]`}, absent: []string{"TOKEN"}},

		// Bad values: the message is config/tasks.yaml's.
		{name: "bad termination", req: patch(`{"termination":{"maxFailures":-1}}`), status: 422,
			contains: []string{`termination.maxFailures: -1 is negative; want 0 (never disable the task) or more`}},
		{name: "bad limits", req: patch(`{"limits":{"memory":"1KiB"}}`), status: 422,
			contains: []string{`limits.memory: 1 KiB is less than one 64 KiB page`}},
		{name: "bad retry", req: patch(`{"retry":{"max":-2}}`), status: 422, contains: []string{`retry.max: -2 is outside 0..`}},
		{name: "bad concurrency", req: patch(`{"concurrency":"sometimes"}`), status: 422,
			contains: []string{`concurrency: \"sometimes\" is not a policy; want allow, forbid (the default) or replace`}},
		{name: "bad misfire", req: patch(`{"misfire":"later"}`), status: 422,
			contains: []string{`misfire: \"later\" is not a policy; want skip (the default) or run-once`}},
		{name: "bad retention", req: patch(`{"retention":{"maxAge":"soon"}}`), status: 422, contains: []string{`retention.maxAge`}},
		{name: "unknown field of a block", req: patch(`{"limits":{"cpu":"1"}}`), status: 422, contains: []string{`cpu`}},
		{name: "block of the wrong kind", req: patch(`{"retry":3}`), status: 422, contains: []string{`retry`}},
		{name: "bad values left nothing", req: req{method: "GET", path: "/api/v1/tasks/hello/echo", token: "admin"}, status: 200,
			contains: []string{`"overridden":[]`, `"concurrency":"forbid"`, `"limits":{"memory":67108864`}},
	})
}
