package notify

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

func webhook(url, secret string, on ...string) app.Channel {
	if on == nil {
		on = app.DefaultNotifyOn
	}
	return app.Channel{Name: "hook", Kind: app.ChannelWebhook, URL: url, Secret: secret, On: on, Window: app.DefaultNotifyWindow}
}

// TestWebhookSignedAndReplayRefused sends a failed run to a receiver that
// verifies the signature as the README shows, and refuses a replay of
// the same request and a request signed with another secret.
func TestWebhookSignedAndReplayRefused(t *testing.T) {
	const secret = "s3cret"
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		now  = epoch // the receiver's clock
	)
	verify := func(h http.Header, body []byte) int {
		mu.Lock()
		defer mu.Unlock()
		sig := h.Get(SignatureHeader)
		if err := Verify(secret, sig, body, now, 5*time.Minute); err != nil || seen[sig] {
			return http.StatusBadRequest
		}
		seen[sig] = true
		return http.StatusNoContent
	}
	rcv := newReceiver(t, verify)
	h := newHarness(t, Config{Server: Server{AllowLoopback: true, PublicURL: "https://cronbox.example.com/", Allow: []string{"127.0.0.1:" + rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]}}})
	h.withApp("demo", []app.Channel{webhook(rcv.URL+"/hook", secret)}, "cleanup")

	id := h.finish("demo", "cleanup", store.StatusFailed, "exit code 1", 1500*time.Millisecond)
	got := rcv.next(t)
	m := decodeMessage(t, got.body)
	if m.Event != "failed" || m.App != "demo" || m.Task != "cleanup" || m.Node != "" || m.Run == nil ||
		m.Run.ID != id || m.Run.Status != "failed" || m.Run.Error != "exit code 1" || m.Run.DurationMS != 1500 ||
		m.Run.URL != "https://cronbox.example.com/runs/1" || m.URL != "https://cronbox.example.com/tasks/demo/cleanup" {
		t.Errorf("message = %+v, run %+v", m, m.Run)
	}
	if !bytes.Contains(got.body, []byte(`"node":""`)) {
		t.Errorf("body %s has no node field", got.body)
	}
	if got.header.Get("Cronbox-Event") != "failed" {
		t.Errorf("Cronbox-Event = %q", got.header.Get("Cronbox-Event"))
	}
	ns := h.waitFor("the attempt recorded", func(ns []store.Notification) bool { return len(ns) == 1 && ns[0].Status != store.NotificationPending })
	if ns[0].Status != store.NotificationSent || ns[0].Attempts != 1 || ns[0].RunID != id {
		t.Fatalf("notification = %+v", ns[0])
	}

	// A replay of the same request, and a forged one, are refused.
	post := func(sig string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, rcv.URL+"/hook", bytes.NewReader(body))
		req.Header.Set(SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		<-rcv.got
		return resp.StatusCode
	}
	sig := got.header.Get(SignatureHeader)
	if code := post(sig, got.body); code != http.StatusBadRequest {
		t.Errorf("replay answered %d, want 400", code)
	}
	if code := post(Sign("other", epoch, got.body), got.body); code != http.StatusBadRequest {
		t.Errorf("forged signature answered %d, want 400", code)
	}
	tampered := bytes.Replace(got.body, []byte("cleanup"), []byte("cleanuq"), 1)
	if err := Verify(secret, sig, tampered, epoch, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a tampered body = %v", err)
	}
	if err := Verify(secret, sig, got.body, epoch.Add(time.Hour), 5*time.Minute); !errors.Is(err, ErrStale) {
		t.Errorf("Verify an hour later = %v, want ErrStale", err)
	}
}

func TestSlackMessage(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, Config{Server: Server{AllowLoopback: true, PublicURL: "http://cb.local:8080"}})
	// The server's own channel needs no allow-list entry.
	h.cfg.Server.Channels = []app.Channel{{Name: "ops", Kind: app.ChannelSlack, URL: rcv.URL + "/services/T/B/X", On: []string{"timed_out"}, Window: time.Minute}}
	h.n.Stop()
	h.start()
	h.withApp("demo", nil, "cleanup")
	h.finish("demo", "cleanup", store.StatusTimedOut, "stopped at its time limit <1m>", time.Minute)
	got := rcv.next(t)
	var body map[string]any
	if err := jsonUnmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	text, _ := body["text"].(string)
	if len(body) != 1 || !strings.Contains(text, "demo/cleanup timed out after 1m0s") ||
		!strings.Contains(text, "&lt;1m&gt;") || !strings.Contains(text, "http://cb.local:8080/runs/1") {
		t.Errorf("slack body = %s", got.body)
	}
	if got.header.Get(SignatureHeader) != "" {
		t.Errorf("a Slack message carries a signature")
	}
}

