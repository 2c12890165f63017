package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Notifications checks an implementation of store.Notifications. open
// returns a new, empty store for each test, whose clock is now.
func Notifications(t *testing.T, open func(t *testing.T, now func() time.Time) store.Notifications) {
	t.Run("Queue", func(t *testing.T) { notificationsQueue(t, open) })
	t.Run("List", func(t *testing.T) { notificationsList(t, open) })
	t.Run("Windows", func(t *testing.T) { notificationsWindows(t, open) })
	t.Run("Prune", func(t *testing.T) { notificationsPrune(t, open) })
}

func notification(app, task, channel string) store.Notification {
	return store.Notification{App: app, Task: task, Channel: channel, Kind: "webhook", Event: "failed", RunID: 7,
		Payload: json.RawMessage(`{"url":"https://h.example.com/"}`)}
}

func notificationsQueue(t *testing.T, open func(t *testing.T, now func() time.Time) store.Notifications) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()
	if _, err := s.EnqueueNotification(ctx, store.Notification{Channel: "c", Kind: "webhook", Event: "failed", Payload: json.RawMessage("{")}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("EnqueueNotification of bad JSON = %v, want ErrInvalid", err)
	}
	a, err := s.EnqueueNotification(ctx, notification("a", "t", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	later := notification("a", "t", "c2")
	later.Next = epoch.Add(time.Minute)
	b, err := s.EnqueueNotification(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	due := func(at time.Time) []int64 {
		t.Helper()
		ns, err := s.DueNotifications(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		return ids
	}
	wake := func() time.Time {
		t.Helper()
		w, err := s.NextWake(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	if got := due(epoch); len(got) != 1 || got[0] != a {
		t.Fatalf("due at epoch = %v, want [%d]", got, a)
	}
	if got := wake(); !got.Equal(epoch) {
		t.Errorf("NextWake = %v, want %v", got, epoch)
	}
	// a fails once, is retried later, then sent.
	if err := s.RecordAttempt(ctx, a, store.NotificationAttempt{Time: epoch, Err: "503", Next: epoch.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got := due(epoch.Add(time.Minute)); len(got) != 1 || got[0] != b {
		t.Fatalf("due at +1m = %v, want [%d]", got, b)
	}
	if got := wake(); !got.Equal(epoch.Add(time.Minute)) {
		t.Errorf("NextWake = %v, want +1m", got)
	}
	if got := due(epoch.Add(2 * time.Minute)); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("due at +2m = %v, want [%d %d] (earliest due first)", got, b, a)
	}
	if err := s.RecordAttempt(ctx, a, store.NotificationAttempt{Time: epoch.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(ctx, b, store.NotificationAttempt{Time: epoch.Add(2 * time.Minute), Err: "refused"}); err != nil {
		t.Fatal(err)
	}
	if got := due(epoch.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("due after delivery = %v, want none", got)
	}
	if got := wake(); !got.IsZero() {
		t.Errorf("NextWake with nothing pending = %v, want zero", got)
	}
	if err := s.RecordAttempt(ctx, a, store.NotificationAttempt{}); !errors.Is(err, store.ErrFinished) {
		t.Errorf("RecordAttempt of a sent notification = %v, want ErrFinished", err)
	}
	if err := s.RecordAttempt(ctx, 999, store.NotificationAttempt{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordAttempt of an unknown notification = %v, want ErrNotFound", err)
	}
	ns, err := s.ListNotifications(ctx, store.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("ListNotifications = %+v", ns)
	}
	nb, na := ns[0], ns[1]
	if na.Status != store.NotificationSent || na.Attempts != 2 || na.LastError != "" || !na.Done.Equal(epoch.Add(2*time.Minute)) ||
		!na.Created.Equal(epoch) || !na.Next.IsZero() || na.App != "a" || na.Task != "t" || na.RunID != 7 || string(na.Payload) != `{"url":"https://h.example.com/"}` {
		t.Errorf("sent notification = %+v", na)
	}
	if nb.Status != store.NotificationFailed || nb.Attempts != 1 || nb.LastError != "refused" || nb.Done.IsZero() {
		t.Errorf("given up notification = %+v", nb)
	}
}

func notificationsList(t *testing.T, open func(t *testing.T, now func() time.Time) store.Notifications) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	for _, app := range []string{"a", "b", "a", "c", "a"} {
		if _, err := s.EnqueueNotification(ctx, notification(app, "t", "c")); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f store.NotificationFilter) []int64 {
		t.Helper()
		ns, err := s.ListNotifications(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{}
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		return ids
	}
	for _, tt := range []struct {
		name string
		f    store.NotificationFilter
		want []int64
	}{
		{"all", store.NotificationFilter{}, []int64{5, 4, 3, 2, 1}},
		{"app a", store.NotificationFilter{Apps: []string{"a"}}, []int64{5, 3, 1}},
		{"apps a and c, page", store.NotificationFilter{Apps: []string{"a", "c"}, Limit: 2}, []int64{5, 4}},
		{"next page", store.NotificationFilter{Apps: []string{"a", "c"}, BeforeID: 4, Limit: 2}, []int64{3, 1}},
		{"no apps", store.NotificationFilter{Apps: []string{}}, []int64{}},
	} {
		if got := list(tt.f); !equalIDs(got, tt.want) {
			t.Errorf("%s: ListNotifications = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func notificationsWindows(t *testing.T, open func(t *testing.T, now func() time.Time) store.Notifications) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	k := store.WindowKey{App: "a", Task: "t", Channel: "c"}
	other := store.WindowKey{App: "a", Task: "u", Channel: "c"}
	w := 10 * time.Minute
	step := func(key store.WindowKey, at time.Duration, want bool) {
		t.Helper()
		got, err := s.OpenWindow(ctx, key, epoch.Add(at), w)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("OpenWindow(%v, +%v) = %v, want %v", key, at, got, want)
		}
	}
	step(k, 0, true)
	step(other, time.Second, true) // another task has its own window
	for i := 1; i <= 3; i++ {
		step(k, time.Duration(i)*time.Minute, false)
	}
	take := func(at time.Duration) []store.Suppressed {
		t.Helper()
		got, err := s.TakeSuppressed(ctx, epoch.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, err := s.NextWake(ctx); err != nil || !got.Equal(epoch.Add(w)) {
		t.Errorf("NextWake = %v, %v; want the window's end %v", got, err, epoch.Add(w))
	}
	if got := take(9 * time.Minute); len(got) != 0 {
		t.Fatalf("TakeSuppressed before the window ends = %+v", got)
	}
	got := take(w)
	if len(got) != 1 || got[0].WindowKey != k || got[0].Count != 3 || !got[0].First.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("TakeSuppressed = %+v, want 3 of %v since +1m", got, k)
	}
	if got := take(w); len(got) != 0 {
		t.Fatalf("TakeSuppressed again = %+v, want none", got)
	}
	// The summary opened a new window: the next event is suppressed
	// until it ends; one that comes after its end but before its summary
	// is taken is counted in that summary; then a window opens again.
	step(k, w+time.Minute, false)
	step(k, 2*w+time.Second, false)
	if got := take(2*w + time.Second); len(got) != 1 || got[0].Count != 2 {
		t.Fatalf("TakeSuppressed of the second window = %+v, want a count of 2", got)
	}
	step(k, 3*w+time.Second, true)
	if _, err := s.OpenWindow(ctx, store.WindowKey{App: "a"}, epoch, w); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OpenWindow without a channel = %v, want ErrInvalid", err)
	}
}

func notificationsPrune(t *testing.T, open func(t *testing.T, now func() time.Time) store.Notifications) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	var ids []int64
	for range 3 {
		id, err := s.EnqueueNotification(ctx, notification("a", "t", "c"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// ids[0] sent long ago, ids[1] sent recently, ids[2] still pending.
	if err := s.RecordAttempt(ctx, ids[0], store.NotificationAttempt{Time: epoch.Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(ctx, ids[1], store.NotificationAttempt{Time: epoch, Err: "gone", Next: time.Time{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenWindow(ctx, store.WindowKey{App: "a", Task: "old", Channel: "c"}, epoch.Add(-48*time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenWindow(ctx, store.WindowKey{App: "a", Task: "busy", Channel: "c"}, epoch.Add(-48*time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenWindow(ctx, store.WindowKey{App: "a", Task: "busy", Channel: "c"}, epoch.Add(-48*time.Hour+time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneNotifications(ctx, epoch.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneNotifications = %d, %v; want 1", n, err)
	}
	ns, err := s.ListNotifications(ctx, store.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].ID != ids[2] || ns[1].ID != ids[1] {
		t.Errorf("after pruning: %+v", ns)
	}
	// The old quiet window is gone (a new event opens one at once); the
	// one holding a count stays for its summary.
	if open, err := s.OpenWindow(ctx, store.WindowKey{App: "a", Task: "old", Channel: "c"}, epoch, time.Hour); err != nil || !open {
		t.Errorf("OpenWindow after pruning = %v, %v", open, err)
	}
	sup, err := s.TakeSuppressed(ctx, epoch)
	if err != nil || len(sup) != 1 || sup[0].Task != "busy" || sup[0].Count != 1 {
		t.Errorf("TakeSuppressed after pruning = %+v, %v", sup, err)
	}
}
