package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/runjson"
	"github.com/cronbox/cronbox/internal/storeurl"
	"github.com/cronbox/cronbox/web"
)

// localBackend acts on a home: its store and its apps folder. What a
// running serve of the home must do itself (run a task, switch one on or
// off) it asks that serve over the home's local socket, with the same
// client as a remote server's.
type localBackend struct {
	home     string
	storeURL string         // --store; "": $CRONBOX_STORE, else the home's
	warn     io.Writer      // where the problems of loading apps go
	st       storeurl.Store // opened on first use
}

func (b *localBackend) store(ctx context.Context) (storeurl.Store, error) {
	if b.st == nil {
		st, err := openStore(ctx, b.home, b.storeURL)
		if err != nil {
			return nil, err
		}
		b.st = st
	}
	return b.st, nil
}

func (b *localBackend) Close() error {
	if b.st == nil {
		return nil
	}
	return b.st.Close()
}

// serve returns the backend of the serve that answers on the home's
// local socket, or nil when none does.
func (b *localBackend) serve() *remoteBackend {
	hc := localClient(b.home)
	if hc == nil {
		return nil
	}
	return &remoteBackend{c: &client.Client{BaseURL: "http://cronbox", HTTP: hc, Where: "the running serve"}, local: true}
}

func (b *localBackend) Tasks(ctx context.Context) ([]taskRow, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	return taskRows(ctx, b.warn, b.home, st)
}

func (b *localBackend) SetTaskEnabled(ctx context.Context, appName, task string, on bool) error {
	if s := b.serve(); s != nil {
		// A serve runs this home: it makes the change, one at a time
		// with the API's, and applies it at once.
		return s.SetTaskEnabled(ctx, appName, task, on)
	}
	st, err := b.store(ctx)
	if err != nil {
		return err
	}
	if err := setEnabled(ctx, b.home, st, appName, task, on); err != nil {
		return err
	}
	action := web.ActionTaskDisable
	if on {
		action = web.ActionTaskEnable
	}
	b.audit(ctx, action, appName, appName+"/"+task, nil, map[string]bool{"enabled": on})
	return nil
}

func (b *localBackend) Trigger(ctx context.Context, e *env, appName, task string, input json.RawMessage) (runRow, error) {
	if s := b.serve(); s != nil {
		// A serve runs this home: the run is its own, under the task's
		// overlap policy and quotas, and shows live.
		return s.Trigger(ctx, e, appName, task, input)
	}
	st, err := b.store(ctx)
	if err != nil {
		return runRow{}, err
	}
	r, err := triggerTask(ctx, e, b.home, st, appName, task, input)
	if err != nil {
		return runRow{}, err
	}
	b.audit(ctx, web.ActionTaskTrigger, appName, appName+"/"+task, nil, map[string]any{"run": r.ID, "input": orNull(input)})
	row := runRowOf(r)
	row.Input, row.Result, row.Output = r.Input, r.Result, r.Output
	return row, nil
}

func (b *localBackend) Runs(ctx context.Context, q runQuery) ([]runRow, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	f := store.RunFilter{Task: q.Task, Statuses: q.Statuses, Limit: q.Limit}
	if q.App != "" {
		f.Apps = []string{q.App}
	}
	runs, err := st.ListRuns(ctx, f)
	if err != nil {
		return nil, err
	}
	rows := make([]runRow, 0, len(runs))
	for _, r := range runs {
		rows = append(rows, runRowOf(r))
	}
	return rows, nil
}

// runRowOf is r as the API shows it in a listing. A home's store says
// nothing of a running run's progress.
func runRowOf(r store.Run) runRow {
	return runRow{Run: runjson.Of(r, time.Now(), nil, false)}
}

func (b *localBackend) SetAppEnabled(ctx context.Context, name string, on bool) error {
	if err := lifecycle.SetEnabled(b.home, name, on); err != nil {
		return err
	}
	action := web.ActionAppDisable
	if on {
		action = web.ActionAppEnable
	}
	b.audit(ctx, action, name, name, nil, map[string]bool{"enabled": on})
	return b.publishApp(ctx, name)
}

func (b *localBackend) ValidateApp(ctx context.Context, name string) (*lifecycle.Report, error) {
	dir, err := lifecycle.Dir(b.home, name)
	if err != nil {
		return nil, err
	}
	return lifecycle.Validate(ctx, dir, lifecycle.ValidateOptions{CacheDir: homedir.Home(b.home).Cache()})
}

