package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// WatchConfig configures Engine.Watch. The zero value is ready to use.
type WatchConfig struct {
	// Quiet is how long the apps folder must be quiet after a file event
	// (each event starts it again) before Watch looks at it. A changed app
	// folder the look finds complete (see appComplete) is reloaded at
	// once. Default 100ms.
	Quiet time.Duration
	// Settle is how far apart two looks must be that agree on a change
	// the looks cannot vouch for (an app folder that is not complete, or
	// gone, or a change found by polling) before it is reloaded. Default
	// 500ms.
	Settle time.Duration
	// Poll is how often Watch looks at the apps folder without any file
	// event, so that a lost event delays a reload but never loses it; when
	// file events are unavailable it is the only way changes are seen. It
	// also bounds how long a burst of events can put a look off. Default
	// 30s.
	Poll time.Duration
	// Overrides is how often Watch reads the store's overrides to notice
	// those changed by another process. Default 1s.
	Overrides time.Duration
}

func (c WatchConfig) withDefaults() (WatchConfig, error) {
	checks := []struct {
		name string
		v    time.Duration
	}{{"Quiet", c.Quiet}, {"Settle", c.Settle}, {"Poll", c.Poll}, {"Overrides", c.Overrides}}
	for _, ch := range checks {
		if ch.v < 0 {
			return c, fmt.Errorf("watch config: %s must not be negative, got %s", ch.name, ch.v)
		}
	}
	if c.Quiet == 0 {
		c.Quiet = 100 * time.Millisecond
	}
	if c.Settle == 0 {
		c.Settle = 500 * time.Millisecond
	}
	if c.Poll == 0 {
		c.Poll = 30 * time.Second
	}
	if c.Overrides == 0 {
		c.Overrides = time.Second
	}
	return c, nil
}

// Watch hot-reloads the engine until ctx is done. Call it right after
// Start, in its own goroutine: what it first sees is taken as loaded. It
// returns an error for a bad cfg, otherwise ctx's error.
//
// Apps: Watch follows file events (fsnotify) on <home>/apps and every
// folder below it, adding folders as they appear. Once the events have
// stopped for cfg.Quiet, it fingerprints each app folder (names, sizes,
// modification times). An app folder whose fingerprint changed is
// reloaded on its own at once if it is complete: its definition has no
// problem and each module it names is a whole WebAssembly binary, as an
// app folder renamed into apps/ is. Any other change (a folder missing a
// file or holding a module cut short, as one being copied may; a removed
// folder) is reloaded once two looks, at least cfg.Settle apart, find
// the same content. A new app is loaded, a removed one stops firing (its
// running runs finish). So a folder being copied is not loaded half-way
// unless the copy stalls for longer than Quiet where it looks complete,
// or for longer than Settle anywhere, and then its next change reloads
// it. Every cfg.Poll Watch also looks without an event, so a dropped
// event or an event queue overflow only delays a reload (such a look
// always waits for a second one); when file events cannot be set up
// (inotify limits, say) it logs a warning and polling is all it does.
//
// Overrides: every cfg.Overrides Watch reads the store's overrides and
// reloads the apps whose overrides changed, so that a change made by
// another process (`cronbox task enable`, say) applies. Failure counts,
// which the engine keeps itself, do not count. While a change of the apps
// folder settles, this waits (up to cfg.Poll) rather than load a folder
// half-way.
//
// Times are measured on the engine's clock.
func (e *Engine) Watch(ctx context.Context, cfg WatchConfig) error {
	l, err := e.newWatchLoop(ctx, cfg)
	if err != nil {
		return err
	}
	defer l.n.close()
	return l.run(ctx)
}

// watchLoop is Watch's state.
type watchLoop struct {
	e   *Engine
	cfg WatchConfig
	n   *notifier
	w   *watcher

	quiet, poll, ovPoll alarm
	burst               time.Time // when the events that quiet waits out began
	deferred            time.Time // when an overrides check was first put off

	// fileEvents counts the file events the loop has taken, and ovLooks
	// its overrides alarms: what a test waits on to know the loop has
	// seen what it did.
	fileEvents, ovLooks atomic.Int64
}

