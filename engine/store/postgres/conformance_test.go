package postgres_test

import (
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/engine/store/storetest"
	"github.com/cronbox/cronbox/internal/pgtest"
)

// openPG opens a store on a new database, closed when the test ends.
func openPG(t *testing.T, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 4
	}
	s, err := postgres.Open(t.Context(), pgtest.URL(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRuns(t *testing.T) {
	storetest.Runs(t, func(t *testing.T) store.Runs { return openPG(t, postgres.Options{}) })
}

func TestLoadErrors(t *testing.T) {
	storetest.LoadErrors(t, func(t *testing.T, now func() time.Time) store.LoadErrors {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestEventLog(t *testing.T) {
	storetest.EventLog(t, func(t *testing.T, now func() time.Time) store.EventLog {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestKeyValue(t *testing.T) {
	storetest.KeyValue(t, func(t *testing.T) store.KeyValue { return openPG(t, postgres.Options{}) })
}

func TestRetention(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) (store.Runs, store.Retention) {
		s := openPG(t, postgres.Options{})
		return s, s
	})
}

func TestOverrides(t *testing.T) {
	storetest.Overrides(t, func(t *testing.T, now func() time.Time) store.Overrides {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestOutcomes(t *testing.T) {
	storetest.Outcomes(t, func(t *testing.T, now func() time.Time) storetest.OverridesOutcomes {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestTokens(t *testing.T) {
	storetest.Tokens(t, func(t *testing.T, now func() time.Time) store.Tokens {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestSessions(t *testing.T) {
	storetest.Sessions(t, func(t *testing.T, now func() time.Time) store.Sessions {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestTokenSessions(t *testing.T) {
	storetest.TokenSessions(t, func(t *testing.T, now func() time.Time) storetest.TokensSessions {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestMetering(t *testing.T) {
	storetest.Metering(t, func(t *testing.T) (store.Runs, store.Retention, store.Metering) {
		s := openPG(t, postgres.Options{})
		return s, s, s
	})
}

func TestSecrets(t *testing.T) {
	storetest.Secrets(t, func(t *testing.T, now func() time.Time) store.Secrets {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestAudit(t *testing.T) {
	storetest.Audit(t, func(t *testing.T, now func() time.Time) store.Audit {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestBundles(t *testing.T) {
	storetest.Bundles(t, func(t *testing.T, now func() time.Time) store.Bundles {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestNotifications(t *testing.T) {
	storetest.Notifications(t, func(t *testing.T, now func() time.Time) store.Notifications {
		return openPG(t, postgres.Options{Now: now})
	})
}

func TestNodes(t *testing.T) {
	storetest.Nodes(t, func(t *testing.T) storetest.NodesStore { return openPG(t, postgres.Options{}) })
}

func TestStats(t *testing.T) {
	storetest.Stats(t, func(t *testing.T) (store.Runs, store.Stats) {
		s := openPG(t, postgres.Options{})
		return s, s
	})
}
