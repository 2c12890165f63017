package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// fullStore is a store whose writes of run starts and heartbeats fail
// while full is set, as on a full disk.
type fullStore struct {
	*store.SQLite
	full atomic.Bool
}

var errFull = errors.New("database or disk is full (13) (SQLITE_FULL)")

func (s *fullStore) StartRun(ctx context.Context, r store.Run) (int64, error) {
	if s.full.Load() {
		return 0, errFull
	}
	return s.SQLite.StartRun(ctx, r)
}

func (s *fullStore) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	if s.full.Load() {
		out := make([]store.Recorded, len(runs))
		for i := range out {
			out[i].Err = errFull
		}
		return out
	}
	return s.SQLite.RecordRuns(ctx, runs)
}

func (s *fullStore) Heartbeat(ctx context.Context, now time.Time) error {
	if s.full.Load() {
		return errFull
	}
	return s.SQLite.Heartbeat(ctx, now)
}

// TestReadyzWhileStoreCannotWrite answers 503, naming the reason, while
// the engine's store cannot write, and 200 again once it can.
func TestReadyzWhileStoreCannotWrite(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "apps", "hello", "app.yaml"), []byte("name: hello\n"))
	writeFile(t, filepath.Join(home, "apps", "hello", "config", "tasks.yaml"), []byte("tasks:\n  - name: greet\n    schedule: \"* * * * *\"\n"))
	writeFile(t, filepath.Join(home, "apps", "hello", "tasks", "greet.wasm"), wasmtest.Hello())
	st, rt := testenv.Open(t, home)
	fs := &fullStore{SQLite: st}
	clock := engine.NewFakeClock(t0)
	es := engine.SQLiteStore(st)
	es.Runs = fs
	eng, err := engine.New(engine.Config{Home: home, Store: es, Runtime: rt, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Engine: eng, Store: SQLiteStore(st), Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(ctx)
		srv.Close()
	})
	advance := func(d time.Duration) {
		t.Helper()
		clock.Advance(d)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := eng.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	readyz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz before: %d %s", code, body)
	}
	fs.full.Store(true)
	advance(time.Minute) // the fire of t0+1m cannot be recorded
	if code, body := readyz(); code != 503 || !strings.Contains(body, "disk is full") {
		t.Fatalf("readyz while the store cannot write: %d %s; want 503 naming the reason", code, body)
	}
	fs.full.Store(false)
	for range 2 {
		advance(time.Second) // the next try of the writes, which succeeds
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz once the store writes again: %d %s", code, body)
	}
}
