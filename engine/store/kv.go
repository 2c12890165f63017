package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cronbox/cronbox/hostapi"
)

// KV implements KeyValue. The namespace's keys are ordered by their bytes.
// Set rejects, with hostapi.ErrInvalidKey, a key that is empty, contains a
// NUL byte or is not valid UTF-8. A namespace of an empty app name fails
// every call with ErrInvalid.
func (s *SQLite) KV(app string) hostapi.KV {
	return &appKV{s: s, app: app, quota: -1}
}

// KVWithQuota implements KeyValue: KV, where a Set that would leave the app's
// keys and values holding more than quota bytes fails with an error
// wrapping hostapi.ErrQuota and stores nothing. Making a value smaller is
// always allowed.
func (s *SQLite) KVWithQuota(app string, quota int64) hostapi.KV {
	return &appKV{s: s, app: app, quota: max(quota, 0)}
}

// KVUsage implements KeyValue.
func (s *SQLite) KVUsage(ctx context.Context, app string) (int64, error) {
	var n int64
	err := s.rdb.QueryRowContext(ctx, `SELECT coalesce((SELECT bytes FROM kv_usage WHERE app = ?), 0)`, app).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading the kv usage of %s: %w", app, err)
	}
	return n, nil
}

// appKV is one app's namespace in the kv table.
type appKV struct {
	s     *SQLite
	app   string
	quota int64 // bytes; negative: none
}

var _ hostapi.KV = (*appKV)(nil)

// check returns the error for a call on kv with ctx, or nil.
func (kv *appKV) check(ctx context.Context) error {
	if kv.app == "" {
		return fmt.Errorf("%w: kv of an empty app name", ErrInvalid)
	}
	return ctx.Err()
}

// Get implements hostapi.KV.
func (kv *appKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := kv.check(ctx); err != nil {
		return nil, false, fmt.Errorf("getting kv key %q: %w", key, err)
	}
	value := []byte{}
	err := kv.s.rs.kvGet.QueryRowContext(ctx, kv.app, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("getting kv key %q: %w", key, err)
	}
	if value == nil {
		value = []byte{} // an empty value is a value
	}
	return value, true, nil
}

// checkKey reports a key that the host functions would never pass.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", hostapi.ErrInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w %q: contains a NUL byte", hostapi.ErrInvalidKey, key)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w %q: not valid UTF-8", hostapi.ErrInvalidKey, key)
	}
	return nil
}

// Set implements hostapi.KV. The value is committed when Set returns.
func (kv *appKV) Set(ctx context.Context, key string, value []byte) error {
	err := kv.check(ctx)
	if err == nil {
		err = checkKey(key)
	}
	if err != nil {
		return fmt.Errorf("setting kv key %q: %w", key, err)
	}
	if value == nil {
		value = []byte{} // nil would be bound as NULL
	}
	err = kv.s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if kv.quota >= 0 {
			var used, old int64
			if err := tx.StmtContext(ctx, kv.s.ws.kvRoom).QueryRowContext(ctx, kv.app, key).Scan(&used, &old); err != nil {
				return err
			}
			if n := int64(len(key) + len(value)); n > old && used-old+n > kv.quota {
				return QuotaError(used-old+n, kv.quota)
			}
		}
		_, err := tx.StmtContext(ctx, kv.s.ws.kvSet).ExecContext(ctx, kv.app, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("setting kv key %q: %w", key, err)
	}
	return nil
}

// Delete implements hostapi.KV.
func (kv *appKV) Delete(ctx context.Context, key string) error {
	err := kv.check(ctx)
	if err == nil {
		err = kv.s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.StmtContext(ctx, kv.s.ws.kvDelete).ExecContext(ctx, kv.app, key)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("deleting kv key %q: %w", key, err)
	}
	return nil
}

// List implements hostapi.KV. A limit of 0 or less lists nothing.
func (kv *appKV) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if err := kv.check(ctx); err != nil {
		return nil, fmt.Errorf("listing kv keys: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	// Keys from the least key that starts with prefix and follows after,
	// up to (without) the least string past every key with the prefix.
	from := KVListFrom(prefix, after)
	var (
		rows *sql.Rows
		err  error
	)
	if end, ok := prefixEnd(prefix); ok {
		rows, err = kv.s.rs.kvListRange.QueryContext(ctx, kv.app, from, end, limit)
	} else {
		rows, err = kv.s.rs.kvListFrom.QueryContext(ctx, kv.app, from, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("listing kv keys: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("listing kv keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing kv keys: %w", err)
	}
	return keys, nil
}

// prefixEnd returns the least string greater than every string that starts
// with prefix; ok is false when there is none (an empty prefix, or one of
// 0xff bytes only).
func prefixEnd(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
