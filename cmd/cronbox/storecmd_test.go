package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// fillStore records some of everything a store holds in st.
func fillStore(t *testing.T, st storeurl.Store, at time.Time) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		r := store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at.Add(time.Duration(i) * time.Minute),
			StartTime: at.Add(time.Duration(i)*time.Minute + 1500*time.Microsecond), Input: json.RawMessage(`{"n":1}`)}
		id, err := st.StartRun(ctx, r)
		must(err)
		must(st.AppendLogs(ctx, id, []store.LogLine{{Time: at, Level: "info", Message: "line ✓"}, {Time: at, Level: "warn", Message: "two"}}))
		if i < 2 {
			must(st.FinishRun(ctx, id, store.RunEnd{Status: store.StatusFailed, EndTime: r.StartTime.Add(time.Second), Duration: time.Second,
				ExitCode: 2, Output: "out\x00\xff", Error: "exit 2", Result: json.RawMessage(`[1]`), PeakMemory: 1 << 20,
				Usage: store.Usage{CPUTime: time.Duration(i+1) * time.Millisecond, PeakMemory: int64(i+1) << 20, KVWritten: 7}}))
		}
	}
	// A run pruned: its usage goes, the app's totals keep it.
	pruned, err := st.StartRun(ctx, store.Run{App: "a", Task: "p", Trigger: store.TriggerManual, StartTime: at})
	must(err)
	must(st.FinishRun(ctx, pruned, store.RunEnd{Status: store.StatusSucceeded, EndTime: at, Usage: store.Usage{CPUTime: time.Second, HTTPSent: 99}}))
	keep, err := st.StartRun(ctx, store.Run{App: "a", Task: "p", Trigger: store.TriggerManual, StartTime: at})
	must(err)
	must(st.FinishRun(ctx, keep, store.RunEnd{Status: store.StatusSucceeded, EndTime: at}))
	if n, err := st.PruneRuns(ctx, "a", "p", 1, 0, at); err != nil || n != 1 {
		t.Fatalf("PruneRuns = %d, %v", n, err)
	}
	_, err = st.RecordSkipped(ctx, store.Run{App: "b", Task: "u", Trigger: store.TriggerManual, StartTime: at, Reason: "quota"})
	must(err)
	must(st.PutOverride(ctx, store.Override{App: "a", Task: "t", Schedule: json.RawMessage(`"@every 5m"`), Environment: map[string]string{"K": "v"}}))
	_, err = st.RecordOutcome(ctx, "a", "u", store.Outcome{Failed: true, MaxFailures: 1})
	must(err)
	must(st.KV("a").Set(ctx, "k/é", []byte{0, 1, 0xff}))
	must(st.KV("b").Set(ctx, "x", nil))
	must(st.KV("B").Set(ctx, "x", []byte("upper case sorts first by bytes")))
	tid, err := st.CreateToken(ctx, store.Token{Name: "admin", Hash: store.HashToken("cbx_1"), Role: "admin"})
	must(err)
	_, err = st.CreateToken(ctx, store.Token{Name: "ci", Hash: store.HashToken("cbx_2"), Role: "viewer", Apps: []string{"a"}})
	must(err)
	must(st.TouchToken(ctx, tid))
	must(st.PutSession(ctx, store.Session{IDHash: store.HashSession("c"), TokenHash: store.HashToken("cbx_2"), CSRF: "x", ExpiresAt: at.Add(24 * time.Hour)}))
	must(st.SetLoadErrors(ctx, "c", []store.LoadError{{Message: "bad yaml", File: "app.yaml", Line: 3}, {Task: "z", Message: "no module"}}))
	for _, typ := range []string{"run.started", "apps.reloaded"} {
		_, err := st.AppendEvent(ctx, store.Event{Type: typ, App: "a", Payload: json.RawMessage(`{"x":1}`)})
		must(err)
	}
	// A notification sent, one waiting for its retry, and a quiet window
	// that kept quiet about one event.
	for i, ch := range []string{"hook", "slack"} {
		id, err := st.EnqueueNotification(ctx, store.Notification{App: "a", Task: "t", Channel: ch, Kind: "webhook", Event: "failed",
			RunID: 1, Payload: json.RawMessage(`{"url":"https://h.example.com/"}`), Created: at})
		must(err)
		a := store.NotificationAttempt{Time: at.Add(time.Second)}
		if i == 1 {
			a.Err, a.Next = "503", at.Add(time.Minute)
		}
		must(st.RecordAttempt(ctx, id, a))
	}
	for _, now := range []time.Time{at, at.Add(time.Second)} {
		_, err := st.OpenWindow(ctx, store.WindowKey{App: "a", Task: "t", Channel: "hook"}, now, time.Hour)
		must(err)
	}
	must(st.PutSecret(ctx, store.Secret{App: "a", Name: "TOKEN", Ciphertext: []byte{0, 1, 0xff}, UpdatedAt: at}))
	for _, action := range []string{"task.update", "secret.set"} {
		_, err := st.AppendAudit(ctx, store.AuditEntry{Time: at, Actor: "local", Action: action, App: "a", Target: "t",
			Before: json.RawMessage(`{"enabled":true}`)})
		must(err)
	}
}

