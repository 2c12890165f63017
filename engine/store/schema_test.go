package store

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	first, err := Open(t.Context(), path, Options{Now: newClock(epoch).Now})
	if err != nil {
		t.Fatal(err)
	}
	id, err := first.StartRun(t.Context(), manual("a", "t", epoch))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Re-running the migration would fail: its CREATE TABLEs have no IF NOT
	// EXISTS. A later clock shows whether a version was recorded again.
	s := openAt(t, path, Options{Now: newClock(epoch.Add(time.Hour)).Now})
	if r, err := s.GetRun(t.Context(), id); err != nil || r.Status != StatusRunning {
		t.Errorf("run after reopening = %+v, %v", r, err)
	}
	rows, err := s.rdb.Query(`SELECT version, applied_at FROM schema_version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var (
			v  int
			at string
		)
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		if at != formatTime(epoch) {
			t.Errorf("version %d applied at %s, want %s", v, at, formatTime(epoch))
		}
		versions = append(versions, v)
	}
	var want []int
	for _, m := range migrations() {
		want = append(want, m.version)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("schema versions %v, want %v", versions, want)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_version (version, applied_at) VALUES (99, '')`); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open = %v, want %v", err, ErrSchemaTooNew)
	}
}

// TestMigrationRollsBack injects a second migration that fails halfway:
// none of it may remain, and the first must.
func TestMigrationRollsBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	current := len(migrations())
	migs := append(migrations(), migration{version: current + 1, stmts: []string{
		`CREATE TABLE extra (x INTEGER)`,
		`INSERT INTO extra VALUES (1)`,
		`INSERT INTO missing VALUES (1)`,
	}})
	if s, err := open(t.Context(), path, Options{}, migs); err == nil {
		s.Close()
		t.Fatal("open with a failing migration succeeded")
	}
	db := rawDB(t, path)
	var version, extra int
	if err := db.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version != current {
		t.Errorf("schema version = %d, %v; want %d", version, err, current)
	}
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'extra'`).Scan(&extra); err != nil || extra != 0 {
		t.Errorf("table extra: %d, %v; want it rolled back", extra, err)
	}
	openAt(t, path, Options{}) // the current schema still opens
}

// TestConcurrentOpen opens a new file from several goroutines at once:
// each migration is applied once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(t.Context(), path, Options{})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	var n int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != len(migrations()) {
		t.Errorf("%d schema versions recorded (%v), want %d", n, err, len(migrations()))
	}
}

// TestOriginalIndexes checks that the indexes of the original engine's
// tables are kept under their names.
func TestOriginalIndexes(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	for _, name := range []string{
		"idx_task_name", "idx_start_time", "idx_status", "idx_app_name",
		"idx_config_task_name", "idx_config_app_name",
	} {
		if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, name); n != 1 {
			t.Errorf("index %s missing", name)
		}
	}
}

// TestQueryPlans checks that frequent queries use an index rather than a
// scan of the history.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	tests := []struct {
		name, query, wantIndex string
		args                   []any
	}{
		{"last scheduled", lastScheduledSQL, "idx_scheduled_once", []any{"a", "t"}},
		{"runs of an app", `SELECT ID FROM TaskExecutions WHERE AppName IN ('a') ORDER BY ID DESC LIMIT 10`, "idx_app_name", nil},
		{"running", `SELECT ID FROM TaskExecutions WHERE Status = 'running'`, "idx_status", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := s.rdb.Query(`EXPLAIN QUERY PLAN `+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var (
					id, parent, unused int
					detail             string
				)
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if !slices.ContainsFunc(plan, func(d string) bool { return strings.Contains(d, tt.wantIndex) }) {
				t.Errorf("plan %q does not use %s", plan, tt.wantIndex)
			}
		})
	}
}
