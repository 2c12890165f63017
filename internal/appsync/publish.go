package appsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

// Publish publishes the app folder name of home as the app's current
// version in st, unless that is its content already (published false).
// An app with errors is refused with a *lifecycle.ValidationError: a
// version that fails to load never reaches the other nodes, which keep
// the last good one. The command line publishes with it after it changed
// a home's apps, so that a change reaches the cluster with no serve
// running.
func Publish(ctx context.Context, home string, st store.Bundles, name, node string, opts lifecycle.ValidateOptions) (store.AppBundle, bool, error) {
	b, err := export(home, name, lifecycle.Limits{})
	if err != nil {
		return store.AppBundle{}, false, err
	}
	return publish(ctx, home, st, b, node, opts)
}

// Unpublish publishes that the app name is uninstalled, and with purge
// that every node deletes its files of the app (store.AppBundle.Purged):
// the caller deletes what the store holds of it, once. An app the store
// does not hold, or holds as removed (and purged, with purge), is left
// alone (published false).
func Unpublish(ctx context.Context, st store.Bundles, name, node string, purge bool) (store.AppBundle, bool, error) {
	return st.RemoveBundle(ctx, name, node, purge)
}

// bundle is an app folder exported.
type bundle struct {
	app, version string
	sum          string // content hash
	data         []byte // the archive
}

func export(home, name string, lim lifecycle.Limits) (bundle, error) {
	var buf bytes.Buffer
	m, err := lifecycle.Export(home, name, &buf, lim)
	if err != nil {
		return bundle{}, err
	}
	return bundle{app: name, version: m.Version, sum: m.Sum(), data: buf.Bytes()}, nil
}

// publish checks the app folder b was exported from and publishes b.
func publish(ctx context.Context, home string, st store.Bundles, b bundle, node string, opts lifecycle.ValidateOptions) (store.AppBundle, bool, error) {
	rep, err := lifecycle.Validate(ctx, homedir.Home(home).App(b.app), opts)
	if err != nil {
		return store.AppBundle{}, false, fmt.Errorf("checking app %s before publishing it: %w", b.app, err)
	}
	if !rep.OK(false) {
		return store.AppBundle{}, false, &lifecycle.ValidationError{Report: rep}
	}
	return st.PublishBundle(ctx, store.AppBundle{App: b.app, Hash: b.sum, AppVersion: b.version, Node: node}, b.data)
}

// isRejected reports whether err is publish's refusal of an app with
// errors.
func isRejected(err error) bool {
	var verr *lifecycle.ValidationError
	return errors.As(err, &verr)
}