// newWatchLoop sets up the file watches and takes the first looks at the
// apps folder and the overrides, against which later looks are compared.
func (e *Engine) newWatchLoop(ctx context.Context, cfg WatchConfig) (*watchLoop, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &watchLoop{e: e, cfg: cfg, quiet: alarm{clock: e.cfg.Clock}, poll: alarm{clock: e.cfg.Clock}, ovPoll: alarm{clock: e.cfg.Clock}}
	// The first fingerprints are taken before the file watches are set
	// up: a change made in between then differs from them, and the first
	// poll finds it.
	if l.w, err = e.newWatcher(cfg.Settle); err != nil {
		e.log.WarnContext(ctx, "watching apps", slog.Any("error", err))
		l.w = &watcher{e: e, settle: cfg.Settle, loaded: map[string]string{}}
	}
	l.n = e.newNotifier(ctx, cfg.Poll)
	return l, nil
}

// run watches until ctx is done.
func (l *watchLoop) run(ctx context.Context) error {
	e, cfg := l.e, l.cfg
	defer l.quiet.stop()
	defer l.poll.stop()
	defer l.ovPoll.stop()
	l.poll.set(cfg.Poll)
	l.ovPoll.set(cfg.Overrides)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("watching apps: %w", ctx.Err())
		case ev, ok := <-l.n.events():
			if !ok {
				l.n.lost(ctx)
				continue
			}
			l.fileEvents.Add(1)
			if !l.n.handle(ctx, ev) {
				continue
			}
			// A burst of events puts the look off, but not beyond Poll.
			if now := e.cfg.Clock.Now(); l.quiet.c == nil {
				l.burst = now
				l.quiet.set(cfg.Quiet)
			} else if now.Sub(l.burst) < cfg.Poll {
				l.quiet.set(cfg.Quiet)
			}
		case err, ok := <-l.n.errors():
			if !ok {
				l.n.lost(ctx)
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				e.log.WarnContext(ctx, "file events were lost; rescanning apps")
				l.n.addTree(ctx, l.n.apps)
			} else {
				e.log.WarnContext(ctx, "watching apps", slog.Any("error", err))
			}
			if l.quiet.c == nil {
				l.burst = e.cfg.Clock.Now()
			}
			l.quiet.set(cfg.Quiet)
		case <-l.quiet.c:
			l.quiet.stop()
			l.look(ctx, true)
		case <-l.poll.c:
			l.poll.set(cfg.Poll)
			// Unless a look is due anyway; a change found here was
			// missed by the file events, maybe a new folder's too.
			if l.quiet.c == nil && l.look(ctx, false) {
				l.n.addTree(ctx, l.n.apps)
			}
		case <-l.ovPoll.c:
			// Reloading an app reads its folder: not while a change
			// to it may be under way (reloading it then applies its
			// overrides too), but not for longer than Poll either.
			now := e.cfg.Clock.Now()
			if l.quiet.c == nil || (!l.deferred.IsZero() && now.Sub(l.deferred) >= cfg.Poll) {
				e.checkOverrides(ctx)
				l.deferred = time.Time{}
			} else if l.deferred.IsZero() {
				l.deferred = now
			}
			l.ovPoll.set(cfg.Overrides)
			l.ovLooks.Add(1)
		}
	}
}

// look looks at the apps folder, reloading the changes it confirms (and,
// after a quiet period, the complete app folders it finds changed), and
// sets quiet for the look that confirms the changes it sees. It reports
// whether it found the folder changed.
func (l *watchLoop) look(ctx context.Context, quiet bool) bool {
	reloaded, err := l.w.step(ctx, quiet)
	if err != nil {
		if ctx.Err() == nil {
			l.e.log.WarnContext(ctx, "watching apps", slog.Any("error", err))
		}
		return true // the next poll tries again
	}
	if len(l.w.pending) > 0 {
		l.quiet.set(l.cfg.Settle)
		l.burst = l.e.cfg.Clock.Now()
	}
	return reloaded || len(l.w.pending) > 0
}

// alarm is a one-shot timer on a Clock whose firing closes c.
type alarm struct {
	clock Clock
	t     Timer
	c     chan struct{} // nil while not set
}

