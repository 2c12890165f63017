package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
)

// KV implements store.KeyValue, as the SQLite store's KV does: keys are
// ordered by their bytes, and Set refuses keys that store.CheckKVKey
// refuses.
func (s *Store) KV(app string) hostapi.KV { return &appKV{s: s, app: app, quota: -1} }

// KVWithQuota implements store.KeyValue. The quota holds across nodes and
// concurrent writers: every write of an app's keys first locks the app's
// row of kv_usage, so writes of one app are checked and applied one at a
// time.
func (s *Store) KVWithQuota(app string, quota int64) hostapi.KV {
	return &appKV{s: s, app: app, quota: max(quota, 0)}
}

// KVUsage implements store.KeyValue.
func (s *Store) KVUsage(ctx context.Context, app string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT bytes FROM kv_usage WHERE app = $1), 0)`, app).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading the kv usage of %s: %w", app, err)
	}
	return n, nil
}

type appKV struct {
	s     *Store
	app   string
	quota int64 // bytes; negative: none
}

func (kv *appKV) check(ctx context.Context) error {
	if kv.app == "" {
		return fmt.Errorf("%w: kv of an empty app name", store.ErrInvalid)
	}
	return ctx.Err()
}

// lockUsageSQL creates or locks the app's usage row for the rest of the
// transaction. Every write of kv takes it before it touches kv (whose
// trigger updates the row), so writers of one app never deadlock.
const lockUsageSQL = `INSERT INTO kv_usage AS u (app, bytes) VALUES ($1, 0)
	ON CONFLICT (app) DO UPDATE SET bytes = u.bytes`

// Get implements hostapi.KV.
func (kv *appKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := kv.check(ctx); err != nil {
		return nil, false, fmt.Errorf("getting kv key %q: %w", key, err)
	}
	var value []byte
	err := kv.s.pool.QueryRow(ctx, `SELECT value FROM kv WHERE app = $1 AND key = $2`, kv.app, []byte(key)).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("getting kv key %q: %w", key, err)
	}
	if value == nil {
		value = []byte{}
	}
	return value, true, nil
}

// Set implements hostapi.KV: one round trip, which locks the app's usage
// row, then writes the key if the quota has room for it.
func (kv *appKV) Set(ctx context.Context, key string, value []byte) error {
	err := kv.check(ctx)
	if err == nil {
		err = store.CheckKVKey(key)
	}
	if err != nil {
		return fmt.Errorf("setting kv key %q: %w", key, err)
	}
	if value == nil {
		value = []byte{}
	}
	n := int64(len(key) + len(value))
	b := &pgx.Batch{}
	b.Queue(lockUsageSQL, kv.app)
	// The write happens when there is no quota, when it does not grow
	// the key, or when the store stays within the quota.
	b.Queue(`WITH used AS (SELECT bytes FROM kv_usage WHERE app = $1),
		old AS (SELECT coalesce((SELECT octet_length(key) + octet_length(value) FROM kv WHERE app = $1 AND key = $2), 0) AS n),
		ins AS (INSERT INTO kv (app, key, value)
			SELECT $1, $2, $3 FROM used, old WHERE $5::bigint < 0 OR $4::bigint <= old.n OR used.bytes - old.n + $4::bigint <= $5::bigint
			ON CONFLICT (app, key) DO UPDATE SET value = excluded.value
			RETURNING 1)
		SELECT used.bytes - old.n + $4::bigint, (SELECT count(*) FROM ins) FROM used, old`,
		kv.app, []byte(key), value, n, kv.quota)
	var (
		wouldHold int64
		written   int
	)
	err = kv.s.batch(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.QueryRow().Scan(&wouldHold, &written)
	})
	if err == nil && written == 0 {
		err = store.QuotaError(wouldHold, kv.quota)
	}
	if err != nil {
		return fmt.Errorf("setting kv key %q: %w", key, err)
	}
	return nil
}

// Delete implements hostapi.KV.
func (kv *appKV) Delete(ctx context.Context, key string) error {
	err := kv.check(ctx)
	if err == nil {
		b := &pgx.Batch{}
		b.Queue(lockUsageSQL, kv.app)
		b.Queue(`DELETE FROM kv WHERE app = $1 AND key = $2`, kv.app, []byte(key))
		err = kv.s.batch(ctx, b, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return err
			}
			_, err := br.Exec()
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
	from := []byte(store.KVListFrom(prefix, after))
	var (
		rows pgx.Rows
		err  error
	)
	if end, ok := store.KVPrefixEnd(prefix); ok {
		rows, err = kv.s.pool.Query(ctx, `SELECT key FROM kv WHERE app = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4`,
			kv.app, from, []byte(end), limit)
	} else {
		rows, err = kv.s.pool.Query(ctx, `SELECT key FROM kv WHERE app = $1 AND key >= $2 ORDER BY key LIMIT $3`,
			kv.app, from, limit)
	}
	var keys []string
	if err == nil {
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var k []byte
			err := row.Scan(&k)
			return string(k), err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("listing kv keys: %w", err)
	}
	return keys, nil
}
