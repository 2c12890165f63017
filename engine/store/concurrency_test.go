package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse writes and reads from many goroutines through two
// stores on one file, as serve and the CLI do; run it with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	stores := []*SQLite{openAt(t, path, Options{}), openAt(t, path, Options{})}
	const (
		workers = 8
		runs    = 25
	)
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%2]
		app := fmt.Sprint("app", w%3)
		wg.Go(func() {
			ctx := t.Context()
			for i := range runs {
				task := fmt.Sprint("w", w)
				id, err := s.StartRun(ctx, scheduled(app, task, epoch.Add(time.Duration(i)*time.Minute)))
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.AppendLogs(ctx, id, []LogLine{{Level: "info", Message: "hello"}}); err != nil {
					t.Error(err)
				}
				if err := s.KV(app).Set(ctx, fmt.Sprint(task, "/", i), []byte{byte(i)}); err != nil {
					t.Error(err)
				}
				if _, err := s.ListRuns(ctx, RunFilter{Apps: []string{app}, Limit: 5}); err != nil {
					t.Error(err)
				}
				if _, err := s.KV(app).List(ctx, task+"/", "", 10); err != nil {
					t.Error(err)
				}
				if err := s.FinishRun(ctx, id, RunEnd{Status: StatusSucceeded, EndTime: epoch.Add(time.Hour)}); err != nil {
					t.Error(err)
				}
				if _, err := s.RecordOutcome(ctx, app, task, Outcome{Failed: i%2 == 0, MaxFailures: 1000}); err != nil {
					t.Error(err)
				}
				if _, err := s.AppendEvent(ctx, Event{Type: "run.finished", App: app}); err != nil {
					t.Error(err)
				}
				if r, err := stores[(w+1)%2].GetRun(ctx, id); err != nil || r.Status != StatusSucceeded {
					t.Errorf("the other store's GetRun(%d) = %+v, %v", id, r, err)
				}
			}
		})
	}
	wg.Wait()
	s := stores[0]
	if n := count(t, s, `SELECT count(*) FROM TaskExecutions WHERE Status = 'succeeded'`); n != workers*runs {
		t.Errorf("%d runs succeeded, want %d", n, workers*runs)
	}
	if n := count(t, s, `SELECT count(*) FROM run_logs`); n != workers*runs {
		t.Errorf("%d log lines, want %d", n, workers*runs)
	}
	if n := count(t, s, `SELECT count(*) FROM kv`); n != workers*runs {
		t.Errorf("%d keys, want %d", n, workers*runs)
	}
}
