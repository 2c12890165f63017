package engine

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// smallDisk mounts an 8 MiB tmpfs for the test and returns its path; it
// skips the test when it cannot (not root, no mount).
func smallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipping: mounting a tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full, and returns its
// path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for len(chunk) > 1 { // the last partial pages
		chunk = chunk[:len(chunk)/2]
		f.Write(chunk)
	}
	return path
}

// truncateLog copies the write-ahead log of the database at path back
// into it and truncates the log to nothing, so that the next write must
// grow the log file: otherwise it may find room in the file left by
// earlier writes, and a full disk would not stop it.
func truncateLog(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: "_pragma=busy_timeout(10000)"}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A checkpoint of the store's own checkpointer makes this one busy.
	testenv.WaitFor(t, "the log to be truncated", func() bool {
		var busy, logged, copied int
		if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil {
			t.Fatalf("truncating the log: %v", err)
		}
		return busy == 0
	})
}

// TestFullDisk runs Cronbox on an 8 MiB disk. A run flooding its log stays
// within limits.logs and fills nothing. When the disk is full all the
// same, the engine is unhealthy and a fire it cannot record is not lost:
// once there is room again, the task's misfire policy applies to it and
// the engine is healthy.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	home := smallDisk(t)
	writeApp(t, home, testApp{name: "flood", tasks: "tasks:\n  - name: echo\n", modules: map[string][]byte{"echo": echoModule(t)}})
	writeApp(t, home, testApp{name: "other", tasks: "tasks:\n  - name: tick\n    schedule: \"*/10 * * * *\"\n",
		modules: map[string][]byte{"tick": wasmtest.Hello()}})
	st, rt := testenv.Open(t, home)
	b := &bundle{t: t, home: home, clock: NewFakeClock(t0), store: st, rt: rt}
	b.engine = b.newEngine(Config{}, SQLiteStore(st))
	b.start()

	// 20,000 lines of 64 KiB grew the database by 610 MiB; 200 would fill
	// this disk.
	r := b.trigger("flood", "echo", floodInput(200, 64<<10))
	if r.Status != store.StatusSucceeded || r.LogsDropped == 0 {
		t.Fatalf("flooding run: %s (%s), %d lines dropped; want it to succeed with lines dropped", r.Status, r.Error, r.LogsDropped)
	}
	if err := b.engine.Healthy(); err != nil {
		t.Fatalf("Healthy after the flood: %v", err)
	}

	truncateLog(t, homedir.Home(home).DB())
	ballast := fillDisk(t, home)
	b.advance(11*time.Minute, time.Minute) // t0+10m fires
	err := b.engine.Healthy()
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("Healthy on a full disk = %v, want an error saying it is full", err)
	}
	if runs := b.runs("other", "tick"); len(runs) != 0 {
		t.Fatalf("%d runs recorded on a full disk", len(runs))
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	b.advance(2*time.Minute, 10*time.Second)
	if err := b.engine.Healthy(); err != nil {
		t.Fatalf("Healthy once there is room: %v", err)
	}
	runs := b.runs("other", "tick")
	if len(runs) != 1 || runs[0].Status != store.StatusSkipped || !runs[0].ScheduledTime.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("runs of other/tick %+v; want the fire of t0+10m recorded as skipped", runs)
	}
	running, err := st.ListRuns(context.Background(), store.RunFilter{Statuses: []store.Status{store.StatusRunning}})
	if err != nil || len(running) != 0 {
		t.Fatalf("%d runs left running (%v), want none", len(running), err)
	}
}
