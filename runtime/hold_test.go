package runtime_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/runtime"
)

// lockedBuffer is a bytes.Buffer for a guest's output, read by the test
// while the guest runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startHeld starts a held run of the guest in a goroutine of the test,
// and returns its Hold and the channel its result arrives on.
func (f *fixture) startHeld(t *testing.T, ctx context.Context, spec runtime.Spec, args ...string) (*runtime.Hold, <-chan *runtime.Result) {
	t.Helper()
	h := runtime.NewHold()
	spec.Hold = h
	done := make(chan *runtime.Result, 1)
	go func() { done <- f.runAsync(ctx, spec, args...) }()
	return h, done
}

// letPass returns once more than d has passed: it waits for a run of its
// own with time limit d to reach it, which is the runtime's clock.
func (f *fixture) letPass(t *testing.T, d time.Duration) {
	t.Helper()
	if res := f.run(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Timeout: d}}, "sleep"); res.Status != runtime.StatusTimedOut {
		t.Fatalf("the clock run ended %s, want %s", res.Status, runtime.StatusTimedOut)
	}
}

func TestHoldHasNoEffectBeforeRelease(t *testing.T) {
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		f := newFixture(t, runtime.Config{Tier: tier})
		out := &lockedBuffer{}
		h, done := f.startHeld(t, context.Background(), runtime.Spec{ID: "held", Stdout: out}, "ok")
		<-h.Waiting()
		if got := out.String(); got != "" {
			t.Fatalf("a held guest wrote %q before its release", got)
		}
		inst := f.rt.Instances()
		if len(inst) != 1 || inst[0].RunID != "held" || !inst[0].Waiting {
			t.Fatalf("Instances() = %+v, want the held run, waiting", inst)
		}
		if !h.Release() {
			t.Fatal("Release() = false for a guest waiting at its gate")
		}
		res := <-done
		if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "hello from the guest\n" {
			t.Fatalf("released run: %s %q %s, want it to succeed and write its line", res.Status, res.Stdout, res.Error)
		}
		if h.Release() {
			t.Error("a second Release() = true")
		}
	})
}

// The time limit bounds a held guest's start-up and its work after the
// release, not its wait between the two.
func TestHoldTimeLimitCountsFromRelease(t *testing.T) {
	onTiers(t, func(t *testing.T, tier runtime.Tier) {
		f := newFixture(t, runtime.Config{Tier: tier})
		const limit = time.Second // bounds the start-up too: the interpreter's, under the race detector
		h, done := f.startHeld(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Timeout: limit}}, "printloop")
		select {
		case <-h.Waiting():
		case res := <-done:
			t.Fatalf("the held run ended before its first effect: %s %s", res.Status, res.Error)
		}
		f.letPass(t, limit)
		released := time.Now()
		if !h.Release() {
			t.Fatal("Release() = false for a guest that waited past its time limit at its gate")
		}
		res := <-done
		if res.Status != runtime.StatusTimedOut || string(res.Stdout) != "looping\n" {
			t.Fatalf("released looping run: %s %q %s, want it to loop until its time limit", res.Status, res.Stdout, res.Error)
		}
		if res.Started.Before(released) || res.Duration < limit {
			t.Errorf("result started %s after the release, lasted %s; want it to count from the release, whole", res.Started.Sub(released), res.Duration)
		}
	})
}

// A held guest that ends before its first effect, of its own or at its
// time limit, cannot be released; nor can one whose run was cancelled.
func TestHoldReleaseAfterTheRunEnded(t *testing.T) {
	f := newFixture(t, runtime.Config{})
	for _, tc := range []struct {
		scenario string
		want     runtime.Status
	}{
		{"trap", runtime.StatusTrapped},
		{"loop", runtime.StatusTimedOut},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			h, done := f.startHeld(t, context.Background(), runtime.Spec{Limits: runtime.Limits{Timeout: 200 * time.Millisecond}}, tc.scenario)
			if res := <-done; res.Status != tc.want {
				t.Fatalf("held %s ended %s (%s), want %s", tc.scenario, res.Status, res.Error, tc.want)
			}
			if h.Release() {
				t.Fatal("Release() = true for a run that ended")
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &lockedBuffer{}
		h, done := f.startHeld(t, ctx, runtime.Spec{Stdout: out}, "ok")
		<-h.Waiting()
		cancel()
		if res := <-done; res.Status != runtime.StatusCancelled || out.String() != "" {
			t.Fatalf("held run cancelled at its gate: %s %q, want cancelled with no output", res.Status, out.String())
		}
		if h.Release() {
			t.Fatal("Release() = true for a cancelled run")
		}
	})
	t.Run("reused", func(t *testing.T) {
		h, done := f.startHeld(t, context.Background(), runtime.Spec{}, "ok")
		<-h.Waiting()
		if _, err := f.rt.Run(context.Background(), f.guest, runtime.Spec{Args: []string{"guest", "ok"}, Hold: h}); err == nil {
			t.Error("a second run with the same Hold started")
		}
		h.Release()
		<-done
	})
}

// A run released before it starts goes on at once, its time limit armed
// as for any run.
func TestHoldReleasedBeforeTheRun(t *testing.T) {
	f := newFixture(t, runtime.Config{})
	h := runtime.NewHold()
	if !h.Release() {
		t.Fatal("Release() = false before the run")
	}
	res := f.run(t, context.Background(), runtime.Spec{Hold: h}, "ok")
	if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "hello from the guest\n" {
		t.Fatalf("run released ahead: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	res = f.run(t, context.Background(), runtime.Spec{Hold: func() *runtime.Hold { h := runtime.NewHold(); h.Release(); return h }(), Limits: runtime.Limits{Timeout: 100 * time.Millisecond}}, "printloop")
	if res.Status != runtime.StatusTimedOut {
		t.Fatalf("looping run released ahead: %s, want %s", res.Status, runtime.StatusTimedOut)
	}
}

// A held run's CPU time is its instance's whole life, start-up included,
// though its goroutine lets go of its thread while it waits at the gate.
func TestHoldCPUTimeCountsTheStartUp(t *testing.T) {
	f := newFixture(t, runtime.Config{})
	const spin = "30000000" // before the guest's first effect
	plain := f.run(t, context.Background(), runtime.Spec{}, "spinok", spin)
	if plain.Status != runtime.StatusSucceeded {
		t.Fatalf("plain run: %s %s", plain.Status, plain.Error)
	}
	if plain.Usage.CPUTime == 0 {
		t.Skip("the thread's CPU time is not measured here")
	}
	h, done := f.startHeld(t, context.Background(), runtime.Spec{}, "spinok", spin)
	<-h.Waiting()
	if !h.Release() {
		t.Fatal("Release() = false for a guest waiting at its gate")
	}
	res := <-done
	if res.Status != runtime.StatusSucceeded || string(res.Stdout) != "spun true\n" {
		t.Fatalf("held run: %s %q %s", res.Status, res.Stdout, res.Error)
	}
	if res.Usage.CPUTime < plain.Usage.CPUTime/2 {
		t.Errorf("held run's CPU time %v, the same run's unheld %v: the start-up before the gate is not counted", res.Usage.CPUTime, plain.Usage.CPUTime)
	}
}
