package engine

import (
	"testing"
	"time"
)

func TestFakeClockFiresInOrder(t *testing.T) {
	t.Parallel()
	c := NewFakeClock(t0)
	var got []time.Duration
	record := func(d time.Duration) func() {
		return func() { got = append(got, c.Now().Sub(t0)) }
	}
	c.AfterFunc(3*time.Second, record(3*time.Second))
	c.AfterFunc(time.Second, func() {
		got = append(got, c.Now().Sub(t0))
		c.AfterFunc(time.Second, record(2*time.Second)) // set while advancing
	})
	stopped := c.AfterFunc(2500*time.Millisecond, record(0))
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.AfterFunc(time.Hour, record(time.Hour))
	c.Advance(5 * time.Second)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	}
	if !c.Now().Equal(t0.Add(5 * time.Second)) {
		t.Errorf("Now = %v, want t0+5s", c.Now())
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("Pending = %d, want 1", n)
	}
}
