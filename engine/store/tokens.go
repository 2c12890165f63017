package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TokenHash is the SHA-256 of an API token: the store never sees a token.
type TokenHash [sha256.Size]byte

// HashToken returns the hash under which a token is stored.
func HashToken(token string) TokenHash {
	return sha256.Sum256([]byte(token))
}

// Token is an API token, as stored.
type Token struct {
	ID   int64
	Name string // for people: whose token, what for
	Hash TokenHash
	// Role is what the token may do: admin, operator or viewer.
	Role string
	// Apps are the apps the token may see; empty means every app.
	Apps []string
	// CreatedAt is when the token was created; the store sets it if zero.
	CreatedAt time.Time
	// LastUsedAt and RevokedAt are zero until the token is used, revoked.
	LastUsedAt, RevokedAt time.Time
}

// Revoked reports whether t was revoked.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

const tokenColumns = `id, name, hash, role, apps, created_at, coalesce(last_used_at, ''), coalesce(revoked_at, '')`

func scanToken(sc scanner) (Token, error) {
	var (
		t                      Token
		hash                   []byte
		apps                   string
		created, used, revoked string
	)
	if err := sc.Scan(&t.ID, &t.Name, &hash, &t.Role, &apps, &created, &used, &revoked); err != nil {
		return Token{}, err
	}
	if len(hash) != len(t.Hash) {
		return Token{}, fmt.Errorf("token %d: hash of %d bytes", t.ID, len(hash))
	}
	copy(t.Hash[:], hash)
	if err := DecodeTokenApps(&t, []byte(apps)); err != nil {
		return Token{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err == nil {
		if t.LastUsedAt, err = parseTime(used); err == nil {
			t.RevokedAt, err = parseTime(revoked)
		}
	}
	if err != nil {
		return Token{}, fmt.Errorf("token %d: %w", t.ID, err)
	}
	return t, nil
}

// CreateToken implements Tokens. t.ID, LastUsedAt and RevokedAt are ignored.
func (s *SQLite) CreateToken(ctx context.Context, t Token) (int64, error) {
	doing := fmt.Sprintf("creating token %q", t.Name)
	apps, err := CheckToken(&t)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, hash, role, apps, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.Name, t.Hash[:], t.Role, string(apps), formatTime(s.now(t.CreatedAt)))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if isUnique(err) {
		err = ErrDuplicate
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	return id, nil
}

// TokenByHash implements Tokens.
func (s *SQLite) TokenByHash(ctx context.Context, hash TokenHash) (*Token, error) {
	t, err := scanToken(s.rs.tokenByHash.QueryRowContext(ctx, hash[:]))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = ErrNotFound
	case err == nil && t.Revoked():
		err = ErrRevoked
	}
	if err != nil {
		return nil, fmt.Errorf("looking up token: %w", err)
	}
	return &t, nil
}

// ListTokens implements Tokens.
func (s *SQLite) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
	list, err := collect(rows, err, scanToken)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return list, nil
}

// RevokeToken implements Tokens.
func (s *SQLite) RevokeToken(ctx context.Context, id int64) error {
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := execFound(ctx, tx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
			formatTime(s.opts.Now()), id); err != nil {
			return err
		}
		// Its browser sessions end with it.
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = (SELECT hash FROM api_tokens WHERE id = ?)`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoking token %d: %w", id, err)
	}
	return nil
}

// touchTokenSQL moves last_used_at forward only, so a late write of an
// earlier use cannot move it back.
const touchTokenSQL = `UPDATE api_tokens SET last_used_at = ?1
	WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`

// TouchToken implements Tokens.
func (s *SQLite) TouchToken(ctx context.Context, id int64) error {
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.ws.touchToken).ExecContext(ctx, formatTime(s.opts.Now()), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("touching token %d: %w", id, err)
	}
	return nil
}
