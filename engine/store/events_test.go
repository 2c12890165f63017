package store

import (
	"fmt"
	"testing"
)

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

func TestLastEventID(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{MaxEvents: 10})
	if got, err := s.LastEventID(t.Context()); err != nil || got != 0 {
		t.Fatalf("LastEventID of no events = %d, %v; want 0", got, err)
	}
	for range 200 { // past MaxEvents: pruning keeps the latest
		id, err := s.AppendEvent(t.Context(), Event{Type: "x", App: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.LastEventID(t.Context()); err != nil || got != id {
			t.Fatalf("LastEventID = %d, %v; want %d", got, err, id)
		}
	}
}
