// Package pgtest gives each test a PostgreSQL database of its own.
//
// The server is CRONBOX_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), as a user
// who may create databases. A test that calls URL gets a new database,
// named uniquely so that tests of packages running in parallel never
// share one, and dropped when the test ends. When the server cannot be
// reached the test is skipped, saying why, unless
// CRONBOX_REQUIRE_POSTGRES=1: then it fails (CI sets it, so that the
// tests never skip there).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use without CRONBOX_TEST_POSTGRES.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the test server, from CRONBOX_TEST_POSTGRES
// or DefaultURL.
func ServerURL() string {
	if u := os.Getenv("CRONBOX_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// Required reports whether tests must fail, not skip, without a server.
func Required() bool { return os.Getenv("CRONBOX_REQUIRE_POSTGRES") == "1" }

// URL creates a new, empty database for t and returns its URL; the
// database is dropped, its connections closed, when t ends.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, server)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s (CRONBOX_TEST_POSTGRES) is unreachable: %v", redact(server), err)
		if Required() {
			t.Fatalf("%s; CRONBOX_REQUIRE_POSTGRES=1 requires it", msg)
		} else {
			t.Skipf("%s; set CRONBOX_REQUIRE_POSTGRES=1 to fail instead of skipping", msg)
		}
		return ""
	}
	defer conn.Close(context.Background())
	name := "cronbox_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0`); err != nil {
		t.Fatalf("creating test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, server)
		if err == nil {
			defer conn.Close(context.Background())
			_, err = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		}
		if err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("CRONBOX_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func connect(ctx context.Context, server string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return nil, fmt.Errorf("not a PostgreSQL URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		cfg.ConnectTimeout = 5 * time.Second
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// redact returns a URL without its password, for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
