package postgres

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestNotificationsClaimedOnce: nodes reading the queue at once each get
// their own notifications, every one exactly once; a node that dies with
// its claims has them taken by another once the claims end.
func TestNotificationsClaimedOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	nodes := make([]*Store, 3)
	for i := range nodes {
		nodes[i] = openTest(t, url, Options{NotifyClaim: time.Hour})
	}
	ctx := t.Context()
	now := time.Now()
	const n = 60
	var want []int64
	for range n {
		id, err := nodes[0].EnqueueNotification(ctx, store.Notification{App: "a", Task: "t", Channel: "c", Kind: "webhook", Event: "failed",
			Payload: json.RawMessage(`{}`), Created: now})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var (
		mu  sync.Mutex
		got = map[int64]int{}
		wg  sync.WaitGroup
	)
	for i, s := range nodes {
		wg.Go(func() {
			for {
				due, err := s.DueNotifications(ctx, now, 7)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, x := range due {
					got[x.ID]++
				}
				mu.Unlock()
				for _, x := range due {
					if i == 2 {
						continue // node 2 dies holding its claims
					}
					if err := s.RecordAttempt(ctx, x.ID, store.NotificationAttempt{Time: now}); err != nil {
						t.Error(err)
					}
				}
				if len(due) == 0 || i == 2 {
					return
				}
			}
		})
	}
	wg.Wait()
	var claimedBy2 []int64
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("notification %d given out %d times, want once", id, got[id])
		}
	}
	list, err := nodes[0].ListNotifications(ctx, store.NotificationFilter{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		if x.Status == store.NotificationPending {
			claimedBy2 = append(claimedBy2, x.ID)
		}
	}
	if len(claimedBy2) == 0 || len(claimedBy2) > 7 {
		t.Fatalf("pending after delivery: %v, want node 2's claims (1 to 7)", claimedBy2)
	}
	// While node 2's claims hold, the others see them due when they end.
	if due, err := nodes[0].DueNotifications(ctx, now, n); err != nil || len(due) != 0 {
		t.Fatalf("DueNotifications of claimed ones = %v, %v; want none", due, err)
	}
	wake, err := nodes[0].NextWake(ctx)
	if err != nil || wake.Before(now.Add(30*time.Minute)) {
		t.Errorf("NextWake with node 2's claims = %v, %v; want the claims' end, an hour on", wake, err)
	}
	// Node 2's claims end (its lease ran out): node 1 takes them.
	if _, err := nodes[0].pool.Exec(ctx, `UPDATE notifications SET claim_until = now() - interval '1 second' WHERE claimed_by = $1`, nodes[2].name); err != nil {
		t.Fatal(err)
	}
	due, err := nodes[1].DueNotifications(ctx, now, n)
	if err != nil {
		t.Fatal(err)
	}
	var taken []int64
	for _, x := range due {
		taken = append(taken, x.ID)
	}
	slices.Sort(claimedBy2)
	if !slices.Equal(taken, claimedBy2) {
		t.Errorf("node 1 took %v, want node 2's %v", taken, claimedBy2)
	}
}
