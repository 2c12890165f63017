package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/testenv"
)

// queued returns how many writes wait for a sender.
func (w *groupWriter) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// holdSender keeps the only sender of s busy: it appends an event while
// another connection holds the events' lock, until the returned function
// releases the lock and waits for the event's write.
func holdSender(t *testing.T, url string, s *Store) (release func()) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(eventLock)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.AppendEvents(context.Background(), []store.Event{{Type: "held"}})
		done <- err
	}()
	testenv.WaitFor(t, "the sender to wait for the events' lock", func() bool {
		var waiting bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting
	})
	return func() {
		t.Helper()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(eventLock)); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if err := <-done; err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
	}
}

// TestGroupWrites queues writes behind a busy sender: they go in one
// round trip, one transaction, and each caller gets its own outcome. A
// write whose statement fails (a scheduled time recorded before) fails
// alone: the others are recorded all the same.
func TestGroupWrites(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	count := &RoundTrips{}
	s := openTest(t, url, Options{Tracer: count, Writers: 1})
	ctx := t.Context()
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	fired, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at})
	if err != nil {
		t.Fatal(err)
	}

	// starts records a run of task a/t for each scheduled time, with one
	// end of an unknown run, from as many goroutines behind a busy sender,
	// and returns their IDs and errors and the round trips they took.
	starts := func(times []time.Time) ([]int64, []error, error, int64) {
		t.Helper()
		release := holdSender(t, url, s)
		var (
			wg     sync.WaitGroup
			ids    = make([]int64, len(times))
			errs   = make([]error, len(times))
			endErr error
		)
		for i, st := range times {
			wg.Go(func() {
				ids[i], errs[i] = s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: st, StartTime: at})
			})
		}
		wg.Go(func() {
			endErr = s.FinishRun(ctx, 1<<40, store.RunEnd{Status: store.StatusSucceeded, EndTime: at})
		})
		testenv.WaitFor(t, "the writes to queue", func() bool { return s.writes.queued() == len(times)+1 })
		before := count.Load()
		release()
		wg.Wait()
		return ids, errs, endErr, count.Load() - before
	}

	times := make([]time.Time, 20)
	for i := range times {
		times[i] = at.Add(time.Duration(i+1) * time.Minute)
	}
	ids, errs, endErr, trips := starts(times)
	if trips != 1 {
		t.Errorf("%d writes took %d round trips, want 1", len(times)+1, trips)
	}
	if !errors.Is(endErr, store.ErrNotFound) {
		t.Errorf("FinishRun of an unknown run = %v, want ErrNotFound", endErr)
	}
	seen := map[int64]bool{fired: true}
	for i, err := range errs {
		if err != nil || seen[ids[i]] {
			t.Fatalf("StartRun %d = %d, %v; want a new ID", i, ids[i], err)
		}
		seen[ids[i]] = true
	}

	// The time recorded first, among new ones: it fails alone.
	for i := range times {
		times[i] = at.Add(time.Duration(i+1) * time.Hour)
	}
	times[7] = at
	ids, errs, endErr, trips = starts(times)
	if want := int64(1 + len(times) + 1); trips != want {
		t.Errorf("%d writes with a failing one took %d round trips, want %d (the group, then each alone)", len(times)+1, trips, want)
	}
	if !errors.Is(endErr, store.ErrNotFound) {
		t.Errorf("FinishRun of an unknown run = %v, want ErrNotFound", endErr)
	}
	for i, err := range errs {
		switch {
		case i == 7:
			if !errors.Is(err, store.ErrDuplicate) {
				t.Errorf("StartRun of the time recorded before = %d, %v; want ErrDuplicate", ids[i], err)
			}
		case err != nil || seen[ids[i]]:
			t.Errorf("StartRun %d = %d, %v; want a new ID", i, ids[i], err)
		default:
			seen[ids[i]] = true
		}
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 20 + 19; len(runs) != want {
		t.Errorf("%d runs recorded, want %d", len(runs), want)
	}
	for _, r := range runs {
		if !seen[r.ID] {
			t.Errorf("run %d recorded, not returned to a caller", r.ID)
		}
	}
}

