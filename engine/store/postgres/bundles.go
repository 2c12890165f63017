package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

var _ store.Bundles = (*Store)(nil)

// bundleLock is the namespace of the advisory locks that order the
// publications of one app: two nodes publishing at once get consecutive
// versions, the later one current.
const bundleLock = "cronbox.app_versions/"

// bundleColumns are the columns of app_versions that make a store.AppBundle,
// in scanBundle's order.
const bundleColumns = `app, version, hash, removed, app_version, node, size, published_at, purged`

func scanBundle(row pgx.Row) (store.AppBundle, error) {
	var b store.AppBundle
	err := row.Scan(&b.App, &b.Version, &b.Hash, &b.Removed, &b.AppVersion, &b.Node, &b.Size, &b.Published, &b.Purged)
	b.Published = b.Published.UTC()
	return b, err
}

// PublishBundle implements store.Bundles: one transaction, under the app's
// advisory lock.
func (s *Store) PublishBundle(ctx context.Context, b store.AppBundle, data []byte) (store.AppBundle, bool, error) {
	switch {
	case b.App == "":
		return store.AppBundle{}, false, fmt.Errorf("publishing a bundle: %w: no app", store.ErrInvalid)
	case b.Hash == "":
		return store.AppBundle{}, false, fmt.Errorf("publishing a bundle of %s: %w: no hash", b.App, store.ErrInvalid)
	case len(data) == 0:
		return store.AppBundle{}, false, fmt.Errorf("publishing a bundle of %s: %w: no data", b.App, store.ErrInvalid)
	}
	var (
		out       store.AppBundle
		published bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, found, err := lockedHead(ctx, tx, b.App)
		if err != nil {
			return err
		}
		if found && !cur.Removed && cur.Hash == b.Hash {
			out = cur
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO app_bundles (app, hash, data) VALUES ($1, $2, $3) ON CONFLICT (app, hash) DO NOTHING`,
			text(b.App), text(b.Hash), data); err != nil {
			return err
		}
		out, err = scanBundle(tx.QueryRow(ctx, `INSERT INTO app_versions (app, version, hash, removed, app_version, node, size, published_at)
			VALUES ($1, $2, $3, false, $4, $5, $6, $7) RETURNING `+bundleColumns,
			text(b.App), cur.Version+1, text(b.Hash), text(b.AppVersion), text(b.Node), int64(len(data)), s.opts.Now()))
		published = err == nil
		return err
	})
	if err != nil {
		return store.AppBundle{}, false, fmt.Errorf("publishing a bundle of %s: %w", b.App, err)
	}
	return out, published, nil
}

// RemoveBundle implements store.Bundles: one transaction, under the app's
// advisory lock.
func (s *Store) RemoveBundle(ctx context.Context, app, node string, purge bool) (store.AppBundle, bool, error) {
	if app == "" {
		return store.AppBundle{}, false, fmt.Errorf("removing a bundle: %w: no app", store.ErrInvalid)
	}
	var (
		out       store.AppBundle
		published bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, found, err := lockedHead(ctx, tx, app)
		if err != nil || !found || cur.Removed && (cur.Purged || !purge) {
			out = cur
			return err
		}
		out, err = scanBundle(tx.QueryRow(ctx, `INSERT INTO app_versions (app, version, hash, removed, app_version, node, size, published_at, purged)
			VALUES ($1, $2, $3, true, $4, $5, 0, $6, $7) RETURNING `+bundleColumns,
			text(app), cur.Version+1, cur.Hash, cur.AppVersion, text(node), s.opts.Now(), purge))
		published = err == nil
		return err
	})
	if err != nil {
		return store.AppBundle{}, false, fmt.Errorf("removing app %s: %w", app, err)
	}
	return out, published, nil
}

// lockedHead takes app's advisory lock for the rest of tx and returns its
// current version, if it has one.
func lockedHead(ctx context.Context, tx pgx.Tx, app string) (store.AppBundle, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, bundleLock+text(app)); err != nil {
		return store.AppBundle{}, false, err
	}
	cur, err := scanBundle(tx.QueryRow(ctx, `SELECT `+bundleColumns+` FROM app_versions WHERE app = $1 ORDER BY version DESC LIMIT 1`, text(app)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AppBundle{}, false, nil
	}
	return cur, err == nil, err
}

// CurrentBundles implements store.Bundles: one statement, which reads the
// primary key's index backwards for each app.
func (s *Store) CurrentBundles(ctx context.Context) ([]store.AppBundle, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (app) `+bundleColumns+` FROM app_versions ORDER BY app, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("reading the apps' versions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AppBundle, error) { return scanBundle(r) })
	if err != nil {
		return nil, fmt.Errorf("reading the apps' versions: %w", err)
	}
	return list, nil
}

// BundleData implements store.Bundles.
func (s *Store) BundleData(ctx context.Context, app, hash string) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM app_bundles WHERE app = $1 AND hash = $2`, text(app), text(hash)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the bundle %s of %s: %w", hash, app, err)
	}
	return data, nil
}

// HasBundle implements store.Bundles.
func (s *Store) HasBundle(ctx context.Context, app, hash string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM app_bundles WHERE app = $1 AND hash = $2)`, text(app), text(hash)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking for the bundle %s of %s: %w", hash, app, err)
	}
	return ok, nil
}