// TestWindowAndSummary: a task failing again and again sends one message,
// then, when the window ends, a summary counting the rest.
func TestWindowAndSummary(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, Config{Server: Server{AllowLoopback: true, Allow: []string{hostPort(rcv.URL)}}})
	ch := webhook(rcv.URL, "k")
	ch.Window = 10 * time.Minute
	h.withApp("demo", []app.Channel{ch}, "flaky")
	h.withApp("demo", []app.Channel{ch}, "other")
	for i := range 5 {
		h.finish("demo", "flaky", store.StatusFailed, "boom", time.Second)
		h.clk.Advance(time.Second)
		if i == 0 {
			rcv.next(t)
		}
	}
	h.finish("demo", "other", store.StatusFailed, "boom", time.Second) // its own window
	if m := decodeMessage(t, rcv.next(t).body); m.Task != "other" {
		t.Fatalf("second message is about %s, want other", m.Task)
	}
	h.waitFor("both sent", func(ns []store.Notification) bool {
		return len(ns) == 2 && ns[1].Status == store.NotificationSent
	})
	select {
	case x := <-rcv.got:
		t.Fatalf("a suppressed failure was sent: %s", x.body)
	default:
	}
	h.waitArmed(epoch.Add(10*time.Minute), false)
	h.clk.Advance(10 * time.Minute)
	m := decodeMessage(t, rcv.next(t).body)
	if m.Event != "summary" || m.Task != "flaky" || m.Suppressed != 4 || m.SuppressedSince == nil || !m.SuppressedSince.Equal(epoch.Add(time.Second)) {
		t.Errorf("summary = %+v", m)
	}
}

// TestRetryBackoff: a receiver failing twice gets the message on the
// third attempt, after the backoff; one that always fails is given up
// after MaxAttempts; a 4xx is not retried.
func TestRetryBackoff(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.setStatus(http.StatusServiceUnavailable)
	h := newHarness(t, Config{MaxAttempts: 3, Backoff: time.Minute, Server: Server{AllowLoopback: true, Allow: []string{hostPort(rcv.URL)}}})
	h.withApp("demo", []app.Channel{webhook(rcv.URL, "k")}, "t")
	h.finish("demo", "t", store.StatusFailed, "x", time.Second)
	rcv.next(t)
	h.waitArmed(epoch.Add(time.Minute), false)
	h.clk.Advance(59 * time.Second)
	select {
	case <-rcv.got:
		t.Fatal("retried before the backoff")
	default:
	}
	h.clk.Advance(time.Second)
	rcv.next(t)
	h.waitArmed(epoch.Add(3*time.Minute), false) // doubled
	rcv.setStatus(http.StatusOK)
	h.clk.Advance(2 * time.Minute)
	rcv.next(t)
	ns := h.waitFor("sent", func(ns []store.Notification) bool { return ns[0].Status != store.NotificationPending })
	if ns[0].Status != store.NotificationSent || ns[0].Attempts != 3 {
		t.Fatalf("notification = %+v", ns[0])
	}

	// Always failing: given up after 3 attempts.
	rcv.setStatus(http.StatusBadGateway)
	h.withApp("demo", []app.Channel{webhook(rcv.URL, "k")}, "u")
	h.finish("demo", "u", store.StatusFailed, "x", time.Second)
	for i := range 2 {
		rcv.next(t)
		wait := time.Minute << i
		h.waitArmed(h.clk.Now().Add(wait), false)
		h.clk.Advance(wait)
	}
	rcv.next(t)
	ns = h.waitFor("given up", func(ns []store.Notification) bool { return len(ns) == 2 && ns[1].Status != store.NotificationPending })
	if ns[1].Status != store.NotificationFailed || ns[1].Attempts != 3 || !strings.Contains(ns[1].LastError, "502") {
		t.Fatalf("notification = %+v", ns[1])
	}

	// A 4xx is final.
	rcv.setStatus(http.StatusNotFound)
	h.withApp("demo", []app.Channel{webhook(rcv.URL, "k")}, "v")
	h.finish("demo", "v", store.StatusFailed, "x", time.Second)
	rcv.next(t)
	ns = h.waitFor("given up", func(ns []store.Notification) bool { return len(ns) == 3 && ns[2].Status != store.NotificationPending })
	if ns[2].Status != store.NotificationFailed || ns[2].Attempts != 1 {
		t.Fatalf("notification after a 404 = %+v", ns[2])
	}
}

