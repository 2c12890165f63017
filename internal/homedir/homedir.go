// Package homedir owns the layout of a Cronbox home: the folder that
// `cronbox serve --home` runs on. Every path into a home is made here:
//
//	apps/<name>/          the installed apps
//	data/cronbox.db       the store
//	data/cronbox.sock     the socket the CLI reaches a running serve on
//	data/secret.key       the key that seals the apps' secrets (mode 0600)
//	data/cache/           compiled machine code
//	data/files/<app>/     each app's directory, mounted at /data
//	data/sdk/<hash>/      the Go SDK that apps build against
//	data/backups/         a zip of each app before it is replaced or removed
//	data/exports/         where exports go unless told otherwise
//	data/staging/         work folders of installs, removals and uploads
package homedir

import (
	"path"
	"path/filepath"
)

// Home is the folder of a Cronbox home. The empty Home gives the paths
// relative to a home.
type Home string

const (
	appsDir = "apps"
	dataDir = "data"
	sdkDir  = "sdk"
)

func (h Home) data(elem ...string) string {
	return filepath.Join(append([]string{string(h), dataDir}, elem...)...)
}

// Apps is the folder of the installed apps, <home>/apps.
func (h Home) Apps() string { return filepath.Join(string(h), appsDir) }

// App is the folder of the app name, <home>/apps/<name>.
func (h Home) App(name string) string { return filepath.Join(string(h), appsDir, name) }

// Data is the folder of the home's state, <home>/data.
func (h Home) Data() string { return h.data() }

// DB is the store's database file, <home>/data/cronbox.db.
func (h Home) DB() string { return h.data("cronbox.db") }

// Socket is the local socket of a running serve, <home>/data/cronbox.sock.
func (h Home) Socket() string { return h.data("cronbox.sock") }

// SecretKey is the key file that seals the apps' secrets,
// <home>/data/secret.key.
func (h Home) SecretKey() string { return h.data("secret.key") }

// Cache is the compiled-code cache, <home>/data/cache.
func (h Home) Cache() string { return h.data("cache") }

// Files is the directory of the app name, <home>/data/files/<name>.
func (h Home) Files(name string) string { return h.data("files", name) }

// SDK is where the Go SDK is extracted, one folder a version:
// <home>/data/sdk.
func (h Home) SDK() string { return h.data(sdkDir) }

// Backups is where apps are backed up before they are replaced or
// removed, <home>/data/backups.
func (h Home) Backups() string { return h.data("backups") }

// Exports is where exports go by default, <home>/data/exports.
func (h Home) Exports() string { return h.data("exports") }

// Staging is the work folder of installs, removals and uploads,
// <home>/data/staging: on the home's disk, so that a finished app is
// renamed into place.
func (h Home) Staging() string { return h.data("staging") }

// SDKFromApp is the SDK folder hash (under SDK) as seen from an app's
// folder, slash-separated: what an app's go.mod replaces the SDK module
// with.
func SDKFromApp(hash string) string { return path.Join("..", "..", dataDir, sdkDir, hash) }