// dumpStore reads everything st holds through its interfaces, for
// comparing two stores.
func dumpStore(t *testing.T, st storeurl.Store) map[string]any {
	t.Helper()
	ctx := t.Context()
	d := map[string]any{}
	check := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d[name] = v
	}
	runs, err := st.ListRuns(ctx, store.RunFilter{Limit: store.MaxLimit})
	check("runs", runs, err)
	for _, r := range runs {
		full, err := st.GetRun(ctx, r.ID)
		check("run "+r.Task+r.StartTime.String(), full, err)
		logs, err := st.RunLogs(ctx, r.ID, 0, store.MaxLimit)
		check("logs of "+r.StartTime.String(), logs, err)
	}
	ovs, err := st.Overrides(ctx)
	check("overrides", ovs, err)
	for _, app := range []string{"a", "b", "B"} {
		keys, err := st.KV(app).List(ctx, "", "", 100)
		check("keys of "+app, keys, err)
		for _, k := range keys {
			v, _, err := st.KV(app).Get(ctx, k)
			check("value "+app+k, v, err)
		}
		n, err := st.KVUsage(ctx, app)
		check("kv usage "+app, n, err)
		h, err := st.HistoryUsage(ctx, app)
		check("history usage "+app, h, err)
	}
	toks, err := st.ListTokens(ctx)
	check("tokens", toks, err)
	sess, ok, err := st.Session(ctx, store.HashSession("c"))
	check("session", []any{sess, ok}, err)
	les, err := st.LoadErrors(ctx)
	check("load errors", les, err)
	evs, err := st.Events(ctx, store.EventFilter{})
	check("events", evs, err)
	last, err := st.LastScheduled(ctx, "a", "t")
	check("last scheduled", last, err)
	for _, r := range runs {
		u, err := st.RunUsage(ctx, r.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		d[fmt.Sprint("usage of run ", r.ID)] = u
	}
	ns, err := st.ListNotifications(ctx, store.NotificationFilter{})
	check("notifications", ns, err)
	wake, err := st.NextWake(ctx)
	check("notification wake", wake, err)
	secs, err := st.ListSecrets(ctx, "a")
	check("secrets", secs, err)
	sec, err := st.Secret(ctx, "a", "TOKEN")
	check("secret", sec, err)
	audit, err := st.ListAudit(ctx, store.AuditFilter{})
	check("audit", audit, err)
	totals, err := st.UsageTotals(ctx)
	check("usage totals", totals, err)
	since, err := st.UsageSince(ctx, time.Time{})
	check("usage since", since, err)
	return d
}