// TestQueueSurvivesRestart: a message whose first attempt failed is
// delivered by the next process on the same store.
func TestQueueSurvivesRestart(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.setStatus(http.StatusServiceUnavailable)
	h := newHarness(t, Config{Backoff: time.Minute, Server: Server{AllowLoopback: true, Allow: []string{hostPort(rcv.URL)}}})
	h.withApp("demo", []app.Channel{webhook(rcv.URL, "k")}, "t")
	h.finish("demo", "t", store.StatusOutOfMemory, "", time.Second)
	rcv.next(t)
	h.waitArmed(epoch.Add(time.Minute), false)
	h.n.Stop()
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	rcv.setStatus(http.StatusOK)
	h.st = openStore(t, h.path, h.clk)
	h.clk.Advance(time.Minute)
	h.start() // finds the due message at once
	m := decodeMessage(t, rcv.next(t).body)
	if m.Event != "out_of_memory" || m.Task != "t" {
		t.Errorf("after the restart: %+v", m)
	}
	ns := h.waitFor("sent", func(ns []store.Notification) bool { return ns[0].Status != store.NotificationPending })
	if ns[0].Status != store.NotificationSent || ns[0].Attempts != 2 {
		t.Fatalf("notification = %+v", ns[0])
	}
}

// TestLoopbackRefused: without the operator's allowLoopback, a target on
// a loopback address is refused at connect time, whatever the allow-list
// says; a target outside the allow-list is refused before that.
func TestLoopbackRefused(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, Config{Server: Server{Listen: hostPort(rcv.URL), Allow: []string{hostPort(rcv.URL), "localhost:" + portOf(rcv.URL)}}})
	h.withApp("demo", []app.Channel{
		webhook(rcv.URL, "k"),
		{Name: "byname", Kind: app.ChannelWebhook, URL: "http://localhost:" + portOf(rcv.URL) + "/", On: app.DefaultNotifyOn, Window: time.Minute},
		{Name: "elsewhere", Kind: app.ChannelSlack, URL: "http://127.0.0.1:1/x", On: app.DefaultNotifyOn, Window: time.Minute},
	}, "t")
	h.finish("demo", "t", store.StatusTrapped, "unreachable", time.Second)
	ns := h.waitFor("three attempts", func(ns []store.Notification) bool {
		return len(ns) == 3 && ns[0].Attempts > 0 && ns[1].Attempts > 0 && ns[2].Attempts > 0
	})
	for _, n := range ns[:2] {
		if n.Status != store.NotificationFailed || !strings.Contains(n.LastError, "may not reach this server or its loopback addresses") {
			t.Errorf("%s: last error %q, want the loopback refusal", n.Channel, n.LastError)
		}
	}
	if ns[2].Status != store.NotificationFailed || !strings.Contains(ns[2].LastError, "not in the allow-list") {
		t.Errorf("elsewhere: %+v, want refused by the allow-list", ns[2])
	}
	select {
	case x := <-rcv.got:
		t.Fatalf("the receiver got %s", x.body)
	default:
	}
}

