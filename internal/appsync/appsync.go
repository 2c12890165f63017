// Package appsync keeps the apps folder of a node of a cluster in step
// with the apps the cluster's store holds as versioned bundles (see
// store.Bundles).
//
// Both ways go through package lifecycle. A change made in the apps
// folder (an install from the command line or the API, an app dropped
// into the folder, an edited app.yaml, a removed folder) is exported as
// a bundle and published, once the engine has reloaded it; a version
// published by another node is installed into the folder, in one
// rename, and the engine's watch reloads it. Content hashes (see
// lifecycle.ArchiveManifest.Sum) keep a version from going round: what a
// node wrote from the store has the hash the store holds, so it is never
// published again as new.
package appsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

// Changes is where the syncer learns that the engine reloaded an app
// (engine.EventAppReloaded): *engine.Engine is one.
type Changes interface {
	Subscribe() (<-chan engine.Event, func())
}

// Config configures a Syncer. Home and Store are required.
type Config struct {
	// Home is the node's Cronbox home: apps are in Home/apps. Required.
	Home string
	// Store holds the cluster's apps. Required.
	Store store.Bundles
	// Node names this node in what it publishes. Default: the host name.
	Node string
	// Changes reports the engine's reloads, after which a changed app
	// is published. Default nil: changes are found by Rescan only.
	Changes Changes
	// Poll is how often the store's current versions are read. Default
	// 1s.
	Poll time.Duration
	// Rescan is how often every app folder is looked at without a
	// reload reported, so that a missed report delays a publication but
	// never loses it. Default 30s.
	Rescan time.Duration
	// CacheDir is the compiled-code cache that checking an app compiles
	// its modules with. Default Home/data/cache.
	CacheDir string
	// Limits bound the bundles, made and installed. Zero fields take
	// lifecycle.DefaultLimits'.
	Limits lifecycle.Limits
	// Logger receives what the syncer does. Default: discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Home == "":
		return c, errors.New("app sync: no home")
	case c.Store == nil:
		return c, errors.New("app sync: no store")
	case c.Poll < 0 || c.Rescan < 0:
		return c, fmt.Errorf("app sync: Poll %s and Rescan %s must not be negative", c.Poll, c.Rescan)
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Rescan == 0 {
		c.Rescan = 30 * time.Second
	}
	if c.CacheDir == "" {
		c.CacheDir = homedir.Home(c.Home).Cache()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Syncer keeps one home's apps folder in step with the store. Create one
// with New, then Start it; Stop ends it.
type Syncer struct {
	cfg Config
	log *slog.Logger

	// apps is what the loop knows of each app; only the loop touches it.
	apps map[string]*appState

	mu      sync.Mutex
	status  map[string]Status
	changed map[string]bool // apps the engine reloaded, not looked at yet
	wake    chan struct{}   // signalled when changed grows

	cancel context.CancelFunc
	done   chan struct{}
}

// appState is the syncer's record of an app.
type appState struct {
	// version is the store's version last installed or published here.
	version int64
	// local is the content hash of the app's folder as it was then, ""
	// for no folder.
	local string
	// failed is a version refused by the install, and rejected a local
	// content refused by the check before publishing: neither is tried
	// again.
	failed   int64
	rejected string
}

// Status is where an app stands on this node, for people.
type Status struct {
	// Version is the store's version the node has; Hash its content.
	Version int64  `json:"version"`
	Hash    string `json:"hash,omitempty"`
	// Error is why the latest version is not in the apps folder, or why
	// the folder's content was not published; "" when all is well.
	Error string `json:"error,omitempty"`
}

// New returns a Syncer for cfg.
func New(cfg Config) (*Syncer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Syncer{cfg: cfg, log: cfg.Logger.With(slog.String("node", cfg.Node)), apps: map[string]*appState{},
		status: map[string]Status{}, changed: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Start brings the apps folder in step with the store once, then keeps
// it so in a goroutine of its own until Stop. Call it before the engine
// starts, so that the engine loads the cluster's apps from the first:
// a folder whose content the store knows as an older version is
// replaced by the current one, and one the store does not know is
// published. An error of that first step is logged and tried again.
func (s *Syncer) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	var events <-chan engine.Event
	unsubscribe := func() {}
	if s.cfg.Changes != nil {
		events, unsubscribe = s.cfg.Changes.Subscribe()
	}
	if err := s.Sync(ctx); err != nil {
		s.log.WarnContext(ctx, "syncing apps with the store", slog.Any("error", err))
	}
	var wg sync.WaitGroup
	if events != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.follow(ctx, events)
		}()
	}
	go func() {
		defer close(s.done)
		s.loop(ctx)
		unsubscribe() // closes events, which ends follow
		wg.Wait()
	}()
}

// Stop ends the syncer and waits for its goroutines. What it is doing
// (an install, a publication) is cut short, and is left undone or done
// whole.
func (s *Syncer) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

// Status returns where each app stands on this node.
func (s *Syncer) Status() map[string]Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Status, len(s.status))
	for k, v := range s.status {
		out[k] = v
	}
	return out
}

