package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/storetest"
)

// openSQLite opens a new store in a temporary directory, closed when the
// test ends.
func openSQLite(t *testing.T, opts store.Options) *store.SQLite {
	t.Helper()
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cronbox.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLiteRuns(t *testing.T) {
	storetest.Runs(t, func(t *testing.T) store.Runs { return openSQLite(t, store.Options{}) })
}

func TestSQLiteLoadErrors(t *testing.T) {
	storetest.LoadErrors(t, func(t *testing.T, now func() time.Time) store.LoadErrors {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteEventLog(t *testing.T) {
	storetest.EventLog(t, func(t *testing.T, now func() time.Time) store.EventLog {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteKeyValue(t *testing.T) {
	storetest.KeyValue(t, func(t *testing.T) store.KeyValue { return openSQLite(t, store.Options{}) })
}

func TestSQLiteRetention(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) (store.Runs, store.Retention) {
		s := openSQLite(t, store.Options{})
		return s, s
	})
}

func TestSQLiteMetering(t *testing.T) {
	storetest.Metering(t, func(t *testing.T) (store.Runs, store.Retention, store.Metering) {
		s := openSQLite(t, store.Options{})
		return s, s, s
	})
}

func TestSQLiteOverrides(t *testing.T) {
	storetest.Overrides(t, func(t *testing.T, now func() time.Time) store.Overrides {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteOutcomes(t *testing.T) {
	storetest.Outcomes(t, func(t *testing.T, now func() time.Time) storetest.OverridesOutcomes {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteTokens(t *testing.T) {
	storetest.Tokens(t, func(t *testing.T, now func() time.Time) store.Tokens {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteSessions(t *testing.T) {
	storetest.Sessions(t, func(t *testing.T, now func() time.Time) store.Sessions {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteTokenSessions(t *testing.T) {
	storetest.TokenSessions(t, func(t *testing.T, now func() time.Time) storetest.TokensSessions {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteNotifications(t *testing.T) {
	storetest.Notifications(t, func(t *testing.T, now func() time.Time) store.Notifications {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteSecrets(t *testing.T) {
	storetest.Secrets(t, func(t *testing.T, now func() time.Time) store.Secrets {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteAudit(t *testing.T) {
	storetest.Audit(t, func(t *testing.T, now func() time.Time) store.Audit {
		return openSQLite(t, store.Options{Now: now})
	})
}

func TestSQLiteStats(t *testing.T) {
	storetest.Stats(t, func(t *testing.T) (store.Runs, store.Stats) {
		s := openSQLite(t, store.Options{})
		return s, s
	})
}