// TestEvents: recovery, auto-disable and load errors are reported; a
// task's notify: [] silences its app's channels.
func TestEvents(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, Config{Server: Server{AllowLoopback: true, Allow: []string{hostPort(rcv.URL)}}})
	ch := webhook(rcv.URL, "k", "failed", "succeeded", "recovered", "disabled", "load_error")
	h.withApp("demo", []app.Channel{ch}, "t")
	h.src.setTask(engine.TaskInfo{Task: app.Task{App: "demo", Name: "quiet", NotifySet: true}})
	h.src.setTask(engine.TaskInfo{Task: app.Task{App: "demo", Name: "own", NotifySet: true,
		Notify: []app.Channel{webhook(rcv.URL+"/own", "k", "succeeded")}}})

	h.finish("demo", "t", store.StatusSucceeded, "", time.Second)
	if m := decodeMessage(t, rcv.next(t).body); m.Event != "succeeded" {
		t.Errorf("first success: %s", m.Event)
	}
	h.clk.Advance(time.Hour)
	h.finish("demo", "t", store.StatusFailed, "x", time.Second)
	rcv.next(t)
	h.finish("demo", "t", store.StatusSucceeded, "", time.Second) // inside the window, but a recovery
	if m := decodeMessage(t, rcv.next(t).body); m.Event != "recovered" {
		t.Errorf("success after a failure: %s", m.Event)
	}
	h.src.setTask(engine.TaskInfo{Task: app.Task{App: "demo", Name: "t"}, DisabledReason: "3 failed runs in a row"})
	h.src.events <- engine.Event{Type: engine.EventTaskChanged, App: "demo", Task: "t", Message: "3 failed runs in a row"}
	if m := decodeMessage(t, rcv.next(t).body); m.Event != "disabled" || m.Error != "3 failed runs in a row" {
		t.Errorf("auto-disable: %+v", m)
	}
	h.src.events <- engine.Event{Type: engine.EventTaskChanged, App: "demo", Task: "t"} // an edit: nothing
	h.finish("demo", "quiet", store.StatusFailed, "x", time.Second)
	h.finish("demo", "own", store.StatusSucceeded, "", time.Second)
	if m := decodeMessage(t, rcv.next(t).body); m.Task != "own" {
		t.Errorf("after a silenced task's failure, got a message about %s, want own", m.Task)
	}
	h.src.setApp(engine.AppInfo{Name: "demo", Loaded: true, LoadError: "app.yaml:3: bad", Manifest: app.Manifest{Name: "demo", Notify: []app.Channel{ch}}})
	h.src.events <- engine.Event{Type: engine.EventAppReloaded, App: "demo", Message: "app.yaml:3: bad"}
	if m := decodeMessage(t, rcv.next(t).body); m.Event != "load_error" || m.Task != "" || m.Error != "app.yaml:3: bad" {
		t.Errorf("load error: %+v", m)
	}
	h.waitFor("all sent", func(ns []store.Notification) bool {
		for _, n := range ns {
			if n.Status == store.NotificationPending {
				return false
			}
		}
		return len(ns) == 6
	})
	select {
	case x := <-rcv.got:
		t.Fatalf("unexpected message %s", x.body)
	default:
	}
}

// TestStopQueuesReceivedEvents: the events the Notifier has received
// when it stops are queued, to be sent after the next start.
func TestStopQueuesReceivedEvents(t *testing.T) {
	h := newHarness(t, Config{Server: Server{AllowLoopback: true}})
	h.withApp("demo", []app.Channel{webhook("http://192.0.2.1/hook", "k")}, "t")
	for i := range 20 {
		h.withApp("demo", []app.Channel{webhook("http://192.0.2.1/hook", "k")}, fmt.Sprint("t", i))
	}
	for i := range 20 {
		h.finish("demo", fmt.Sprint("t", i), store.StatusInterrupted, "stopped", time.Second)
	}
	h.n.Stop()
	if ns := h.list(); len(ns) != 20 {
		t.Fatalf("%d notifications queued after Stop, want 20", len(ns))
	}
}

// TestPrune: delivered notifications are deleted after Config.Keep.
func TestPrune(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, Config{Keep: 24 * time.Hour, Server: Server{AllowLoopback: true, Allow: []string{hostPort(rcv.URL)}}})
	h.withApp("demo", []app.Channel{webhook(rcv.URL, "k")}, "t")
	h.finish("demo", "t", store.StatusFailed, "x", time.Second)
	rcv.next(t)
	h.waitFor("sent", func(ns []store.Notification) bool { return len(ns) == 1 && ns[0].Status == store.NotificationSent })
	h.clk.Advance(25 * time.Hour)
	h.finish("demo", "t", store.StatusFailed, "y", time.Second)
	rcv.next(t)
	ns := h.waitFor("the old one pruned", func(ns []store.Notification) bool { return len(ns) == 1 && ns[0].Status == store.NotificationSent })
	if ns[0].ID != 2 {
		t.Errorf("left %+v, want the second", ns[0])
	}
}
