package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultWatchInterval is how often Watch looks at the apps folder.
const DefaultWatchInterval = 2 * time.Second

// Watch reloads the apps whenever the apps folder changes, until ctx is
// done. It polls the folder every interval (DefaultWatchInterval if zero or
// less) on the engine's clock and reloads only once a change has stayed the
// same for a whole interval, so that a folder being copied is not loaded
// half-way. It returns ctx's error.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	w, err := e.newWatcher()
	if err != nil {
		return err
	}
	for {
		tick := make(chan struct{})
		t := e.cfg.Clock.AfterFunc(interval, func() { close(tick) })
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("watching apps: %w", ctx.Err())
		case <-tick:
		}
		if _, err := w.step(ctx); err != nil {
			e.log.WarnContext(ctx, "watching apps", slog.Any("error", err))
		}
	}
}

// watcher is Watch's state: the fingerprint of the folder as last loaded and
// of a change seen but not yet settled.
type watcher struct {
	e       *Engine
	loaded  string
	pending string
}

func (e *Engine) newWatcher() (*watcher, error) {
	fp, err := e.fingerprint()
	if err != nil {
		return nil, err
	}
	return &watcher{e: e, loaded: fp}, nil
}

// step looks at the folder once and reloads if a change has settled; it
// reports whether it reloaded.
func (w *watcher) step(ctx context.Context) (bool, error) {
	fp, err := w.e.fingerprint()
	if err != nil {
		return false, err
	}
	switch {
	case fp == w.loaded:
		w.pending = ""
		return false, nil
	case fp != w.pending:
		w.pending = fp
		return false, nil
	}
	if err := w.e.Reload(ctx); err != nil {
		return false, err
	}
	w.loaded, w.pending = fp, ""
	return true, nil
}

// fingerprint hashes the names, sizes and modification times of every file
// under the apps folder.
func (e *Engine) fingerprint() (string, error) {
	h := sha256.New()
	root := e.appsDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		h.Write([]byte(rel + "\x00" + strconv.FormatInt(info.Size(), 10) + "\x00" + strconv.FormatInt(info.ModTime().UnixNano(), 10) + "\x00" + info.Mode().String() + "\n"))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("scanning apps folder: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
