package web

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
)

// enqueueNotification queues a notification of appName in f's store.
func (f *fixture) enqueueNotification(appName string, runID int64) int64 {
	f.t.Helper()
	id, err := f.st.EnqueueNotification(f.t.Context(), store.Notification{
		App: appName, Task: "greet", Channel: "app:hook", Kind: "webhook", Event: "failed", RunID: runID,
		Payload: json.RawMessage(`{"channel":{"URL":"https://hooks.example.com/T0K3N"}}`),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func TestListNotifications(t *testing.T) {
	f := newFixture(t)
	a := f.enqueueNotification("hello", 3)
	b := f.enqueueNotification("other", 0)
	c := f.enqueueNotification("hello", 0)
	if err := f.st.RecordAttempt(t.Context(), a, store.NotificationAttempt{Err: "503 from hooks.example.com", Next: f.clock.Now().Add(60e9)}); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Notifications []notificationJSON `json:"notifications"`
		Next          *string            `json:"next"`
	}
	list := func(token, query string) (int, page) {
		t.Helper()
		resp := f.send(req{method: "GET", path: "/api/v1/notifications" + query, token: token})
		var p page
		if resp.status == 200 {
			if err := json.Unmarshal(resp.body, &p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.status, p
	}
	ids := func(p page) []int64 {
		var out []int64
		for _, n := range p.Notifications {
			out = append(out, n.ID)
		}
		return out
	}
	if code, p := list("viewer", ""); code != 200 || !slices.Equal(ids(p), []int64{c, b, a}) || p.Next != nil {
		t.Errorf("viewer: %d %v next %v", code, ids(p), p.Next)
	}
	if code, p := list("scoped", ""); code != 200 || !slices.Equal(ids(p), []int64{c, a}) {
		t.Errorf("token scoped to hello: %d %v", code, ids(p))
	}
	if code, p := list("scoped", "?app=other"); code != 200 || len(p.Notifications) != 0 {
		t.Errorf("token scoped to hello asking for other: %d %v", code, ids(p))
	}
	code, p := list("admin", "?limit=2")
	if code != 200 || !slices.Equal(ids(p), []int64{c, b}) || p.Next == nil || *p.Next != "2" {
		t.Fatalf("first page: %d %v next %v", code, ids(p), p.Next)
	}
	if code, p := list("admin", "?limit=2&before="+*p.Next); code != 200 || !slices.Equal(ids(p), []int64{a}) {
		t.Errorf("second page: %d %v", code, ids(p))
	}
	_, p = list("admin", "?app=hello")
	n := p.Notifications[1]
	if n.Status != "pending" || n.Attempts != 1 || n.LastError != "503 from hooks.example.com" || n.NextAttempt == nil || n.RunID == nil || *n.RunID != 3 {
		t.Errorf("notification %+v", n)
	}
	if resp := f.send(req{method: "GET", path: "/api/v1/notifications"}); resp.status != 401 {
		t.Errorf("without a token: %d", resp.status)
	}
	if code, _ := list("admin", "?bogus=1"); code != 400 {
		t.Errorf("unknown parameter: %d", code)
	}
	resp := f.send(req{method: "GET", path: "/api/v1/notifications", token: "admin"})
	if strings.Contains(string(resp.body), "T0K3N") {
		t.Errorf("the list shows a channel's URL: %s", resp.body)
	}
}
