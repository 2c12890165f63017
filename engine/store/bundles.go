package store

import (
	"context"
	"strconv"
	"time"
)

// AppBundle is one version of an app in a store that several nodes share:
// the export of the app's folder (a zip archive, see package
// engine/lifecycle), or a tombstone that says the app was uninstalled.
type AppBundle struct {
	// App is the app's name.
	App string
	// Version numbers the app's versions from 1, one more at each
	// publication; the highest is the app's current version.
	Version int64
	// Hash is the content hash of the bundle's files (see
	// lifecycle.ArchiveManifest.Sum); a tombstone keeps the hash of the
	// version it removed.
	Hash string
	// Removed marks a tombstone: the app is uninstalled.
	Removed bool
	// Purged marks a tombstone of an uninstall that purged the app's
	// data: what the store holds of it is deleted once, by the purging
	// node, and each node deletes its own files of the app (a node's
	// data/files/<app>) when it applies the tombstone.
	Purged bool
	// AppVersion is app.yaml's version field, for people.
	AppVersion string
	// Node is who published it ("" when unknown).
	Node string
	// Size is the archive's size in bytes (0 for a tombstone).
	Size int64
	// Published is when it was published, on the store's clock.
	Published time.Time
}

// Bundles keeps the versions of a cluster's apps, so that every node loads
// the same. The SQLite store has none: a single node's apps folder is the
// truth.
type Bundles interface {
	// PublishBundle makes the archive data, whose content hash is
	// b.Hash, app b.App's current version, and returns that version with
	// published true. When the current version already has that hash (and
	// is no tombstone) nothing changes: it returns the current version
	// with published false. The same content published again later (a
	// return to an older version) is a new version that shares the stored
	// archive. App and Hash are required, and data must not be empty
	// (ErrInvalid); Version, Size and Published are set by the store.
	PublishBundle(ctx context.Context, b AppBundle, data []byte) (v AppBundle, published bool, err error)
	// RemoveBundle publishes a tombstone for app: it is uninstalled
	// everywhere, and with purge its files are deleted on every node
	// (Purged). An app that the store does not know, or that is removed
	// already, is left alone: published is false; a purge of an app
	// removed without one publishes a purged tombstone after it.
	RemoveBundle(ctx context.Context, app, node string, purge bool) (v AppBundle, published bool, err error)
	// CurrentBundles returns the current version of every app the store
	// knows, tombstones included, ordered by app.
	CurrentBundles(ctx context.Context) ([]AppBundle, error)
	// BundleData returns the archive of app with that content hash, or
	// ErrNotFound.
	BundleData(ctx context.Context, app, hash string) ([]byte, error)
	// HasBundle reports whether a version of app ever had that content
	// hash: a folder with such content is an old version, not a new one.
	HasBundle(ctx context.Context, app, hash string) (bool, error)
}

// String is b for messages: app@version, with ":removed" for a tombstone.
func (b AppBundle) String() string {
	s := b.App + "@" + strconv.FormatInt(b.Version, 10)
	if b.Removed {
		s += ":removed"
	}
	if b.Purged {
		s += ":purged"
	}
	return s
}
