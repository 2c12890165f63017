package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWritesDoNotWaitForCheckpoints: a commit that leaves far more than
// SQLite's 1,000 pages of log returns without copying them into the
// database file (SQLite's automatic checkpoint would have, inside the
// commit, syncs included), while the checkpointer is held; once it goes
// on, it copies them into the database file.
func TestWritesDoNotWaitForCheckpoints(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	release := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	s, err := Open(ctx, path, Options{checkpointHold: func() { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer unhold() // before Close, which waits for the checkpointer

	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	const blob = 8 << 20 // 2,048 pages of 4 KiB
	err = s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE big (b BLOB)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO big VALUES (zeroblob(?))`, blob)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := size(); got >= before+blob {
		t.Fatalf("the database file grew from %d to %d bytes inside the commit: it was checkpointed there", before, got)
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT length(b) FROM big`).Scan(&n); err != nil || n != blob {
		t.Fatalf("reading the committed blob: %d, %v", n, err)
	}

	// The held checkpoint goes on before the checkpointer can see Close.
	unhold()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if frames, err := s.ckpt.copied(); err != nil || frames < blob/4096 {
		t.Fatalf("checkpointer copied %d frames (%v), want at least %d", frames, err, blob/4096)
	}
	if got := size(); got < before+blob {
		t.Fatalf("the database file has %d bytes, want at least %d", got, before+blob)
	}
}

// TestCheckpointerStopsWithTheStore: Close stops the checkpointer even
// while a checkpoint is wanted, and the store's data is all in the file
// afterwards (SQLite's last connection checkpoints what is left).
func TestCheckpointerStopsWithTheStore(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cronbox.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if i == 0 {
				if _, err := tx.ExecContext(ctx, `CREATE TABLE n (i INTEGER)`); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO n VALUES (?)`, i)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the log is still there after Close: %v", err)
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.rdb.QueryRowContext(context.Background(), `SELECT count(*) FROM n`).Scan(&n); err != nil || n != 100 {
		t.Fatalf("rows after reopening: %d, %v", n, err)
	}
}
