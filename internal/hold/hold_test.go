package hold

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// parkLog records the calls of a gate's park and unpark.
type parkLog struct {
	mu     sync.Mutex
	calls  []string
	parked chan struct{} // closed at the first park
}

func newParkLog() *parkLog { return &parkLog{parked: make(chan struct{})} }

func (l *parkLog) park() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "park")
	if len(l.calls) == 1 {
		close(l.parked)
	}
}

func (l *parkLog) unpark() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "unpark")
}

func (l *parkLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, ",")
}

// The waiting guest's goroutine parks before it waits at the gate and
// unparks once it is done waiting, whether it was released or its run
// ended; a guest that finds the gate open neither parks nor unparks.
func TestPassParksWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		end    func(g *Gate, cancel context.CancelFunc)
		passed bool
	}{
		{"released", func(g *Gate, _ context.CancelFunc) { g.Release() }, true},
		{"cancelled", func(_ *Gate, cancel context.CancelFunc) { cancel() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New()
			log := newParkLog()
			g.Start(nil, 0, log.park, log.unpark)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			passed := make(chan bool, 1)
			go func() { passed <- Pass(With(ctx, g)) }()
			<-log.parked
			if got := log.String(); got != "park" {
				t.Fatalf("calls while waiting: %q, want park", got)
			}
			tc.end(g, cancel)
			if got := <-passed; got != tc.passed {
				t.Fatalf("Pass() = %v, want %v", got, tc.passed)
			}
			if got := log.String(); got != "park,unpark" {
				t.Fatalf("calls: %q, want park,unpark", got)
			}
		})
	}
	t.Run("open", func(t *testing.T) {
		g := New()
		log := newParkLog()
		g.Start(nil, 0, log.park, log.unpark)
		g.Release()
		if !Pass(With(context.Background(), g)) {
			t.Fatal("Pass() = false at an open gate")
		}
		if got := log.String(); got != "" {
			t.Fatalf("calls at an open gate: %q, want none", got)
		}
	})
}
