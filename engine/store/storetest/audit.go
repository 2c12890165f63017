package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Audit checks an implementation of store.Audit. open returns a new,
// empty store for each test, whose clock is now.
func Audit(t *testing.T, open func(t *testing.T, now func() time.Time) store.Audit) {
	t.Run("AppendList", func(t *testing.T) { auditList(t, open) })
	t.Run("Prune", func(t *testing.T) { auditPrune(t, open) })
}

func auditList(t *testing.T, open func(t *testing.T, now func() time.Time) store.Audit) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()

	for _, bad := range []store.AuditEntry{{Action: "x"}, {Actor: "x"}} {
		if _, err := s.AppendAudit(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AppendAudit(%+v) = %v, want %v", bad, err, store.ErrInvalid)
		}
	}
	entries := []store.AuditEntry{
		{Actor: "token:ops", TokenID: 1, Action: "task.update", App: "a", Target: "a/t", Before: json.RawMessage(`{"enabled":true}`), After: json.RawMessage(`{"enabled":false}`)},
		{Actor: "cli:root", Action: "token.create", Target: "2", After: json.RawMessage(`{"name":"ci"}`)},
		{Actor: "token:ops", TokenID: 1, Action: "secret.set", App: "b", Target: "KEY"},
		{Actor: "local", Action: "task.trigger", App: "a", Target: "a/t", Time: epoch.Add(-time.Hour)},
	}
	var last int64
	for i, e := range entries {
		clk.Advance(time.Minute)
		id, err := s.AppendAudit(ctx, e)
		if err != nil || id <= last {
			t.Fatalf("AppendAudit #%d = %d, %v; want an ID above %d", i, id, err, last)
		}
		last = id
		entries[i].ID = id
		if entries[i].Time.IsZero() {
			entries[i].Time = clk.Now()
		}
	}

	ids := func(list []store.AuditEntry) []int64 {
		out := []int64{}
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	id := func(i int) int64 { return entries[i].ID }
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all", store.AuditFilter{}, []int64{id(3), id(2), id(1), id(0)}},
		{"apps", store.AuditFilter{Apps: []string{"a"}}, []int64{id(3), id(0)}},
		{"no apps", store.AuditFilter{Apps: []string{}}, []int64{}},
		{"app", store.AuditFilter{App: "b"}, []int64{id(2)}},
		{"actor", store.AuditFilter{Actor: "token:ops"}, []int64{id(2), id(0)}},
		{"action", store.AuditFilter{Action: "token.create"}, []int64{id(1)}},
		{"since", store.AuditFilter{Since: epoch.Add(2 * time.Minute)}, []int64{id(2), id(1)}},
		{"until", store.AuditFilter{Until: epoch.Add(2 * time.Minute)}, []int64{id(3), id(0)}},
		{"page 1", store.AuditFilter{Limit: 2}, []int64{id(3), id(2)}},
		{"page 2", store.AuditFilter{Limit: 2, Before: id(2)}, []int64{id(1), id(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.ListAudit(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(list); !equalInts(got, tt.want) {
				t.Errorf("ListAudit(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}

	list, err := s.ListAudit(ctx, store.AuditFilter{Action: "task.update"})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAudit(task.update) = %+v, %v", list, err)
	}
	got, want := list[0], entries[0]
	if got.Actor != want.Actor || got.TokenID != want.TokenID || got.App != want.App || got.Target != want.Target ||
		!got.Time.Equal(want.Time) || !jsonEqual(got.Before, want.Before) || !jsonEqual(got.After, want.After) {
		t.Errorf("entry = %+v, want %+v", got, want)
	}
	if list, err := s.ListAudit(ctx, store.AuditFilter{Action: "task.trigger"}); err != nil || len(list) != 1 || list[0].Before != nil || list[0].After != nil {
		t.Errorf("an entry without before and after = %+v, %v; want nil JSON", list, err)
	}
}

func auditPrune(t *testing.T, open func(t *testing.T, now func() time.Time) store.Audit) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.AppendAudit(ctx, store.AuditEntry{Actor: "cli:u", Action: "app.enable", App: "a", Time: epoch.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneAudit(ctx, epoch.Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneAudit = %d, %v; want 1", n, err)
	}
	if n, err := s.PruneAudit(ctx, epoch.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneAudit again = %d, %v; want 0", n, err)
	}
	list, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(list) != 2 || !list[1].Time.Equal(epoch.Add(time.Hour)) {
		t.Errorf("after pruning: %+v, %v; want the entries from %v on", list, err, epoch.Add(time.Hour))
	}
}

func equalInts(a, b []int64) bool {
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

// jsonEqual compares JSON documents by value.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}
