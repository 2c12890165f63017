package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// epoch is the tests' "now".
var epoch = time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)

// clock is a test clock that moves only when told to.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// openTest opens a store in a new temporary directory, closed when the
// test ends. Its clock stands at epoch unless opts sets one.
func openTest(t *testing.T, opts Options) *SQLite {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "data", "cronbox.db"), opts)
}

// openAt opens the store at path, closed when the test ends.
func openAt(t *testing.T, path string, opts Options) *SQLite {
	t.Helper()
	if opts.Now == nil {
		opts.Now = newClock(epoch).Now
	}
	s, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the file at path directly, for looking under the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count returns the result of a count query on the store's read pool.
func count(t *testing.T, s *SQLite, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"zero", Options{}, ""},
		{"full", Options{Synchronous: SyncFull}, ""},
		{"bad synchronous", Options{Synchronous: "OFF"}, "Synchronous"},
		{"negative busy timeout", Options{BusyTimeout: -time.Second}, "BusyTimeout"},
		{"negative read conns", Options{MaxReadConns: -1}, "MaxReadConns"},
		{"negative batch", Options{MaxBatch: -1}, "MaxBatch"},
		{"negative log lines", Options{MaxLogLines: -1}, "MaxLogLines"},
		{"negative events", Options{MaxEvents: -1}, "MaxEvents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db"), tt.opts)
			if err == nil {
				s.Close()
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Open = %v, want error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenDefaults(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	if s.opts.Synchronous != SyncNormal || s.opts.BusyTimeout != 5*time.Second || s.opts.MaxLogLines != 10_000 {
		t.Errorf("defaults = %+v", s.opts)
	}
	var mode string
	var sync int
	if err := s.w.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	if err := s.w.db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		t.Errorf("synchronous = %d, %v; want 1 (NORMAL)", sync, err)
	}
	var fk int
	if err := s.w.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v", fk, err)
	}
	full := openTest(t, Options{Synchronous: SyncFull})
	if err := full.w.db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "text")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
	}{
		{"empty path", ""},
		{"directory", dir},
		{"parent is a file", filepath.Join(notDB, "db")},
		{"not a database", notDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, err := Open(t.Context(), tt.path, Options{}); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", tt.path)
			}
		})
	}
}

func TestOpenFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "cronbox.db")
	s := openAt(t, path, Options{})
	if _, err := s.StartRun(t.Context(), Run{App: "a", Task: "t", Trigger: TriggerManual, StartTime: epoch}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", filepath.Base(p), fi.Mode(), err)
		}
	}
}

// TestOpenOddPath opens a file whose path has characters that mean
// something in a URI.
func TestOpenOddPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a b?c#d%20e&f=g", "cronbox.db")
	s := openAt(t, path, Options{})
	if _, err := s.StartRun(t.Context(), manual("a", "t", epoch)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where it was asked to be: %v", err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	_, err = s.StartRun(t.Context(), Run{App: "a", Task: "t", Trigger: TriggerManual, StartTime: epoch})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("StartRun after Close = %v, want %v", err, ErrClosed)
	}
	if err := s.KV("a").Set(t.Context(), "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("KV Set after Close = %v, want %v", err, ErrClosed)
	}
}

// TestCanceledWrite checks that a write whose context is done before it
// reaches the writer is not made.
func TestCanceledWrite(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.StartRun(ctx, Run{App: "a", Task: "t", Trigger: TriggerManual, StartTime: epoch})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("StartRun = %v, want %v", err, context.Canceled)
	}
	if n := count(t, s, `SELECT count(*) FROM TaskExecutions`); n != 0 {
		t.Errorf("%d runs recorded, want 0", n)
	}
}

// TestTwoStoresOneFile opens the file twice, as the CLI does while serve
// runs: each sees what the other wrote, and both can write.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	serve, cli := openAt(t, path, Options{}), openAt(t, path, Options{})
	ctx := t.Context()
	id, err := serve.StartRun(ctx, Run{App: "a", Task: "t", Trigger: TriggerManual, StartTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cli.GetRun(ctx, id); err != nil || r.Status != StatusRunning {
		t.Fatalf("the other store's GetRun = %+v, %v", r, err)
	}
	if _, err := cli.CreateToken(ctx, Token{Name: "ci", Role: "viewer", Hash: HashToken("secret")}); err != nil {
		t.Fatalf("the other store's CreateToken = %v", err)
	}
	if err := serve.FinishRun(ctx, id, RunEnd{Status: StatusSucceeded, EndTime: epoch.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.TokenByHash(ctx, HashToken("secret")); err != nil {
		t.Errorf("TokenByHash of the other store's token = %v", err)
	}
	if r, err := cli.GetRun(ctx, id); err != nil || r.Status != StatusSucceeded {
		t.Errorf("the other store's GetRun after FinishRun = %+v, %v", r, err)
	}
}
