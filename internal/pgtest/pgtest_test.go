package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skipf(f string, args ...any)  { r.skipped = fmt.Sprintf(f, args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

// TestUnreachable: without a server, URL skips, saying how to fail
// instead, unless CRONBOX_REQUIRE_POSTGRES=1: then it fails.
func TestUnreachable(t *testing.T) {
	t.Setenv("CRONBOX_TEST_POSTGRES", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	for _, require := range []string{"", "1"} {
		t.Setenv("CRONBOX_REQUIRE_POSTGRES", require)
		r := &recorder{TB: t}
		if u := URL(r); u != "" {
			t.Errorf("URL = %q without a server", u)
		}
		if require == "1" && (r.failed == "" || r.skipped != "") || require == "" && (r.skipped == "" || r.failed != "") {
			t.Errorf("CRONBOX_REQUIRE_POSTGRES=%q: skipped %q, failed %q", require, r.skipped, r.failed)
		}
		if !strings.Contains(r.skipped+r.failed, "unreachable") {
			t.Errorf("the message does not say the server is unreachable: %q", r.skipped+r.failed)
		}
	}
}

// TestDatabasePerTest: each call makes a database of its own, dropped
// when its test ends.
func TestDatabasePerTest(t *testing.T) {
	var urls []string
	t.Run("make", func(t *testing.T) {
		urls = append(urls, URL(t), URL(t))
		for _, u := range urls {
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close(t.Context())
		}
	})
	if len(urls) != 2 || urls[0] == urls[1] {
		t.Fatalf("URLs %q: want two different ones", urls)
	}
	conn, err := pgx.Connect(context.Background(), ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, u := range urls {
		name := u[strings.LastIndex(u, "/")+1:]
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
			t.Errorf("database %s still there after its test (%d, %v)", name, n, err)
		}
	}
}