func (b *localBackend) ExportApp(_ context.Context, name, outDir string) (string, *lifecycle.ArchiveManifest, error) {
	return lifecycle.ExportFile(b.home, name, outDir, time.Now(), lifecycle.Limits{})
}

func (b *localBackend) InstallApp(ctx context.Context, src string, upgrade, strict bool) (installRow, error) {
	res, err := lifecycle.Install(ctx, b.home, src, lifecycle.InstallOptions{
		Upgrade:  upgrade,
		Strict:   strict,
		Validate: lifecycle.ValidateOptions{CacheDir: homedir.Home(b.home).Cache()},
	})
	if err != nil {
		return installRow{}, err
	}
	row := installRow{App: res.App, Dir: res.Dir, Version: res.Version, Files: len(res.Files), Verified: res.Verified,
		Replaced: res.Replaced, Backup: res.Backup, Warnings: []lifecycle.Finding{}}
	if res.Report != nil {
		row.Warnings = append(row.Warnings, res.Report.Warnings...)
	}
	action := web.ActionAppInstall
	if res.Replaced {
		action = web.ActionAppUpgrade
	}
	after := map[string]any{"version": res.Version, "files": len(res.Files), "verified": res.Verified}
	if res.Backup != "" {
		after["backup"] = filepath.Base(res.Backup)
	}
	b.audit(ctx, action, res.App, res.App, nil, after)
	row.Warnings = append(row.Warnings, b.missingSecrets(ctx, res.App)...)
	return row, b.publishApp(ctx, res.App)
}

func (b *localBackend) UninstallApp(ctx context.Context, name string, purge bool) (*lifecycle.Uninstalled, error) {
	opts := lifecycle.UninstallOptions{Purge: purge}
	if purge {
		st, err := b.store(ctx)
		if err != nil {
			return nil, err
		}
		opts.Store = st
	}
	res, err := lifecycle.Uninstall(ctx, b.home, name, opts)
	if errors.Is(err, lifecycle.ErrNotFound) {
		return b.uninstallElsewhere(ctx, name, purge, err)
	}
	if err != nil {
		return nil, err
	}
	b.audit(ctx, web.ActionAppUninstall, name, name, nil, map[string]any{"backup": filepath.Base(res.Backup), "purged": res.Purged})
	if _, err := b.unpublishApp(ctx, name, purge); err != nil {
		return res, err
	}
	return res, nil
}

func (b *localBackend) Backups() string { return homedir.Home(b.home).Backups() }

func (b *localBackend) ExportConfig(ctx context.Context) ([]byte, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := configExport(ctx, &buf, "-", st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (b *localBackend) ImportConfig(ctx context.Context, e *env, data []byte) (int, error) {
	st, err := b.store(ctx)
	if err != nil {
		return 0, err
	}
	before, err := st.Overrides(ctx)
	if err != nil {
		return 0, err
	}
	n, err := configImport(ctx, e, b.home, data, st)
	if err != nil {
		return n, err
	}
	after, err := st.Overrides(ctx)
	if err != nil {
		return n, err
	}
	auditOverrides(ctx, b.warn, st, before, after)
	return n, nil
}

func (b *localBackend) CreateToken(ctx context.Context, name, role string, apps []string) (string, error) {
	st, err := b.store(ctx)
	if err != nil {
		return "", err
	}
	tok, id, err := createToken(ctx, st, name, role, apps)
	if err != nil {
		return "", err
	}
	b.audit(ctx, web.ActionTokenCreate, "", strconv.FormatInt(id, 10), nil, map[string]any{"name": name, "role": role, "apps": apps})
	return tok, nil
}

func (b *localBackend) ListTokens(ctx context.Context) ([]tokenRow, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	return tokenRows(ctx, st)
}

func (b *localBackend) RevokeToken(ctx context.Context, id int64) error {
	st, err := b.store(ctx)
	if err != nil {
		return err
	}
	if err := st.RevokeToken(ctx, id); err != nil {
		return err
	}
	b.audit(ctx, web.ActionTokenRevoke, "", strconv.FormatInt(id, 10), nil, map[string]bool{"revoked": true})
	return nil
}
