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
	"errors"
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
	u, drop, err := Create(ctx, server, "cronbox_test_")
	if errors.Is(err, errUnreachable) {
		msg := fmt.Sprintf("PostgreSQL at %s (CRONBOX_TEST_POSTGRES) is %v", redact(server), err)
		if Required() {
			t.Fatalf("%s; CRONBOX_REQUIRE_POSTGRES=1 requires it", msg)
		} else {
			t.Skipf("%s; set CRONBOX_REQUIRE_POSTGRES=1 to fail instead of skipping", msg)
		}
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Error(err)
		}
	})
	return u
}

// errUnreachable reports a server Create cannot connect to.
var errUnreachable = errors.New("unreachable")

// Create creates a new, empty database on server (the URL of a user who
// may create databases), named prefix and random hex digits, and returns
// its URL and a function that drops it, closing its connections.
func Create(ctx context.Context, server, prefix string) (string, func(context.Context) error, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, fmt.Errorf("%s is not a PostgreSQL URL", redact(server))
	}
	conn, err := connect(ctx, server)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	defer conn.Close(context.Background())
	name := prefix + randomHex(8)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0`); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	drop := func(ctx context.Context) error {
		conn, err := connect(ctx, server)
		if err == nil {
			defer conn.Close(context.Background())
			_, err = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		}
		if err != nil {
			return fmt.Errorf("dropping database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
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
