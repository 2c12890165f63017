package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs this test binary again as a child that records runs
// until it is killed.
const (
	childEnv     = "CRONBOX_STORE_CHILD"
	childPathEnv = "CRONBOX_STORE_PATH"
	// finishedLine starts the line the child prints for each run whose
	// FinishRun has returned.
	finishedLine = "finished "
	// recordedLine prefixes the ID of a run the child recorded in a batch
	// (RecordRuns).
	recordedLine = "recorded "
)

// TestCrashSafety kills a process with SIGKILL while it records runs and
// checks that every run it saw finished is there, finished, in a sound
// database. While the child writes, this process reads its runs through a
// store of its own, as the CLI does while serve runs.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		recordUntilKilled(t, os.Getenv(childPathEnv))
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childPathEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300
	var (
		finished []int64
		recorded []int64 // in batches
		other    []string
		killed   bool
		reader   *SQLite // opened once the child has created the file
	)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), recordedLine); ok {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			recorded = append(recorded, n)
			continue
		}
		id, ok := strings.CutPrefix(sc.Text(), finishedLine)
		if !ok {
			other = append(other, sc.Text())
			continue
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		finished = append(finished, n)
		if reader == nil {
			reader = openAt(t, path, Options{})
		}
		if !killed && len(finished)%10 == 0 {
			if r, err := reader.GetRun(t.Context(), n); err != nil || r.Status != StatusSucceeded {
				t.Errorf("reading run %d while the child writes: %+v, %v", n, r, err)
			}
		}
		if len(finished) == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines printed before the kill are read to the end of the pipe.
	waitErr := cmd.Wait()
	if !killed {
		t.Fatalf("the child ended before it was killed: %v\n%s\n%s", waitErr, strings.Join(other, "\n"), stderr.String())
	}

	if err := reader.Close(); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, Options{})
	ctx := t.Context()
	for _, id := range finished {
		r, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatalf("run %d, finished before the kill: %v", id, err)
		}
		if r.Status != StatusSucceeded || r.EndTime.IsZero() || r.Output != fmt.Sprint("output of ", id) {
			t.Errorf("run %d, finished before the kill: %+v", id, r)
		}
		if lines, err := s.RunLogs(ctx, id, 0, 10); err != nil || len(lines) != 1 {
			t.Errorf("logs of run %d: %v, %v", id, lines, err)
		}
	}
	if len(recorded) == 0 {
		t.Error("the child recorded no batch before it was killed")
	}
	for _, id := range recorded {
		if r, err := s.GetRun(ctx, id); err != nil || r.Trigger != TriggerSchedule {
			t.Fatalf("run %d, recorded in a batch before the kill: %+v, %v", id, r, err)
		}
	}
	if _, err := s.MarkInterrupted(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM TaskExecutions WHERE Status = 'running'`); n != 0 {
		t.Errorf("%d runs still running after MarkInterrupted", n)
	}
	var check string
	if err := s.rdb.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	t.Logf("%d runs finished before the kill, %d recorded in all", len(finished), count(t, s, `SELECT count(*) FROM TaskExecutions`))
}

// recordUntilKilled is the child: several goroutines record runs in the
// store at path and print the ID of each run once FinishRun has returned;
// another records the fires of an instant in batches and prints the ID of
// each run once RecordRuns has returned.
func recordUntilKilled(t *testing.T, path string) {
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var (
		wg  sync.WaitGroup
		out sync.Mutex // one write per line
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				start := time.Now()
				id, err := s.StartRun(ctx, Run{App: "crash", Task: fmt.Sprint("t", w), Trigger: TriggerManual, StartTime: start})
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.AppendLogs(ctx, id, []LogLine{{Level: "info", Message: "working"}}); err != nil {
					t.Error(err)
					return
				}
				end := RunEnd{Status: StatusSucceeded, EndTime: time.Now(), Duration: time.Since(start), Output: fmt.Sprint("output of ", id)}
				if err := s.FinishRun(ctx, id, end); err != nil {
					t.Error(err)
					return
				}
				out.Lock()
				_, err = fmt.Fprintf(os.Stdout, "%s%d\n", finishedLine, id)
				out.Unlock()
				if err != nil {
					return // the parent is gone
				}
			}
		})
	}
	wg.Go(func() {
		at := time.Now().Truncate(time.Second)
		for i := 0; ; i++ {
			runs := make([]Run, 16)
			for j := range runs {
				runs[j] = Run{App: "crash", Task: fmt.Sprint("b", j), Trigger: TriggerSchedule,
					ScheduledTime: at.Add(time.Duration(i) * time.Second), StartTime: time.Now()}
			}
			var lines strings.Builder
			for _, rec := range s.RecordRuns(ctx, runs) {
				if rec.Err != nil {
					t.Error(rec.Err)
					return
				}
				fmt.Fprintf(&lines, "%s%d\n", recordedLine, rec.ID)
			}
			out.Lock()
			_, err := io.WriteString(os.Stdout, lines.String())
			out.Unlock()
			if err != nil {
				return // the parent is gone
			}
		}
	})
	wg.Wait()
}