func (s *Syncer) setStatus(name string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[name] = st
}

// follow notes the apps the engine reloads until events closes.
func (s *Syncer) follow(ctx context.Context, events <-chan engine.Event) {
	for ev := range events {
		if ev.Type != engine.EventAppReloaded || ev.App == "" || ctx.Err() != nil {
			continue
		}
		s.mu.Lock()
		s.changed[ev.App] = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// loop polls the store, looks at reloaded apps and rescans the folder
// until ctx is done.
func (s *Syncer) loop(ctx context.Context) {
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	rescan := time.NewTicker(s.cfg.Rescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "reading the apps' versions", slog.Any("error", err))
			}
		case <-s.wake:
			s.mu.Lock()
			names := sortedKeys(s.changed)
			clear(s.changed)
			s.mu.Unlock()
			for _, name := range names {
				s.push(ctx, name)
			}
		case <-rescan.C:
			if err := s.pushAll(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "looking at the apps folder", slog.Any("error", err))
			}
		}
	}
}

// Sync brings the apps folder and the store in step once: versions the
// folder lacks are installed, and what the folder holds that the store
// never had is published. Start calls it first, then every Poll; while
// the Syncer runs, only its goroutine may.
func (s *Syncer) Sync(ctx context.Context) error {
	heads, err := s.cfg.Store.CurrentBundles(ctx)
	if err != nil {
		return err
	}
	local, err := appNames(s.cfg.Home)
	if err != nil {
		return err
	}
	byName := map[string]store.AppBundle{}
	for _, h := range heads {
		byName[h.App] = h
	}
	for _, h := range heads {
		if st, known := s.apps[h.App]; known {
			if h.Version > st.version && h.Version != st.failed {
				s.apply(ctx, h)
			}
			continue
		}
		if local[h.App] {
			b, err := export(s.cfg.Home, h.App, s.cfg.Limits)
			if err != nil {
				// Left as it is, until a newer version comes.
				s.apps[h.App] = &appState{failed: h.Version}
				s.log.WarnContext(ctx, "reading an app", slog.String("app", h.App), slog.Any("error", err))
				s.setStatus(h.App, Status{Error: fmt.Sprintf("version %d: reading the app's folder: %v", h.Version, err)})
				continue
			}
			sum := b.sum
			if sum == h.Hash && !h.Removed {
				s.apps[h.App] = &appState{version: h.Version, local: sum}
				s.setStatus(h.App, Status{Version: h.Version, Hash: sum})
				continue
			}
			old, err := s.cfg.Store.HasBundle(ctx, h.App, sum)
			if err != nil {
				return err
			}
			if !old {
				// Changed while this node was away: the newest,
				// unless it is broken, when the current version
				// replaces it.
				s.apps[h.App] = &appState{}
				s.push(ctx, h.App)
				if s.apps[h.App].version >= h.Version {
					continue
				}
			}
		}
		s.apply(ctx, h)
	}
	for _, name := range sortedKeys(local) {
		if _, inStore := byName[name]; !inStore {
			if _, known := s.apps[name]; !known {
				s.push(ctx, name)
			}
		}
	}
	return nil
}

// pushAll looks at every app folder, and at every app whose folder went.
func (s *Syncer) pushAll(ctx context.Context) error {
	local, err := appNames(s.cfg.Home)
	if err != nil {
		return err
	}
	for name := range s.apps {
		local[name] = true
	}
	for _, name := range sortedKeys(local) {
		s.push(ctx, name)
	}
	return nil
}

func (s *Syncer) state(name string) *appState {
	st := s.apps[name]
	if st == nil {
		st = &appState{}
		s.apps[name] = st
	}
	return st
}

