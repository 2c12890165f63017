package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// BenchmarkRecordRuns records runs as the SQLite store's benchmark of the
// same name does, and reports runs/s: StartRun then FinishRun, or (engine)
// the writes of a run in the engine: start, event, logs, finish, outcome,
// event.
//
//	go test -run '^$' -bench RecordRuns -benchtime 2s ./engine/store/postgres/
func BenchmarkRecordRuns(b *testing.B) {
	for _, bb := range []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS; 0: one goroutine in all
		engine      bool
	}{
		{"parallel", 16, false},
		{"serial", 0, false},
		{"engine", 16, true},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s, err := Open(b.Context(), pgtest.URL(b), Options{MaxConns: 16})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			record := func(task string) error {
				ctx := b.Context()
				start := time.Now()
				id, err := s.StartRun(ctx, store.Run{App: "bench", Task: task, Trigger: store.TriggerManual, StartTime: start})
				if err != nil {
					return err
				}
				if bb.engine {
					if _, err := s.AppendEvent(ctx, store.Event{Type: "run.started", App: "bench", Task: task}); err != nil {
						return err
					}
					if err := s.AppendLogs(ctx, id, []store.LogLine{{Level: "info", Message: "working"}, {Level: "info", Message: "done"}}); err != nil {
						return err
					}
				}
				end := store.RunEnd{Status: store.StatusSucceeded, EndTime: time.Now(), Duration: time.Since(start), Output: "ok\n"}
				if err := s.FinishRun(ctx, id, end); err != nil {
					return err
				}
				if bb.engine {
					if _, err := s.RecordOutcome(ctx, "bench", task, store.Outcome{MaxFailures: 3}); err != nil {
						return err
					}
					if _, err := s.AppendEvent(ctx, store.Event{Type: "run.finished", App: "bench", Task: task}); err != nil {
						return err
					}
				}
				return nil
			}
			b.ResetTimer()
			if bb.parallelism == 0 {
				for b.Loop() {
					if err := record("t"); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(bb.parallelism)
				b.RunParallel(func(pb *testing.PB) {
					task := fmt.Sprint("t", time.Now().UnixNano()%16)
					for pb.Next() {
						if err := record(task); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}

// BenchmarkSlots measures what the slots of an app's quotas cost a node
// of a cluster: runs of one app started and finished by 32 goroutines,
// StartRun taking a slot (and FinishRun giving it back), against the same
// without slots, in alternating rounds of the same run. It reports both
// rates and their ratio: every start and end of an app's run locks the
// node's lease of the app until it commits, and the app's row of
// app_slots when the lease grows or shrinks.
//
//	go test -run '^$' -bench Slots -benchtime 5x ./engine/store/postgres/
func BenchmarkSlots(b *testing.B) {
	s, err := Open(b.Context(), pgtest.URL(b), Options{MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.RegisterNode(b.Context(), store.NodeStatus{Name: "n"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	const workers, perWorker = 32, 50
	round := func(slot bool) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range perWorker {
					r := store.Run{App: "bench", Task: fmt.Sprint("t", w%8), Trigger: store.TriggerManual, StartTime: time.Now(), Node: "n"}
					if slot {
						r.Slot = &store.Slot{Concurrency: 1000, Memory: 1 << 20, MemoryQuota: 1 << 40}
					}
					id, err := s.StartRun(b.Context(), r)
					if err == nil && slot && !r.Slot.Taken {
						err = fmt.Errorf("no slot taken")
					}
					if err == nil {
						err = s.FinishRun(b.Context(), id, store.RunEnd{Status: store.StatusSucceeded, EndTime: time.Now()})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var without, with time.Duration
	for b.Loop() {
		without += round(false)
		with += round(true)
	}
	runs := float64(b.N * workers * perWorker)
	b.ReportMetric(runs/without.Seconds(), "runs/s")
	b.ReportMetric(runs/with.Seconds(), "slot-runs/s")
	b.ReportMetric(with.Seconds()/without.Seconds(), "slot/plain")
}
