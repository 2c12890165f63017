package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionHash is the SHA-256 of a browser session's cookie value: the
// store never sees the cookie, so a copy of the database cannot be used
// to take over a session.
type SessionHash [sha256.Size]byte

// HashSession returns the hash under which a session cookie's value is
// stored.
func HashSession(cookie string) SessionHash {
	return sha256.Sum256([]byte(cookie))
}

// Session is a browser session, as stored.
type Session struct {
	// IDHash is the hash of the session cookie's value (HashSession).
	IDHash SessionHash
	// TokenHash is the hash of the token the browser logged in with: a
	// session acts for its token, and ends when the token is revoked.
	TokenHash TokenHash
	// CSRF is the token that requests changing something must carry.
	CSRF string
	// ExpiresAt is when the session ends unless it is used before.
	ExpiresAt time.Time
}

// PutSession implements Sessions.
func (s *SQLite) PutSession(ctx context.Context, sess Session) error {
	const doing = "recording session"
	if err := CheckSession(&sess); err != nil {
		return err
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, formatTime(s.opts.Now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, token_hash, csrf, expires_at) VALUES (?, ?, ?, ?)`,
			sess.IDHash[:], sess.TokenHash[:], sess.CSRF, formatTime(sess.ExpiresAt))
		return err
	})
	if isUnique(err) {
		err = ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}

// Session implements Sessions.
func (s *SQLite) Session(ctx context.Context, id SessionHash) (Session, bool, error) {
	var (
		sess           Session
		idHash, tokenH []byte
		expires        string
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT id_hash, token_hash, csrf, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`,
		id[:], formatTime(s.opts.Now())).Scan(&idHash, &tokenH, &sess.CSRF, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Session{}, false, nil
	case err != nil:
	case len(idHash) != len(sess.IDHash) || len(tokenH) != len(sess.TokenHash):
		err = fmt.Errorf("hashes of %d and %d bytes", len(idHash), len(tokenH))
	default:
		copy(sess.IDHash[:], idHash)
		copy(sess.TokenHash[:], tokenH)
		sess.ExpiresAt, err = parseTime(expires)
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("looking up session: %w", err)
	}
	return sess, true, nil
}

// TouchSession implements Sessions.
func (s *SQLite) TouchSession(ctx context.Context, id SessionHash, expires time.Time) error {
	if expires.IsZero() {
		return fmt.Errorf("touching session: %w: no expiry", ErrInvalid)
	}
	err := s.w.doOne(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// max() of two stored times is the later: they sort as text.
		return execFound(ctx, tx, `UPDATE sessions SET expires_at = max(expires_at, ?) WHERE id_hash = ? AND expires_at > ?`,
			formatTime(expires), id[:], formatTime(s.opts.Now()))
	})
	if err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

// DeleteSession implements Sessions.
func (s *SQLite) DeleteSession(ctx context.Context, id SessionHash) error {
	err := s.w.doOne(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, id[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}
