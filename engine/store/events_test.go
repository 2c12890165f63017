package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	appends := []struct {
		name  string
		event Event
		want  error
	}{
		{"system", Event{Type: "apps.reloaded"}, nil},
		{"run of a", Event{Type: "run.started", App: "a", Task: "t", Payload: json.RawMessage(`{"run":1}`), Time: epoch.Add(time.Second)}, nil},
		{"run of b", Event{Type: "run.started", App: "b", Task: "t"}, nil},
		{"task of a", Event{Type: "task.disabled", App: "a", Task: "u"}, nil},
		{"no type", Event{App: "a"}, ErrInvalid},
		{"payload not JSON", Event{Type: "x", Payload: json.RawMessage("{")}, ErrInvalid},
	}
	var all []Event
	for _, tt := range appends {
		t.Run("append "+tt.name, func(t *testing.T) {
			id, err := s.AppendEvent(t.Context(), tt.event)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendEvent = %d, %v; want %v", id, err, tt.want)
			}
			if err == nil {
				e := tt.event
				e.ID, e.Time = id, s.now(e.Time)
				all = append(all, e)
			}
		})
	}
	tests := []struct {
		name   string
		filter EventFilter
		want   []int
	}{
		{"all", EventFilter{}, []int{0, 1, 2, 3}},
		{"after", EventFilter{AfterID: all[1].ID}, []int{2, 3}},
		{"limit", EventFilter{Limit: 2}, []int{0, 1}},
		{"app", EventFilter{Apps: []string{"a"}}, []int{1, 3}},
		{"apps", EventFilter{Apps: []string{"a", "b"}, AfterID: all[1].ID}, []int{2, 3}},
		{"no apps", EventFilter{Apps: []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Events(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var want []Event
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			if !slices.EqualFunc(got, want, eventsEqual) {
				t.Errorf("Events =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func eventsEqual(a, b Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Type == b.Type && a.App == b.App && a.Task == b.Task &&
		string(a.Payload) == string(b.Payload)
}

func TestEventsPruned(t *testing.T) {
	t.Parallel()
	const max = 10
	s := openTest(t, Options{MaxEvents: max})
	ctx := t.Context()
	var last int64
	for i := range 3 * pruneEventsEvery {
		id, err := s.AppendEvent(ctx, Event{Type: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if id <= last {
			t.Fatalf("event ID %d after %d", id, last)
		}
		last = id
	}
	got, err := s.Events(ctx, EventFilter{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < max || len(got) > max+pruneEventsEvery {
		t.Errorf("%d events kept, want between %d and %d", len(got), max, max+pruneEventsEvery)
	}
	if got[len(got)-1].ID != last {
		t.Errorf("newest event kept is %d, want %d", got[len(got)-1].ID, last)
	}
}
