package storecopy

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/pgtest"
	"github.com/cronbox/cronbox/internal/storeurl"
)

// TestCopyDetectsDifference copies a run whose error holds a NUL byte,
// which SQLite keeps and PostgreSQL's text cannot: the check sees the
// difference and the copy fails, leaving the target empty.
func TestCopyDetectsDifference(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 16, 10, 30, 0, 0, time.UTC)
	id, err := st.StartRun(ctx, store.Run{App: "a", Task: "t", Trigger: store.TriggerManual, StartTime: at})
	if err == nil {
		err = st.FinishRun(ctx, id, store.RunEnd{Status: store.StatusFailed, EndTime: at, Error: "bad\x00byte"})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	to := storeurl.Target{Kind: storeurl.Postgres, URL: pgtest.URL(t)}
	reports, err := Copy(ctx, storeurl.Target{Kind: storeurl.SQLite, Path: path}, to, false)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Copy = %v, want %v", err, ErrMismatch)
	}
	if reports[0].RowsIdentical || !reports[1].RowsIdentical {
		t.Errorf("reports %+v: want TaskExecutions to differ, run_logs not", reports[:2])
	}
	// Nothing was committed: a second copy finds the target empty.
	if _, err := Copy(ctx, storeurl.Target{Kind: storeurl.SQLite, Path: path}, to, false); errors.Is(err, ErrNotEmpty) {
		t.Errorf("the failed copy left rows in the target: %v", err)
	}
}

// schemaColumns returns the columns of every table of the schema that a
// new store of kind creates, by lower-case table name.
func schemaColumns(t *testing.T, kind storeurl.Kind) map[string][]string {
	t.Helper()
	ctx := t.Context()
	target := storeurl.Target{Kind: kind, Path: filepath.Join(t.TempDir(), "s.db")}
	if kind == storeurl.Postgres {
		target = storeurl.Target{Kind: kind, URL: pgtest.URL(t)}
	}
	sd, err := openSide(ctx, target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sd.close()
	if sd.pg != nil {
		rows, err := sd.pg.Pool().Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		return readColumns(t, rows)
	}
	rows, err := sd.lite.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return readColumns(t, rows)
}

// readColumns reads rows of (table, column) into columns by lower-case
// table name.
func readColumns(t *testing.T, rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for rows.Next() {
		var tb, col string
		if err := rows.Scan(&tb, &col); err != nil {
			t.Fatal(err)
		}
		out[strings.ToLower(tb)] = append(out[strings.ToLower(tb)], strings.ToLower(col))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEveryTableAccountedFor reads the tables and columns of both
// schemas: each table is copied, derived or named in notCopied, and each
// column of a copied table is copied or named in notCopiedColumns; every
// table copied exists (pgOnly ones on PostgreSQL only). A table or a
// column added to a schema without a word here fails it.
func TestEveryTableAccountedFor(t *testing.T) {
	t.Parallel()
	byName := map[string]table{}
	for _, tb := range tables {
		byName[strings.ToLower(tb.name)] = tb
	}
	for _, kind := range []storeurl.Kind{storeurl.SQLite, storeurl.Postgres} {
		schema := schemaColumns(t, kind)
		for name, columns := range schema {
			tb, ok := byName[name]
			switch {
			case ok:
			case slices.Contains(derived, name):
				continue
			case notCopied[name] != "":
				continue
			default:
				t.Errorf("%s: table %s is neither copied nor said not to be", kind, name)
				continue
			}
			copiedCols := map[string]bool{}
			for _, c := range tb.columns {
				copiedCols[strings.ToLower(c.name)] = true
			}
			for _, c := range columns {
				if !copiedCols[c] && notCopiedColumns[name+"."+c] == "" {
					t.Errorf("%s: column %s.%s is neither copied nor said not to be", kind, name, c)
				}
				delete(copiedCols, c)
			}
			for c := range copiedCols {
				t.Errorf("%s: table %s has no column %s to copy", kind, name, c)
			}
		}
		for name, tb := range byName {
			if _, ok := schema[name]; !ok && !(tb.pgOnly && kind == storeurl.SQLite) {
				t.Errorf("%s: the schema has no table %s to copy", kind, name)
			}
		}
	}
}

// TestCopyBundles copies a cluster's app bundles from one PostgreSQL
// store to another, and reports them not copied to SQLite.
func TestCopyBundles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	from := storeurl.Target{Kind: storeurl.Postgres, URL: pgtest.URL(t)}
	src, err := postgres.Open(ctx, from.URL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range []string{"zip one", "zip two"} {
		if _, _, err := src.PublishBundle(ctx, store.AppBundle{App: "demo", Hash: fmt.Sprintf("h%d", i), AppVersion: "1.0", Node: "n1"}, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := src.RemoveBundle(ctx, "demo", "n2", false); err != nil {
		t.Fatal(err)
	}
	want, err := src.CurrentBundles(ctx)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	to := storeurl.Target{Kind: storeurl.Postgres, URL: pgtest.URL(t)}
	if _, err := Copy(ctx, from, to, false); err != nil {
		t.Fatal(err)
	}
	dst, err := postgres.Open(ctx, to.URL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, err := dst.CurrentBundles(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CurrentBundles of the copy = %+v, %v; want %+v", got, err, want)
	}
	if data, err := dst.BundleData(ctx, "demo", "h0"); err != nil || string(data) != "zip one" {
		t.Errorf("BundleData of the copy = %q, %v", data, err)
	}

	reports, err := Copy(ctx, from, storeurl.Target{Kind: storeurl.SQLite, Path: filepath.Join(t.TempDir(), "s.db")}, false)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, r := range reports {
		if r.Skipped != "" {
			skipped = append(skipped, r.Table)
		}
	}
	if !slices.Equal(skipped, []string{"app_bundles", "app_versions"}) {
		t.Errorf("tables not copied to SQLite = %v; want the bundles'", skipped)
	}
}
