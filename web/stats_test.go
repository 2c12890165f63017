package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The task statistics and the overview answer what the store computes, in
// the shape the OpenAPI document gives, within the token's scope.
func TestStatsAndOverview(t *testing.T) {
	f := newFixture(t)
	doc := loadOpenAPI(t)
	for range 3 {
		f.trigger("hello", "echo", `{"a":1}`)
		f.idle()
	}
	f.trigger("other", "job", "")
	f.idle()

	resp := f.send(req{method: "GET", path: "/api/v1/tasks/hello/echo/stats?runs=2", token: "viewer"})
	if resp.status != 200 {
		t.Fatalf("stats: %d %s", resp.status, resp.body)
	}
	var v any
	json.Unmarshal(resp.body, &v)
	for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/TaskStats"}, v, "$") {
		t.Error(p)
	}
	var ts struct {
		Runs []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
		Days []struct {
			Succeeded int `json:"succeeded"`
		} `json:"days"`
	}
	json.Unmarshal(resp.body, &ts)
	if len(ts.Runs) != 2 || ts.Runs[0].ID != 2 || ts.Runs[1].ID != 3 || len(ts.Days) != 1 || ts.Days[0].Succeeded != 3 {
		t.Errorf("stats %s", resp.body)
	}

	resp = f.send(req{method: "GET", path: "/api/v1/overview", token: "viewer"})
	if resp.status != 200 {
		t.Fatalf("overview: %d %s", resp.status, resp.body)
	}
	v = nil
	json.Unmarshal(resp.body, &v)
	for _, p := range conform(doc, map[string]any{"$ref": "#/components/schemas/Overview"}, v, "$") {
		t.Error(p)
	}
	if !strings.Contains(string(resp.body), `"hours":[{"hour":`) || !strings.Contains(string(resp.body), `"app":"other"`) {
		t.Errorf("overview %s", resp.body)
	}
	f.run(t, []check{
		{name: "overview scoped", req: req{method: "GET", path: "/api/v1/overview", token: "scoped"}, status: 200,
			contains: []string{`"app":"hello"`}, absent: []string{`"app":"other"`}},
		{name: "overview bad hours", req: req{method: "GET", path: "/api/v1/overview?hours=0", token: "viewer"}, status: 400, field: "hours"},
		{name: "overview unknown parameter", req: req{method: "GET", path: "/api/v1/overview?days=3", token: "viewer"}, status: 400, field: "days"},
		{name: "stats bad runs", req: req{method: "GET", path: "/api/v1/tasks/hello/echo/stats?runs=x", token: "viewer"}, status: 400, field: "runs"},
		{name: "stats of another app's task", req: req{method: "GET", path: "/api/v1/tasks/other/job/stats", token: "scoped"}, status: 404},
		{name: "stats unknown task", req: req{method: "GET", path: "/api/v1/tasks/hello/nope/stats", token: "viewer"}, status: 404},
	})
}

// Run again starts the run's task with the run's input; the log comes as
// text to download.
func TestRunAgainAndLogText(t *testing.T) {
	f := newFixture(t)
	echo := f.trigger("hello", "echo", `{"n":42}`)
	f.idle()
	f.run(t, []check{
		{name: "viewer may not", req: req{method: "POST", path: fmt.Sprintf("/api/v1/runs/%d/again", echo), token: "viewer"}, status: 403},
		{name: "unknown run", req: req{method: "POST", path: "/api/v1/runs/999/again", token: "operator"}, status: 404},
		{name: "a body with fields", req: req{method: "POST", path: fmt.Sprintf("/api/v1/runs/%d/again", echo), token: "operator", body: `{"input":{}}`}, status: 400, field: "input"},
		{name: "bad format", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?format=html", echo), token: "viewer"}, status: 400, field: "format"},
	})
	resp := f.send(req{method: "POST", path: fmt.Sprintf("/api/v1/runs/%d/again", echo), token: "operator"})
	if resp.status != 202 {
		t.Fatalf("again: %d %s", resp.status, resp.body)
	}
	var again struct {
		ID      int64  `json:"id"`
		Trigger string `json:"trigger"`
	}
	json.Unmarshal(resp.body, &again)
	f.idle()
	resp = f.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", again.ID), token: "viewer"})
	if resp.status != 200 || !strings.Contains(string(resp.body), `"input":{"n":42}`) || again.Trigger != "manual" || again.ID == echo {
		t.Errorf("the run again: %d %s", resp.status, resp.body)
	}

	resp = f.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs?format=text", echo), token: "viewer"})
	if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(resp.header.Get("Content-Disposition"), fmt.Sprintf(`filename="run-%d.log"`, echo)) {
		t.Fatalf("text: %d %v", resp.status, resp.header)
	}
	var logs struct {
		Logs []struct {
			Level, Message string
		} `json:"logs"`
	}
	json.Unmarshal(f.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d/logs", echo), token: "viewer"}).body, &logs)
	lines := strings.Split(strings.TrimSuffix(string(resp.body), "\n"), "\n")
	if len(logs.Logs) == 0 || len(lines) != len(logs.Logs) {
		t.Fatalf("text has %d lines, JSON %d: %q", len(lines), len(logs.Logs), resp.body)
	}
	for i, l := range logs.Logs {
		if !strings.HasSuffix(lines[i], " "+strings.ToUpper(l.Level)+" "+l.Message) {
			t.Errorf("line %d %q; want level %s and message %q", i+1, lines[i], l.Level, l.Message)
		}
	}
}
