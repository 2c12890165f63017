package storecopy

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// TestCopyDetectsDifference copies a run whose error holds a NUL byte,
// which SQLite keeps and PostgreSQL's text cannot: the check sees the
// difference and the copy fails, leaving the target empty.
func TestCopyDetectsDifference(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	id, err := st.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at})
	if err == nil {
		err = st.FinishRun(ctx, id, store.RunEnd{Status: store.StatusFailed, EndTime: at, Error: "bad\x00byte"})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	to := storeurl.Target{Kind: storeurl.Postgres, URL: pgtest.URL(t)}
	reports, err := Copy(ctx, storeurl.Target{Kind: storeurl.SQLite, Path: path}, to, false)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Copy = %v, want %v", err, ErrMismatch)
	}
	if reports[0].RowsIdentical || !reports[1].RowsIdentical {
		t.Errorf("reports %+v: want TaskExecutions to differ, run_logs not", reports[:2])
	}
	// Nothing was committed: a second copy finds the target empty.
	if _, err := Copy(ctx, storeurl.Target{Kind: storeurl.SQLite, Path: path}, to, false); errors.Is(err, ErrNotEmpty) {
		t.Errorf("the failed copy left rows in the target: %v", err)
	}
}