// set (re)starts the alarm to fire after d.
func (a *alarm) set(d time.Duration) {
	a.stop()
	c := make(chan struct{})
	a.t = a.clock.AfterFunc(d, func() { close(c) })
	a.c = c
}

// stop unsets the alarm.
func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
	a.t, a.c = nil, nil
}

// notifier is Watch's fsnotify watcher over the apps folder. A nil
// *fsnotify.Watcher means there are no file events: Watch only polls.
type notifier struct {
	e       *Engine
	w       *fsnotify.Watcher
	home    string // watched for the apps folder coming and going
	apps    string
	limited bool // a watch was refused for want of resources; said once
}

func (e *Engine) newNotifier(ctx context.Context, poll time.Duration) *notifier {
	n := &notifier{e: e, home: filepath.Clean(e.cfg.Home), apps: filepath.Clean(e.appsDir())}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		e.log.WarnContext(ctx, "file events unavailable; polling the apps folder only", slog.Duration("every", poll), slog.Any("error", err))
		return n
	}
	n.w = w
	if err := w.Add(n.home); err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.refused(ctx, n.home, err)
	}
	n.addTree(ctx, n.apps)
	return n
}

func (n *notifier) close() {
	if n.w != nil {
		n.w.Close()
	}
}

// events and errors are the watcher's channels, nil (never ready) without
// one.
func (n *notifier) events() <-chan fsnotify.Event {
	if n.w == nil {
		return nil
	}
	return n.w.Events
}

func (n *notifier) errors() <-chan error {
	if n.w == nil {
		return nil
	}
	return n.w.Errors
}

// lost gives up file events after the watcher's channels closed.
func (n *notifier) lost(ctx context.Context) {
	n.e.log.WarnContext(ctx, "file events stopped; polling the apps folder only")
	n.close()
	n.w = nil
}

// handle follows a file event, watching the folders it creates, and
// reports whether it concerns the apps folder.
func (n *notifier) handle(ctx context.Context, ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if name != n.apps && !strings.HasPrefix(name, n.apps+string(filepath.Separator)) {
		return false // another entry of the home folder
	}
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) {
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() {
			n.addTree(ctx, name)
		}
	}
	return true
}

// addTree watches root and every folder below it. Watching a folder twice
// is harmless.
func (n *notifier) addTree(ctx context.Context, root string) {
	if n.w == nil {
		return
	}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // gone meanwhile, or a file
		}
		if err := n.w.Add(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			n.refused(ctx, path, err)
			if n.limited {
				return fs.SkipAll
			}
		}
		return nil
	})
}

// refused logs a folder that cannot be watched; running out of inotify
// watches is said once, as polling then covers the rest.
func (n *notifier) refused(ctx context.Context, path string, err error) {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
		if !n.limited {
			n.limited = true
			n.e.log.WarnContext(ctx, "out of file watches; changes below some app folders are seen only by polling",
				slog.String("folder", path), slog.Any("error", err))
		}
		return
	}
	n.e.log.WarnContext(ctx, "cannot watch a folder; its changes are seen only by polling", slog.String("folder", path), slog.Any("error", err))
}

// watcher is Watch's view of the apps folder: the fingerprint of each app
// folder as last loaded, and of changes seen and not yet confirmed.
type watcher struct {
	e      *Engine
	settle time.Duration
	loaded map[string]string // by app name
	// pending holds, by app name, a changed fingerprint seen by the last
	// look, or "" for an app folder the last look found gone, with when
	// a look first saw it.
	pending map[string]sighting
}

// sighting is a fingerprint and when it was first seen.
type sighting struct {
	sum  string
	seen time.Time
}

func (e *Engine) newWatcher(settle time.Duration) (*watcher, error) {
	fp, err := e.fingerprints()
	if err != nil {
		return nil, err
	}
	return &watcher{e: e, settle: settle, loaded: fp}, nil
}

