package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"encoding/json"
	"github.com/cronbox/cronbox/engine/store"
)

// EventLog checks an implementation of store.EventLog. open returns a new,
// empty store for each test, whose clock is now.
func EventLog(t *testing.T, open func(t *testing.T, now func() time.Time) store.EventLog) {
	t.Run("Events", func(t *testing.T) { eventLogEvents(t, open) })
	t.Run("LastEventID", func(t *testing.T) { eventLogLastEventID(t, open) })
	t.Run("AppendEvents", func(t *testing.T) { eventLogAppendEvents(t, open) })
}

// eventLogAppendEvents: a batch is recorded whole, in order, with rising
// IDs after the events before it; a batch with a bad event not at all.
func eventLogAppendEvents(t *testing.T, open func(t *testing.T, now func() time.Time) store.EventLog) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	first, err := s.AppendEvent(ctx, store.Event{Type: "first"})
	if err != nil {
		t.Fatal(err)
	}
	batch := []store.Event{
		{Type: "run.started", App: "a", Task: "t", Payload: json.RawMessage(`{"runId":1}`)},
		{Type: "task.changed", App: "b"},
		{Type: "run.finished", App: "a", Task: "t", Time: epoch.Add(time.Second), Payload: json.RawMessage(`{"runId":1}`)},
	}
	ids, err := s.AppendEvents(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(batch) || ids[0] <= first || !slices.IsSorted(ids) || ids[1] == ids[0] || ids[2] == ids[1] {
		t.Fatalf("AppendEvents IDs = %v after %d, want %d rising", ids, first, len(batch))
	}
	got, err := s.Events(ctx, store.EventFilter{AfterID: first})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("Events = %+v, want the batch", got)
	}
	for i, e := range got {
		want := batch[i]
		if e.ID != ids[i] || e.Type != want.Type || e.App != want.App || e.Task != want.Task || string(e.Payload) != string(want.Payload) {
			t.Errorf("event %d = %+v, want %+v with ID %d", i, e, want, ids[i])
		}
	}
	if !got[2].Time.Equal(epoch.Add(time.Second)) || !got[0].Time.Equal(epoch) {
		t.Errorf("times = %v, %v; want the event's, else the clock's", got[0].Time, got[2].Time)
	}
	for _, bad := range [][]store.Event{nil, {{Type: "ok"}, {Type: ""}}, {{Type: "x", Payload: json.RawMessage("{")}}} {
		if _, err := s.AppendEvents(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AppendEvents(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if last, err := s.LastEventID(ctx); err != nil || last != ids[2] {
		t.Errorf("LastEventID after refused batches = %d, %v; want %d", last, err, ids[2])
	}
}

// eventLogLastEventID: the greatest ID kept, 0 before any event.
func eventLogLastEventID(t *testing.T, open func(t *testing.T, now func() time.Time) store.EventLog) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	if got, err := s.LastEventID(ctx); err != nil || got != 0 {
		t.Fatalf("LastEventID of a new store = %d, %v; want 0", got, err)
	}
	for _, app := range []string{"a", "", "b"} {
		id, err := s.AppendEvent(ctx, store.Event{Type: "x", App: app})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.LastEventID(ctx); err != nil || got != id {
			t.Errorf("LastEventID = %d, %v; want %d", got, err, id)
		}
	}
}

func eventLogEvents(t *testing.T, open func(t *testing.T, now func() time.Time) store.EventLog) {
	t.Parallel()
	s := open(t, fixed(epoch))
	appends := []struct {
		name  string
		event store.Event
		want  error
	}{
		{"system", store.Event{Type: "apps.reloaded"}, nil},
		{"run of a", store.Event{Type: "run.started", App: "a", Task: "t", Payload: json.RawMessage(`{"run":1}`), Time: epoch.Add(time.Second)}, nil},
		{"run of b", store.Event{Type: "run.started", App: "b", Task: "t"}, nil},
		{"task of a", store.Event{Type: "task.disabled", App: "a", Task: "u"}, nil},
		{"no type", store.Event{App: "a"}, store.ErrInvalid},
		{"payload not JSON", store.Event{Type: "x", Payload: json.RawMessage("{")}, store.ErrInvalid},
	}
	var all []store.Event
	for _, tt := range appends {
		t.Run("append "+tt.name, func(t *testing.T) {
			id, err := s.AppendEvent(t.Context(), tt.event)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendEvent = %d, %v; want %v", id, err, tt.want)
			}
			if err == nil {
				e := tt.event
				e.ID = id
				if e.Time.IsZero() {
					e.Time = epoch // the store's clock
				}
				all = append(all, e)
			}
		})
	}
	tests := []struct {
		name   string
		filter store.EventFilter
		want   []int
	}{
		{"all", store.EventFilter{}, []int{0, 1, 2, 3}},
		{"after", store.EventFilter{AfterID: all[1].ID}, []int{2, 3}},
		{"limit", store.EventFilter{Limit: 2}, []int{0, 1}},
		{"app", store.EventFilter{Apps: []string{"a"}}, []int{1, 3}},
		{"apps", store.EventFilter{Apps: []string{"a", "b"}, AfterID: all[1].ID}, []int{2, 3}},
		{"no apps", store.EventFilter{Apps: []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Events(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var want []store.Event
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			if !slices.EqualFunc(got, want, eventsEqual) {
				t.Errorf("Events =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func eventsEqual(a, b store.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Type == b.Type && a.App == b.App && a.Task == b.Task &&
		string(a.Payload) == string(b.Payload)
}