// TestGroupWriterClose answers the writes queued before Close, and
// refuses those after.
func TestGroupWriterClose(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{Writers: 1})
	release := holdSender(t, url, s)
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	var (
		id  int64
		err error
		wg  sync.WaitGroup
	)
	wg.Go(func() {
		id, err = s.StartRun(context.Background(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at})
	})
	testenv.WaitFor(t, "the start to queue", func() bool { return s.writes.queued() == 1 })
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	testenv.WaitFor(t, "Close to begin", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return s.writes.closed
	})
	if _, err := s.StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("StartRun after Close = %v, want ErrClosed", err)
	}
	release()
	wg.Wait()
	<-closed
	if err != nil || id == 0 {
		t.Errorf("StartRun queued before Close = %d, %v; want it recorded", id, err)
	}
}

// TestGroupWriterAbandoned: a caller that leaves while its write waits
// gets its context's error, and the write is not made.
func TestGroupWriterAbandoned(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{Writers: 1})
	release := holdSender(t, url, s)
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at})
		done <- err
	}()
	testenv.WaitFor(t, "the start to queue", func() bool { return s.writes.queued() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("StartRun abandoned = %v, want context.Canceled", err)
	}
	release()
	if _, err := s.StartRun(t.Context(), store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at}); err != nil {
		t.Errorf("StartRun of the abandoned time = %v, want it recorded now", err)
	}
}

// TestWriteAgainAfterDeadlock sends writes whose statement fails with a
// deadlock a number of times first, as a conflict with another node's
// transaction would: a write is sent again until it gets past the
// conflict, and only one that keeps failing reports it.
func TestWriteAgainAfterDeadlock(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openTest(t, url, Options{Writers: 1})
	ctx := t.Context()
	// conflicted(name, n) fails with deadlock_detected the first n times
	// it is called for name: a sequence counts the calls, and is not
	// rolled back with the transaction that failed.
	if _, err := s.Pool().Exec(ctx, `CREATE FUNCTION conflicted(seq text, n integer) RETURNS integer AS $$
		BEGIN
			IF nextval(seq) <= n THEN
				RAISE EXCEPTION 'conflict' USING ERRCODE = 'deadlock_detected';
			END IF;
			RETURN 1;
		END $$ LANGUAGE plpgsql`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		conflicts int
		wantErr   bool
	}{
		{"once", 1, false},
		{"twice", 2, false},
		{"always", 1000, true},
	} {
		seq := "calls_" + tt.name
		if _, err := s.Pool().Exec(ctx, `CREATE SEQUENCE `+seq); err != nil {
			t.Fatal(err)
		}
		b := &pgx.Batch{}
		b.Queue(`SELECT conflicted($1, $2)`, seq, tt.conflicts)
		var got int
		err := s.write(ctx, b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&got) })
		var calls int
		if err := s.Pool().QueryRow(ctx, `SELECT last_value FROM `+seq).Scan(&calls); err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.wantErr && !transient(err):
			t.Errorf("%s: %v, want the deadlock", tt.name, err)
		case tt.wantErr && calls != 1+maxAlone:
			t.Errorf("%s: sent %d times, want %d", tt.name, calls, 1+maxAlone)
		case !tt.wantErr && (err != nil || got != 1):
			t.Errorf("%s: %d, %v; want the write made", tt.name, got, err)
		case !tt.wantErr && calls != tt.conflicts+1:
			t.Errorf("%s: sent %d times, want %d", tt.name, calls, tt.conflicts+1)
		}
	}
}

// TestGroupsKeepEventsApart takes groups from a queue that mixes writes
// that take the events' lock with others: a group holds one kind only,
// that of the write that waited longest, so that no run's write waits
// for the lock; the others stay queued in their order.
func TestGroupsKeepEventsApart(t *testing.T) {
	t.Parallel()
	w := newGroupWriter(nil, 0, (&Store{}).lockApp) // no sender: the test takes
	op := func(slots string, last bool) *groupOp { return &groupOp{slots: slots, last: last} }
	event1, start1, event2, start2, end := op("", true), op("b", false), op("", true), op("a", false), op("", false)
	w.queue = []*groupOp{event1, start1, event2, start2, end}
	check := func(name string, got []*groupOp, want ...*groupOp) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: a group of %d writes, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: write %d of the group is not the one expected", name, i)
			}
		}
	}
	check("first group", w.take(nil), event1, event2)
	// The writes that lock no slots first, then in the order of apps.
	check("second group", w.take(nil), end, start2, start1)
	if n := w.queued(); n != 0 {
		t.Errorf("%d writes left queued, want 0", n)
	}
	w.close()
}