// TestStoreCopyRoundTrip copies a SQLite store to PostgreSQL and back:
// every table arrives whole and checked, the copy refuses a target that
// holds data unless --force, and the stores number new runs and events
// after the copied ones.
func TestStoreCopyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	orig, err := store.Open(ctx, filepath.Join(dir, "a.db"), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	fillStore(t, orig, at)
	want := dumpStore(t, orig)
	orig.Close()

	pg := pgtest.URL(t)
	code, out, errOut := cli(t, "store", "copy", "--from", "sqlite:"+filepath.Join(dir, "a.db"), "--to", pg)
	if code != 0 {
		t.Fatalf("copy to PostgreSQL: exit %d: %s", code, errOut)
	}
	for _, table := range []string{"TaskExecutions", "run_logs", "run_usage", "app_usage", "TaskConfigurations", "kv", "api_tokens", "sessions", "load_errors", "events",
		"notifications", "notify_windows", "secrets", "audit_log"} {
		if !strings.Contains(out, table) {
			t.Errorf("the report does not list %s:\n%s", table, out)
		}
	}
	if strings.Count(out, " ok\n") != 14 || !strings.Contains(out, "TaskExecutions                5") {
		t.Errorf("the report does not show 14 tables checked, 5 runs:\n%s", out)
	}
	if code, _, errOut := cli(t, "store", "copy", "--from", "sqlite:"+filepath.Join(dir, "a.db"), "--to", pg); code == 0 || !strings.Contains(errOut, "not empty") || !strings.Contains(errOut, "--force") {
		t.Errorf("copy to a store that holds data: exit %d, %s; want it refused", code, errOut)
	}
	if code, _, errOut := cli(t, "store", "copy", "--from", "sqlite:"+filepath.Join(dir, "a.db"), "--to", pg, "--force"); code != 0 {
		t.Errorf("copy --force: exit %d, %s", code, errOut)
	}

	pst, err := postgres.Open(ctx, pg, postgres.Options{MaxConns: 2, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	if got := dumpStore(t, pst); !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("PostgreSQL after the copy: %s =\n%+v\nwant\n%+v", k, got[k], want[k])
			}
		}
	}

	back := filepath.Join(dir, "back.db")
	if code, out, errOut := cli(t, "store", "copy", "--from", pg, "--to", "sqlite:"+back); code != 0 || strings.Count(out, " ok\n") != 14 {
		t.Fatalf("copy back to SQLite: exit %d: %s\n%s", code, errOut, out)
	}
	lst, err := store.Open(ctx, back, store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	if got := dumpStore(t, lst); !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("SQLite after the round trip: %s =\n%+v\nwant\n%+v", k, got[k], want[k])
			}
		}
	}

	// Both number what comes next after what was copied.
	for name, st := range map[string]storeurl.Store{"PostgreSQL": pst, "SQLite": lst} {
		id, err := st.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at})
		if err != nil || id != 7 {
			t.Errorf("%s: a new run got ID %d, %v; want 7", name, id, err)
		}
		eid, err := st.AppendEvent(ctx, store.Event{Type: "x"})
		if err != nil || eid != 3 {
			t.Errorf("%s: a new event got ID %d, %v; want 3", name, eid, err)
		}
		nid, err := st.EnqueueNotification(ctx, store.Notification{Channel: "c", Kind: "webhook", Event: "failed", Payload: json.RawMessage(`{}`)})
		if err != nil || nid != 3 {
			t.Errorf("%s: a new notification got ID %d, %v; want 3", name, nid, err)
		}
		aid, err := st.AppendAudit(ctx, store.AuditEntry{Actor: "local", Action: "x"})
		if err != nil || aid != 3 {
			t.Errorf("%s: a new audit entry got ID %d, %v; want 3", name, aid, err)
		}
		if _, err := st.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerSchedule, ScheduledTime: at, StartTime: at}); err == nil {
			t.Errorf("%s: a copied scheduled time fired again", name)
		}
	}
}

func TestStoreCopyUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"store"}, "want copy"},
		{[]string{"store", "copy", "--from", "sqlite:" + filepath.Join(dir, "a.db")}, "--from and --to are required"},
		{[]string{"store", "copy", "--from", "mysql://x", "--to", "sqlite:b.db"}, `unknown scheme "mysql"`},
		{[]string{"store", "copy", "--from", "sqlite:" + filepath.Join(dir, "a.db"), "--to", "sqlite:" + filepath.Join(dir, "a.db")}, "the same store"},
	} {
		if code, _, stderr := cli(t, tt.args...); code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %s; want %q", tt.args, code, stderr, tt.want)
		}
	}
}
