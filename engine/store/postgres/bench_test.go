package postgres

import (
	"fmt"
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