// step looks at the apps folder once and reloads the apps whose change an
// earlier look, at least settle ago, saw already and, after a quiet
// period, the changed app folders that are complete; it reports whether
// it reloaded any.
func (w *watcher) step(ctx context.Context, quiet bool) (bool, error) {
	fp, err := w.e.fingerprints()
	if err != nil {
		return false, err
	}
	now := w.e.cfg.Clock.Now()
	pending := map[string]sighting{}
	// confirmed reports whether the last looks saw sum since settle ago,
	// and notes it as pending otherwise.
	confirmed := func(name, sum string) bool {
		s, ok := w.pending[name]
		if !ok || s.sum != sum {
			s = sighting{sum: sum, seen: now}
		}
		if now.Sub(s.seen) >= w.settle {
			return true
		}
		pending[name] = s
		return false
	}
	var changed, gone []string
	for name, sum := range fp {
		if old, ok := w.loaded[name]; ok && old == sum {
			continue
		}
		if (quiet && w.e.appComplete(name)) || confirmed(name, sum) {
			changed = append(changed, name)
		}
	}
	for name := range w.loaded {
		if _, ok := fp[name]; ok {
			continue
		}
		if confirmed(name, "") {
			gone = append(gone, name)
		}
	}
	w.pending = pending
	if len(changed) == 0 && len(gone) == 0 {
		return false, nil
	}
	slices.Sort(changed)
	slices.Sort(gone)
	w.e.log.InfoContext(ctx, "apps changed; reloading", slog.Any("apps", changed), slog.Any("removed", gone))
	if err := w.e.reloadApps(ctx, changed, gone); err != nil {
		// The next look finds the same and tries again.
		for _, name := range changed {
			pending[name] = sighting{sum: fp[name], seen: now.Add(-w.settle)}
		}
		for _, name := range gone {
			pending[name] = sighting{seen: now.Add(-w.settle)}
		}
		return false, err
	}
	for _, name := range changed {
		w.loaded[name] = fp[name]
	}
	for _, name := range gone {
		delete(w.loaded, name)
	}
	return true, nil
}

// fingerprints fingerprints every app folder under the apps folder (the
// folders Reload loads), by app name.
func (e *Engine) fingerprints() (map[string]string, error) {
	out := map[string]string{}
	entries, err := os.ReadDir(e.appsDir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		return nil, fmt.Errorf("scanning apps folder: %w", err)
	}
	for _, ent := range entries {
		if !ent.IsDir() || app.ValidName(ent.Name()) != nil {
			continue
		}
		fp, err := fingerprint(filepath.Join(e.appsDir(), ent.Name()))
		if err != nil {
			return nil, err
		}
		out[ent.Name()] = fp
	}
	return out, nil
}

// fingerprint hashes the names, sizes, modification times and modes of
// every file under root.
func fingerprint(root string) (string, error) {
	h := sha256.New()
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
		return "", fmt.Errorf("scanning app folder %s: %w", filepath.Base(root), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stampOverrides identifies, by app, the stored overrides' configuration
// and whether failures disabled each task (not the failure counts, which
// the engine itself keeps up to date).
func stampOverrides(ovs []store.Override) map[string]string {
	out := map[string]string{}
	for _, o := range ovs {
		out[o.App] += o.Task + "@" + strconv.FormatInt(o.UpdatedAt.UnixNano(), 10) + ":" + strconv.Quote(o.Failures.DisabledReason) + ";"
	}
	return out
}

// checkOverrides reloads the apps whose stored overrides differ from those
// they were last loaded with: changed by another process, or by this one
// without a reload (failures disabling a task). A change the engine made
// itself was applied by a reload already, and is not applied again. An
// app that is not loaded is left alone: loading it reads its overrides
// anyway.
func (e *Engine) checkOverrides(ctx context.Context) {
	ovs, err := e.cfg.Store.Overrides.Overrides(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "watching overrides", slog.Any("error", err))
		}
		return
	}
	stamps := stampOverrides(ovs)
	var changed []string
	e.mu.Lock()
	for name, as := range e.apps {
		if stamps[name] != as.overrides && as.app != nil && !as.gone {
			changed = append(changed, name)
		}
	}
	e.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	slices.Sort(changed)
	e.log.InfoContext(ctx, "overrides changed; reloading", slog.Any("apps", changed))
	if err := e.reloadApps(ctx, changed, nil); err != nil && ctx.Err() == nil {
		e.log.WarnContext(ctx, "watching overrides", slog.Any("error", err))
	}
}