// apply brings the app folder to the store's version h.
func (s *Syncer) apply(ctx context.Context, h store.AppBundle) {
	st := s.state(h.App)
	log := s.log.With(slog.String("app", h.App), slog.Int64("version", h.Version))
	fail := func(err error) {
		// A version refused is not tried again; one that failed
		// otherwise (the store unreachable, say) is, at the next poll.
		if errors.Is(err, lifecycle.ErrArchive) || errors.Is(err, lifecycle.ErrInvalid) {
			st.failed = h.Version
		}
		log.ErrorContext(ctx, "the app's latest version is not installed; the one before stays", slog.Any("error", err))
		s.setStatus(h.App, Status{Version: st.version, Hash: st.local, Error: fmt.Sprintf("version %d: %v", h.Version, err)})
	}
	dir := homedir.Home(s.cfg.Home).App(h.App)
	_, lerr := os.Lstat(dir)
	exists := lerr == nil
	if h.Removed {
		if exists {
			res, err := lifecycle.Uninstall(ctx, s.cfg.Home, h.App, lifecycle.UninstallOptions{})
			if err != nil {
				fail(err)
				return
			}
			log.InfoContext(ctx, "app uninstalled by the cluster", slog.String("by", h.Node), slog.String("backup", res.Backup))
		}
		if h.Purged {
			// The store's data went with the purge, once; the node's
			// files of the app go here, on each node, and on a node
			// that was away when it starts.
			files := homedir.Home(s.cfg.Home).Files(h.App)
			if _, err := os.Lstat(files); err == nil {
				if err := os.RemoveAll(files); err != nil {
					fail(err)
					return
				}
				log.InfoContext(ctx, "app's files purged by the cluster", slog.String("by", h.Node))
			}
		}
		*st = appState{version: h.Version}
		s.setStatus(h.App, Status{Version: h.Version})
		return
	}
	if exists {
		if b, err := export(s.cfg.Home, h.App, s.cfg.Limits); err == nil && b.sum == h.Hash {
			*st = appState{version: h.Version, local: b.sum}
			s.setStatus(h.App, Status{Version: h.Version, Hash: b.sum})
			return
		}
	}
	data, err := s.cfg.Store.BundleData(ctx, h.App, h.Hash)
	if err != nil {
		fail(err)
		return
	}
	res, err := lifecycle.InstallArchive(ctx, s.cfg.Home, bytes.NewReader(data), int64(len(data)), lifecycle.InstallOptions{
		Upgrade: true, NoBackup: true, Limits: s.cfg.Limits, Validate: lifecycle.ValidateOptions{CacheDir: s.cfg.CacheDir}})
	if err != nil {
		fail(err)
		return
	}
	// What the folder now holds, as the next look will find it.
	sum := (&lifecycle.ArchiveManifest{App: res.App, Files: res.Files}).Sum()
	*st = appState{version: h.Version, local: sum}
	s.setStatus(h.App, Status{Version: h.Version, Hash: sum})
	log.InfoContext(ctx, "app installed from the cluster", slog.String("app_version", res.Version), slog.String("by", h.Node))
}

// push publishes the app folder name when its content is not what the
// syncer last installed or published: a new version, or a tombstone when
// the folder went.
func (s *Syncer) push(ctx context.Context, name string) {
	if app.ValidName(name) != nil {
		return
	}
	st := s.state(name)
	log := s.log.With(slog.String("app", name))
	if _, err := os.Lstat(homedir.Home(s.cfg.Home).App(name)); errors.Is(err, fs.ErrNotExist) {
		if st.local == "" {
			return
		}
		v, _, err := s.cfg.Store.RemoveBundle(ctx, name, s.cfg.Node, false)
		if err != nil {
			log.WarnContext(ctx, "publishing an uninstall", slog.Any("error", err))
			return
		}
		*st = appState{version: v.Version}
		s.setStatus(name, Status{Version: v.Version})
		log.InfoContext(ctx, "app uninstall published", slog.Int64("version", v.Version))
		return
	}
	b, err := export(s.cfg.Home, name, s.cfg.Limits)
	if err != nil {
		// A symlink, a file over the limits: the other nodes could not
		// get what this one runs.
		s.setStatus(name, Status{Version: st.version, Hash: st.local, Error: "not published: " + err.Error()})
		log.WarnContext(ctx, "exporting an app to publish it", slog.Any("error", err))
		return
	}
	sum := b.sum
	if sum == st.local || sum == st.rejected {
		return
	}
	v, published, err := publish(ctx, s.cfg.Home, s.cfg.Store, b, s.cfg.Node, lifecycle.ValidateOptions{CacheDir: s.cfg.CacheDir})
	if err != nil {
		if isRejected(err) {
			st.rejected = sum
			s.setStatus(name, Status{Version: st.version, Hash: st.local, Error: "not published: " + err.Error()})
		}
		log.WarnContext(ctx, "the app's folder changed but is not published", slog.Any("error", err))
		return
	}
	*st = appState{version: v.Version, local: sum}
	s.setStatus(name, Status{Version: v.Version, Hash: sum})
	if published {
		log.InfoContext(ctx, "app published", slog.Int64("version", v.Version), slog.String("app_version", v.AppVersion))
	}
}

// appNames returns the names of the app folders of home.
func appNames(home string) (map[string]bool, error) {
	ents, err := os.ReadDir(homedir.Home(home).Apps())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && app.ValidName(e.Name()) == nil {
			out[e.Name()] = true
		}
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
