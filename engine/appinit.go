package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/runtime"
)

// InitTask is the name of an app's init task: when the app has one, it runs
// once each time a version of the app is loaded, before the version's
// schedules and routes go live. A version whose init fails is not
// activated: the last good one stays, with the error shown as a load
// error of the task.
const InitTask = app.InitTask

// initApp runs the init task of a, the version of app name just loaded
// with its tasks' modules in loaded, unless it succeeded for this very
// version already (a reload for an override changes nothing it sees). It
// returns the key of the version, to keep once the version is installed.
func (e *Engine) initApp(ctx context.Context, name string, a *app.App, loaded []loadedTask) (string, error) {
	var init *loadedTask
	for i := range loaded {
		if loaded[i].task.Name == InitTask {
			init = &loaded[i]
		}
	}
	if init == nil {
		return "", nil
	}
	if init.module == nil {
		return "", fmt.Errorf("init task: %s", init.loadErr)
	}
	key := initKey(a, init.module)
	e.mu.Lock()
	as := e.apps[name]
	done := as != nil && as.app != nil && as.initKey == key
	var files *runtime.DiskQuota
	if as != nil {
		files = as.filesQuotaLocked()
	}
	e.mu.Unlock()
	if done {
		return key, nil
	}
	t := init.task
	ga := guestApp{Permissions: a.Manifest.Permissions, Quotas: a.Manifest.Quotas, Files: files, Secrets: e.secretsOf(ctx, name)}
	sink := &routeSink{}
	g, err := newGuest(e.cfg.Home, e.cfg.Store.KV, *t, ga, 0, nil, sink)
	if err != nil {
		return "", fmt.Errorf("init task: %w", err)
	}
	defer g.Call.Close()
	g.Spec.ID = "init " + name
	res, err := e.cfg.Runtime.Run(hostapi.WithCall(ctx, g.Call), init.module, g.Spec)
	switch {
	case err != nil:
		return "", fmt.Errorf("init task: %w", err)
	case res.Status != runtime.StatusSucceeded:
		msg := fmt.Sprintf("init task %s", res.Status)
		if res.Error != "" {
			msg += ": " + res.Error
		}
		if lines := sink.lines(); len(lines) > 0 {
			msg += " (last log line: " + lines[len(lines)-1] + ")"
		}
		return "", fmt.Errorf("%s; the app's last good version stays", msg)
	}
	e.log.InfoContext(ctx, "init task succeeded", slog.String("app", name), slog.Duration("duration", res.Duration))
	return key, nil
}

// initKey identifies a version of an app for its init task: its app.yaml,
// its tasks.yaml and the init task's module.
func initKey(a *app.App, m *runtime.Module) string {
	h := sha256.New()
	for _, f := range []string{app.ManifestPath, app.TasksPath} {
		b, _ := os.ReadFile(filepath.Join(a.Dir, filepath.FromSlash(f)))
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	h.Write([]byte(m.Hash))
	return hex.EncodeToString(h.Sum(nil))
}
