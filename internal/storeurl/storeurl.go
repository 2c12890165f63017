// Package storeurl names a Cronbox store by a URL and opens it: the
// SQLite file of a home, or a PostgreSQL database that several nodes
// share. It is the one place where a store URL is read.
//
//	(none)              the home's SQLite store, HOME/data/cronbox.db
//	sqlite:PATH         the SQLite store in the file PATH
//	postgres://…        the PostgreSQL store at that URL (also postgresql://)
//
// The commands take the URL from --store, else from the environment
// variable CRONBOX_STORE, else use the home's SQLite store.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/homedir"
)

// Env is the environment variable that names the store when --store is
// not given.
const Env = "CRONBOX_STORE"

// Store is every interface of package store, as both stores provide
// them, with what the commands need besides.
type Store interface {
	store.Runs
	store.Retention
	store.Metering
	store.Overrides
	store.Outcomes
	store.KeyValue
	store.Tokens
	store.Sessions
	store.LoadErrors
	store.EventLog
	store.Secrets
	store.Audit
	store.Notifications
	// DeleteAppData removes what the store holds for an app.
	DeleteAppData(ctx context.Context, app string) error
	Close() error
}

var (
	_ Store = (*store.SQLite)(nil)
	_ Store = (*postgres.Store)(nil)
)

// Kind is the kind of store a URL names.
type Kind string

// The kinds of store.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Target is a parsed store URL.
type Target struct {
	Kind Kind
	// Path is the SQLite database file.
	Path string
	// URL is the PostgreSQL connection URL.
	URL string
}

// String returns the target for messages: a PostgreSQL URL without its
// password.
func (t Target) String() string {
	if t.Kind == SQLite {
		return "sqlite:" + t.Path
	}
	return redact(t.URL)
}

// ErrBadURL is wrapped by the errors of Parse.
var ErrBadURL = errors.New("bad store URL")

// Parse reads a store URL; home is the Cronbox home whose SQLite store an
// empty raw names. Its errors wrap ErrBadURL and never quote a password.
func Parse(raw, home string) (Target, error) {
	switch {
	case raw == "":
		return Target{Kind: SQLite, Path: homedir.Home(home).DB()}, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(raw, "sqlite:")
		path = strings.TrimPrefix(path, "//") // sqlite:///abs/path, as other tools spell it
		switch {
		case path == "":
			return Target{}, fmt.Errorf("%w %q: no file after sqlite:", ErrBadURL, raw)
		case strings.IndexByte(path, 0) >= 0:
			return Target{}, fmt.Errorf("%w: the file name has a NUL byte", ErrBadURL)
		}
		return Target{Kind: SQLite, Path: path}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return Target{}, fmt.Errorf("%w: a postgres:// URL that does not parse (%s)", ErrBadURL, redactError(err, raw))
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return Target{}, fmt.Errorf("%w %s: no host", ErrBadURL, redact(raw))
		}
		if strings.IndexByte(raw, 0) >= 0 {
			return Target{}, fmt.Errorf("%w: the URL has a NUL byte", ErrBadURL)
		}
		return Target{Kind: Postgres, URL: raw}, nil
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || strings.ContainsAny(scheme, "/\\") {
		return Target{}, fmt.Errorf("%w %s: want sqlite:PATH or postgres://USER@HOST:PORT/DATABASE", ErrBadURL, quote(raw))
	}
	return Target{}, fmt.Errorf("%w: unknown scheme %s: want sqlite:PATH or postgres://USER@HOST:PORT/DATABASE", ErrBadURL, quote(scheme))
}

// quote returns s quoted for a message, unless it may hold a password
// (anything with an @): then only that it was not understood.
func quote(s string) string {
	if strings.Contains(s, "@") {
		return "(not shown: it may hold a password)"
	}
	return fmt.Sprintf("%q", s)
}

// Open opens the store that raw names (see Parse).
func Open(ctx context.Context, raw, home string) (Store, error) {
	t, err := Parse(raw, home)
	if err != nil {
		return nil, err
	}
	return t.Open(ctx)
}

// Open opens the store t names.
func (t Target) Open(ctx context.Context) (Store, error) {
	switch t.Kind {
	case SQLite:
		return store.Open(ctx, t.Path, store.Options{})
	case Postgres:
		return postgres.Open(ctx, t.URL, postgres.Options{})
	}
	return nil, fmt.Errorf("%w: unknown kind of store %q", ErrBadURL, t.Kind)
}

// redact returns raw without its password, if it is a URL that has one.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "(a URL that does not parse)"
		}
		return raw
	}
	return u.Redacted()
}

// redactError returns err's message without raw's userinfo.
func redactError(err error, raw string) string {
	msg := err.Error()
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		msg = strings.ReplaceAll(msg, raw[:at], "…")
		msg = strings.ReplaceAll(msg, url.QueryEscape(raw[:at]), "…")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	return msg
}
