package web

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

func TestListRuns(t *testing.T) {
	f := newFixture(t)
	greet := f.trigger("hello", "greet", "")
	f.idle()
	f.trigger("hello", "echo", `{"a":1}`)
	f.idle()
	job := f.trigger("other", "job", "")
	f.idle()
	f.run(t, []check{
		{name: "all, newest first", req: req{method: "GET", path: "/api/v1/runs", token: "viewer"}, status: 200,
			contains: []string{`{"runs":[{"id":3,"app":"other"`, `"next":null`, `"exitCode":0`, `"trigger":"manual"`}},
		{name: "by app", req: req{method: "GET", path: "/api/v1/runs?app=hello", token: "viewer"}, status: 200, absent: []string{`"other"`}},
		{name: "by task", req: req{method: "GET", path: "/api/v1/runs?task=echo", token: "viewer"}, status: 200, contains: []string{`"task":"echo"`}, absent: []string{`"task":"greet"`}},
		{name: "by status", req: req{method: "GET", path: "/api/v1/runs?status=failed,running", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "by status succeeded", req: req{method: "GET", path: "/api/v1/runs?status=succeeded", token: "viewer"}, status: 200, contains: []string{`"id":1`, `"id":3`}},
		{name: "since", req: req{method: "GET", path: "/api/v1/runs?since=2026-01-05T10:00:00Z", token: "viewer"}, status: 200, contains: []string{`"id":1`}},
		{name: "since later", req: req{method: "GET", path: "/api/v1/runs?since=2026-01-06T00:00:00Z", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "paged", req: req{method: "GET", path: "/api/v1/runs?limit=2", token: "viewer"}, status: 200, contains: []string{`"id":3`, `"id":2`, `"next":"2"`}, absent: []string{`"id":1,`}},
		{name: "next page", req: req{method: "GET", path: "/api/v1/runs?limit=2&before=2", token: "viewer"}, status: 200, contains: []string{`"id":1`, `"next":null`}},
		{name: "by trigger", req: req{method: "GET", path: "/api/v1/runs?trigger=manual", token: "viewer"}, status: 200, contains: []string{`"id":1`, `"id":3`}},
		{name: "by other trigger", req: req{method: "GET", path: "/api/v1/runs?trigger=schedule,retry", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "until", req: req{method: "GET", path: "/api/v1/runs?until=2026-01-05T00:00:00Z", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "newer than a page", req: req{method: "GET", path: "/api/v1/runs?after=2", token: "viewer"}, status: 200, contains: []string{`"id":3`}, absent: []string{`"id":2,`, `"id":1,`}},
		{name: "another node", req: req{method: "GET", path: "/api/v1/runs?node=elsewhere", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "text nowhere", req: req{method: "GET", path: "/api/v1/runs?q=teapot", token: "viewer"}, status: 200, contains: []string{`"runs":[]`}},
		{name: "bad trigger", req: req{method: "GET", path: "/api/v1/runs?trigger=cron", token: "viewer"}, status: 400, field: "trigger"},
		{name: "until before since", req: req{method: "GET", path: "/api/v1/runs?since=2026-01-06T00:00:00Z&until=2026-01-05T00:00:00Z", token: "viewer"}, status: 400, field: "until"},
		{name: "bad limit", req: req{method: "GET", path: "/api/v1/runs?limit=-5", token: "viewer"}, status: 400, field: "limit"},
		{name: "bad before", req: req{method: "GET", path: "/api/v1/runs?before=x", token: "viewer"}, status: 400, field: "before"},
		{name: "bad since", req: req{method: "GET", path: "/api/v1/runs?since=yesterday", token: "viewer"}, status: 400, field: "since"},
		{name: "bad status", req: req{method: "GET", path: "/api/v1/runs?status=succeeded,great", token: "viewer"}, status: 400, field: "status"},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/runs?offset=3", token: "viewer"}, status: 400, field: "offset"},
		{name: "no token", req: req{method: "GET", path: "/api/v1/runs"}, status: 401},
		{name: "scoped", req: req{method: "GET", path: "/api/v1/runs", token: "scoped"}, status: 200, contains: []string{`"app":"hello"`}, absent: []string{`"other"`}},
		{name: "scoped asks for another app", req: req{method: "GET", path: "/api/v1/runs?app=other", token: "scoped"}, status: 200, contains: []string{`"runs":[]`}},
	})
	_, _ = greet, job
}

func TestGetRun(t *testing.T) {
	f := newFixture(t)
	echo := f.trigger("hello", "echo", `{"n":42}`)
	job := f.trigger("other", "job", "")
	f.idle()
	f.run(t, []check{
		{name: "detail", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", echo), token: "viewer"}, status: 200,
			contains: []string{`"input":{"n":42}`, `"result":{"config":{},"input":{"n":42}}`, `"output":"greeting: hi\n"`,
				`"logs":[{"seq":1,`, `"level":"info","message":"got input`, `"logsDropped":0`, `"status":"succeeded"`}},
		{name: "logs", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs", echo), token: "viewer"}, status: 200, contains: []string{`{"logs":[{"seq":1,`}},
		{name: "logs after", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?after=1", echo), token: "viewer"}, status: 200, contains: []string{`{"logs":[]}`}},
		{name: "logs bad after", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?after=-1", echo), token: "viewer"}, status: 400, field: "after"},
		{name: "logs bad limit", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?limit=0", echo), token: "viewer"}, status: 400, field: "limit"},
		{name: "logs unknown run", req: req{method: "GET", path: "/api/v1/runs/999/logs", token: "viewer"}, status: 404},
		{name: "logs no token", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs", echo)}, status: 401},
		{name: "logs scoped other app", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs", job), token: "scoped"}, status: 404},
		{name: "unknown run", req: req{method: "GET", path: "/api/v1/runs/999", token: "viewer"}, status: 404},
		{name: "bad id", req: req{method: "GET", path: "/api/v1/runs/abc", token: "viewer"}, status: 400, field: "id"},
		{name: "zero id", req: req{method: "GET", path: "/api/v1/runs/0", token: "viewer"}, status: 400, field: "id"},
		{name: "no token", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", echo)}, status: 401},
		{name: "scoped own app", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", echo), token: "scoped"}, status: 200},
		{name: "scoped other app", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", job), token: "scoped"}, status: 404, absent: []string{"job", "other"}},
	})
}

func TestCancelRun(t *testing.T) {
	f := newFixture(t)
	done := f.trigger("other", "job", "")
	f.idle()
	spin := f.trigger("hello", "spin", "")
	f.waitRunning(spin)
	path := fmt.Sprintf("/api/v1/runs/%d/cancel", spin)
	f.run(t, []check{
		{name: "running shows progress", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", spin), token: "viewer"}, status: 200,
			contains: []string{`"status":"running"`, `"progress":0`, `"overdue":false`, `"end":null`, `"exitCode":null`}},
		{name: "viewer", req: req{method: "POST", path: path, token: "viewer"}, status: 403},
		{name: "no token", req: req{method: "POST", path: path}, status: 401},
		{name: "scoped other app", req: req{method: "POST", path: fmt.Sprintf("/api/v1/runs/%d/cancel", done), token: "scoped"}, status: 404},
		{name: "bad id", req: req{method: "POST", path: "/api/v1/runs/x/cancel", token: "operator"}, status: 400, field: "id"},
		{name: "unknown run", req: req{method: "POST", path: "/api/v1/runs/999/cancel", token: "operator"}, status: 404},
		{name: "cancel", req: req{method: "POST", path: path, token: "scoped"}, status: 202, contains: []string{fmt.Sprintf(`"id":%d`, spin)}},
	})
	f.idle()
	f.run(t, []check{
		{name: "cancelled", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", spin), token: "viewer"}, status: 200, contains: []string{`"status":"cancelled"`}, absent: []string{`"progress"`}},
		{name: "finished run", req: req{method: "POST", path: path, token: "operator"}, status: http.StatusConflict},
	})
}

// TestRunJSONOverdue checks that an ended run that went past its
// maxRuntime says so, and one that did not leaves overdue out.
func TestRunJSONOverdue(t *testing.T) {
	f := newFixture(t)
	end := t0.Add(2 * time.Hour)
	for _, overdue := range []bool{false, true} {
		r := store.Run{ID: 1, App: "hello", Task: "spin", Status: store.StatusSucceeded, Trigger: store.TriggerManual, StartTime: t0, EndTime: end, Overdue: overdue}
		got := f.srv.runJSON(r).Overdue
		if overdue && (got == nil || !*got) || !overdue && got != nil {
			t.Errorf("run with Overdue %v: overdue %v", overdue, got)
		}
	}
}
