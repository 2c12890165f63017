package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/internal/cputime"
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
		// The writes of a run in the engine: start, event, logs, end
		// with its outcome, event.
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
				if !bb.engine {
					return s.FinishRun(ctx, id, end)
				}
				after := AfterEnd{App: "bench", Task: task, Outcome: &Outcome{MaxFailures: 3}}
				if _, err := s.EndRun(ctx, id, end, after); err != nil {
					return err
				}
				_, err = s.AppendEvent(ctx, Event{Type: "run.finished", App: "bench", Task: task})
				return err
			}
			b.ResetTimer()
			cpu := startCPU(b)
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
			cpu.report(b.N)
		})
	}
}

// BenchmarkFireInstant records the fires of n tasks due at one instant:
// one StartRun each from goroutines of their own, or one RecordRuns.
//
//	go test -run '^$' -bench FireInstant ./engine/store/
func BenchmarkFireInstant(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "cronbox.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		at := time.Now().Truncate(time.Second)
		runs := func() []Run {
			at = at.Add(time.Second)
			runs := make([]Run, n)
			for i := range runs {
				runs[i] = Run{App: fmt.Sprintf("a%03d", i%10), Task: fmt.Sprintf("t%d", i), Trigger: TriggerSchedule, ScheduledTime: at, StartTime: time.Now()}
			}
			return runs
		}
		b.Run(fmt.Sprintf("StartRun/%d", n), func(b *testing.B) {
			cpu := startCPU(b)
			for b.Loop() {
				var wg sync.WaitGroup
				for _, r := range runs() {
					wg.Go(func() {
						if _, err := s.StartRun(b.Context(), r); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			cpu.report(b.N * n)
		})
		b.Run(fmt.Sprintf("RecordRuns/%d", n), func(b *testing.B) {
			cpu := startCPU(b)
			for b.Loop() {
				for _, rec := range s.RecordRuns(b.Context(), runs()) {
					if rec.Err != nil {
						b.Fatal(rec.Err)
					}
				}
			}
			cpu.report(b.N * n)
		})
	}
}

// cpuMeter measures the process's CPU time over a benchmark, a figure
// that a busy machine disturbs less than the wall clock: it is reported
// per run recorded, as cpu-µs/run.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
	ok    bool
}

func startCPU(b *testing.B) cpuMeter {
	start, ok := cputime.Process()
	return cpuMeter{b: b, start: start, ok: ok}
}

// report reports the CPU time spent since startCPU for each of runs.
func (m cpuMeter) report(runs int) {
	end, ok := cputime.Process()
	if !m.ok || !ok || runs == 0 {
		return
	}
	m.b.ReportMetric(float64((end-m.start).Microseconds())/float64(runs), "cpu-µs/run")
}
