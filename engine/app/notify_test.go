package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNotifyChannels(t *testing.T) {
	dir := newApp(t, "demo", map[string]string{
		"app.yaml": `name: demo
notify:
  - webhook: https://hooks.example.com/cronbox
    secret: ${secret:HOOK}
    on: [failed, recovered]
  - email: [ops@example.com, dev@example.com]
    window: 30m
`,
		"tasks/a.wasm": wasmHeader, "tasks/b.wasm": wasmHeader, "tasks/c.wasm": wasmHeader,
		"config/tasks.yaml": `tasks:
  - name: a
  - name: b
    notify: []
  - name: c
    notify:
      - slack: https://chat.example.com/hooks/x
        on: [disabled]
`,
	})
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := a.Manifest.Notify
	if len(n) != 2 {
		t.Fatalf("Manifest.Notify = %+v", n)
	}
	if n[0].Kind != ChannelWebhook || n[0].URL != "https://hooks.example.com/cronbox" || n[0].Secret != "${secret:HOOK}" ||
		!slices.Equal(n[0].On, []string{"failed", "recovered"}) || n[0].Window != DefaultNotifyWindow || n[0].Name != "webhook:hooks.example.com" {
		t.Errorf("webhook channel = %+v", n[0])
	}
	if n[1].Kind != ChannelEmail || !slices.Equal(n[1].To, []string{"ops@example.com", "dev@example.com"}) ||
		n[1].Window != 30*time.Minute || !slices.Equal(n[1].On, DefaultNotifyOn) {
		t.Errorf("email channel = %+v", n[1])
	}
	ta, _ := a.Task("a")
	tb, _ := a.Task("b")
	tc, _ := a.Task("c")
	if ta.NotifySet || !tb.NotifySet || len(tb.Notify) != 0 || !tc.NotifySet || len(tc.Notify) != 1 || tc.Notify[0].Kind != ChannelSlack {
		t.Errorf("tasks: a %v %+v, b %v %+v, c %v %+v", ta.NotifySet, ta.Notify, tb.NotifySet, tb.Notify, tc.NotifySet, tc.Notify)
	}
}

func TestNotifyChannelProblems(t *testing.T) {
	dir := newApp(t, "demo", map[string]string{"app.yaml": `name: demo
notify:
  - webhook: ftp://x.example.com/
  - slack: https://a.example.com/
    email: [a@example.com]
  - email: ["not an address"]
    on: [failed, exploded]
    window: soon
  - webhook: https://user:pw@x.example.com/
  - slack: https://b.example.com/
    name: dup
  - slack: https://c.example.com/
    name: dup
  - slack: https://d.example.com/
    secret: s
`})
	_, err := Load(dir, Options{})
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Load = %v, want an InvalidError", err)
	}
	want := map[string]int{ // field → line
		"notify[0].webhook": 3, "notify[1]": 4, "notify[2].email[0]": 6, "notify[2].on[1]": 7,
		"notify[2].window": 8, "notify[3].webhook": 9, "notify[5].name": 13, "notify[6].secret": 15,
	}
	for field, line := range want {
		p, ok := findProblem(inv.Problems, field)
		if !ok || p.Line != line || p.File != ManifestPath {
			t.Errorf("problem at %s: %+v (found %v), want line %d%s", field, p, ok, line, problemsString(inv.Problems))
		}
	}
}

func TestDecodeYAMLChannels(t *testing.T) {
	type config struct {
		Window string        `json:"window"`
		Notify []ChannelSpec `json:"notify"`
	}
	var c config
	d, err := DecodeYAML([]byte("window: 5m\nnotify:\n  - slack: https://s.example.com/x\n  - webhook: nope\n"), "notify.yaml", &c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Channels("notify", c.Notify)
	if err == nil || !strings.Contains(err.Error(), "notify.yaml:4:") || !strings.Contains(err.Error(), "notify[1].webhook") {
		t.Errorf("Channels = %v, want the problem at notify.yaml:4 notify[1].webhook", err)
	}
	if _, err := DecodeYAML([]byte("windw: 5m\n"), "notify.yaml", &c); err == nil || !strings.Contains(err.Error(), "notify.yaml:1:1:") || !strings.Contains(err.Error(), "windw") {
		t.Errorf("DecodeYAML of an unknown field = %v", err)
	}
}

// FuzzNotifyChannels decodes and checks notify: lists: never a panic, and
// every channel that passes is complete.
func FuzzNotifyChannels(f *testing.F) {
	type config struct {
		Notify []ChannelSpec `json:"notify"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c config
		d, err := DecodeYAML(data, "notify.yaml", &c)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeYAML error %v does not wrap ErrInvalid", err)
			}
			return
		}
		chans, err := d.Channels("notify", c.Notify)
		if err != nil {
			return
		}
		for _, ch := range chans {
			switch {
			case ch.Name == "", ch.Window <= 0, len(ch.On) == 0:
				t.Fatalf("incomplete channel %+v", ch)
			case ch.Kind == ChannelEmail && (len(ch.To) == 0 || ch.URL != ""):
				t.Fatalf("email channel %+v", ch)
			case ch.Kind != ChannelEmail && !strings.HasPrefix(ch.URL, "http"):
				t.Fatalf("%s channel without a URL: %+v", ch.Kind, ch)
			}
		}
	})
}
