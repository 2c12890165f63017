package runjson

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("CET", 3600))

func encode(t *testing.T, r Run) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOf(t *testing.T) {
	ended := store.Run{ID: 7, App: "demo", Task: "hello", Status: store.StatusFailed, Trigger: store.TriggerSchedule, TriggeredByUser: "",
		ScheduledTime: t0, StartTime: t0, EndTime: t0.Add(1500 * time.Millisecond), Duration: 1500 * time.Millisecond, ExitCode: 3,
		Error: "exit 3", ErrorLine: "no database", PeakMemory: 1 << 20, Node: "n1", Overdue: true}
	running := store.Run{ID: 8, App: "demo", Task: "hello", Status: store.StatusRunning, Trigger: store.TriggerManual, TriggeredByUser: "ada",
		StartTime: t0, ExitCode: -1}
	stored := running
	stored.Progress = &store.Progress{Percent: 30, Message: "third"}
	storedHere := stored
	storedHere.Progress = &store.Progress{Percent: 20, Message: "stale"}
	endedWith := ended
	endedWith.Overdue, endedWith.Progress = false, &store.Progress{Percent: 100, Message: "done"}
	for _, c := range []struct {
		name   string
		run    store.Run
		live   *Live
		remote bool
		want   string
	}{
		{"ended", ended, nil, false,
			`{"id":7,"app":"demo","task":"hello","status":"failed","trigger":"schedule","user":"","scheduled":"2026-01-05T09:00:00Z","attempt":0,"start":"2026-01-05T09:00:00Z","end":"2026-01-05T09:00:01.5Z","durationMs":1500,"exitCode":3,"error":"exit 3","cause":"no database","reason":"","peakMemory":1048576,"node":"n1","overdue":true}`},
		{"running here", running, &Live{Progress: 40, Message: "half", Overdue: true}, true,
			`{"id":8,"app":"demo","task":"hello","status":"running","trigger":"manual","user":"ada","scheduled":null,"attempt":0,"start":"2026-01-05T09:00:00Z","end":null,"durationMs":2000,"exitCode":null,"error":"","reason":"","peakMemory":0,"node":"","progress":40,"progressMessage":"half","overdue":true}`},
		{"running elsewhere", running, nil, true,
			`{"id":8,"app":"demo","task":"hello","status":"running","trigger":"manual","user":"ada","scheduled":null,"attempt":0,"start":"2026-01-05T09:00:00Z","end":null,"durationMs":2000,"exitCode":null,"error":"","reason":"","peakMemory":0,"node":"","progress":0,"overdue":false,"remote":true}`},
		{"running elsewhere, progress stored", stored, nil, true,
			`{"id":8,"app":"demo","task":"hello","status":"running","trigger":"manual","user":"ada","scheduled":null,"attempt":0,"start":"2026-01-05T09:00:00Z","end":null,"durationMs":2000,"exitCode":null,"error":"","reason":"","peakMemory":0,"node":"","progress":30,"progressMessage":"third","overdue":false,"remote":true}`},
		{"running here, progress stored", storedHere, &Live{Progress: 40, Message: "half"}, true,
			`{"id":8,"app":"demo","task":"hello","status":"running","trigger":"manual","user":"ada","scheduled":null,"attempt":0,"start":"2026-01-05T09:00:00Z","end":null,"durationMs":2000,"exitCode":null,"error":"","reason":"","peakMemory":0,"node":"","progress":40,"progressMessage":"half","overdue":false}`},
		{"ended, progress stored", endedWith, nil, true,
			`{"id":7,"app":"demo","task":"hello","status":"failed","trigger":"schedule","user":"","scheduled":"2026-01-05T09:00:00Z","attempt":0,"start":"2026-01-05T09:00:00Z","end":"2026-01-05T09:00:01.5Z","durationMs":1500,"exitCode":3,"error":"exit 3","cause":"no database","reason":"","peakMemory":1048576,"node":"n1","progress":100,"progressMessage":"done"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := encode(t, Of(c.run, t0.Add(2*time.Second), c.live, c.remote)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestDurationOfARunningRun is how long it has run, never less than none.
func TestDurationOfARunningRun(t *testing.T) {
	r := store.Run{Status: store.StatusRunning, StartTime: t0}
	if d := Duration(r, t0.Add(-time.Second)); d != 0 {
		t.Errorf("a clock behind the start: %s", d)
	}
	if d := Duration(r, t0.Add(time.Minute)); d != time.Minute {
		t.Errorf("a minute in: %s", d)
	}
}
