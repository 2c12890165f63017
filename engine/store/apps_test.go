package store

import (
	"errors"
	"testing"
)

// TestDeleteAppData fills the store for three apps, purges one, and checks
// that the others lost nothing.
func TestDeleteAppData(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	apps := []string{"a", "ab", "b"} // "ab" catches a prefix match
	for _, app := range apps {
		for i := range 3 {
			id := mustStart(t, s, manual(app, "t", epoch))
			if err := s.AppendLogs(ctx, id, []LogLine{{Level: "info", Message: "x"}, {Level: "info", Message: "y"}}); err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				mustFinish(t, s, id, StatusSucceeded, epoch)
			}
		}
		if err := s.KV(app).Set(ctx, "k", []byte(app)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutOverride(ctx, Override{App: app, Task: "t", Deleted: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLoadErrors(ctx, app, []LoadError{{Message: "x"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendEvent(ctx, Event{Type: "x", App: app}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSecret(ctx, Secret{App: app, Name: "K", Ciphertext: []byte("sealed")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendAudit(ctx, AuditEntry{Actor: "cli:u", Action: "secret.set", App: app}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateToken(ctx, Token{Name: "a's", Role: "viewer", Apps: []string{"a"}, Hash: HashToken("t")}); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteAppData(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAppData(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeleteAppData(\"\") = %v, want %v", err, ErrInvalid)
	}

	tables := []struct {
		name, query string
		perApp      int
	}{
		{"runs", `SELECT count(*) FROM TaskExecutions WHERE AppName = ?`, 3},
		{"logs", `SELECT count(*) FROM run_logs JOIN TaskExecutions ON ID = run_id WHERE AppName = ?`, 6},
		{"kv", `SELECT count(*) FROM kv WHERE app = ?`, 1},
		{"overrides", `SELECT count(*) FROM TaskConfigurations WHERE AppName = ?`, 1},
		{"load errors", `SELECT count(*) FROM load_errors WHERE app = ?`, 1},
		{"events", `SELECT count(*) FROM events WHERE app = ?`, 1},
		{"secrets", `SELECT count(*) FROM secrets WHERE app = ?`, 1},
	}
	for _, tt := range tables {
		t.Run(tt.name, func(t *testing.T) {
			for _, app := range apps {
				want := tt.perApp
				if app == "a" {
					want = 0
				}
				if got := count(t, s, tt.query, app); got != want {
					t.Errorf("%s of %s: %d, want %d", tt.name, app, got, want)
				}
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM run_logs WHERE run_id NOT IN (SELECT ID FROM TaskExecutions)`); n != 0 {
		t.Errorf("%d log lines of deleted runs left", n)
	}
	if list, err := s.ListAudit(ctx, AuditFilter{App: "a"}); err != nil || len(list) != 1 {
		t.Errorf("ListAudit(a) = %v, %v; the audit log keeps what was done to a purged app", list, err)
	}
	if list, err := s.ListTokens(ctx); err != nil || len(list) != 1 {
		t.Errorf("ListTokens = %v, %v; tokens belong to people and stay", list, err)
	}
	if v, ok, err := s.KV("ab").Get(ctx, "k"); !ok || err != nil || string(v) != "ab" {
		t.Errorf("ab's key = %q, %v, %v", v, ok, err)
	}
}
