package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRecordRuns records runs (StartRun then FinishRun) from many
// goroutines, as the engine does, and reports runs/s.
//
//	go test -run '^$' -bench RecordRuns -benchtime 2s ./engine/store/
func BenchmarkRecordRuns(b *testing.B) {
	for _, bb := range []struct {
		name        string
		sync        Synchronous
		parallelism int // goroutines per GOMAXPROCS; 0: one goroutine in all
		engine      bool
	}{
		{"NORMAL/parallel", SyncNormal, 16, false},
		{"FULL/parallel", SyncFull, 16, false},
		{"NORMAL/serial", SyncNormal, 0, false},
		// The writes of a run in the engine: start, event, logs, finish,
		// outcome, event.
		{"NORMAL/engine", SyncNormal, 16, true},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s, err := Open(b.Context(), filepath.Join(b.TempDir(), "cronbox.db"), Options{Synchronous: bb.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			record := func(task string) error {
				ctx := b.Context()
				start := time.Now()
				id, err := s.StartRun(ctx, Run{App: "bench", Task: task, Trigger: TriggerManual, StartTime: start})
				if err != nil {
					return err
				}
				if bb.engine {
					if _, err := s.AppendEvent(ctx, Event{Type: "run.started", App: "bench", Task: task}); err != nil {
						return err
					}
					if err := s.AppendLogs(ctx, id, []LogLine{{Level: "info", Message: "working"}, {Level: "info", Message: "done"}}); err != nil {
						return err
					}
				}
				end := RunEnd{Status: StatusSucceeded, EndTime: time.Now(), Duration: time.Since(start), Output: "ok\n"}
				if err := s.FinishRun(ctx, id, end); err != nil {
					return err
				}
				if bb.engine {
					if _, err := s.RecordOutcome(ctx, "bench", task, Outcome{MaxFailures: 3}); err != nil {
						return err
					}
					if _, err := s.AppendEvent(ctx, Event{Type: "run.finished", App: "bench", Task: task}); err != nil {
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
