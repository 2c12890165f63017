package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/runtime"
)

// appState is an app as the engine runs it: its last good version, its run
// queue and its slots.
type appState struct {
	name  string
	app   *app.App // the last good version; nil if it never loaded
	tasks []string // keys of its tasks
	// dependents maps a task's name to the tasks of the app that list it
	// in their after:.
	dependents map[string][]*taskState
	queue      []*runReq
	reserved   int // admitted runs not yet in queue
	running    int
	memory     int64 // the memory limits of its running runs, summed
	// claiming is set while the first queued run takes a slot of the
	// app's quotas from the cluster (Cluster.Slots); starved when it got
	// none, until a slot is given back on any node. freed counts the
	// slots given back, so that one given back while a take was under
	// way is not missed.
	claiming, starved bool
	freed             uint64
	gone              bool // removed from disk
	loadErr           string
	// files is the quota of its directory, data/files/<app>, shared by its
	// runs; made at the first run that mounts it.
	files *runtime.DiskQuota
	// overrides identifies the stored overrides it was last loaded with
	// (see overrideStamps), whether the load succeeded or not.
	overrides string
	// routes are the routes of its last good version; routeSet what
	// they share (engine/routes.go).
	routes   []*loadedRoute
	routeSet *routeSet
	// initKey identifies the version its init task last succeeded for
	// (engine/appinit.go).
	initKey string
}

// filesQuotaLocked returns the quota of the app's directory, made again
// when quotas.files changed, or nil without the files permission. The
// engine's lock is held.
func (a *appState) filesQuotaLocked() *runtime.DiskQuota {
	if a.app == nil || !a.app.Manifest.Permissions.Files {
		return nil
	}
	if limit := a.app.Manifest.Quotas.Files; a.files == nil || a.files.Limit() != limit {
		a.files = runtime.NewDiskQuota(limit)
	}
	return a.files
}

func (a *appState) quota() int {
	if a.app == nil || a.app.Manifest.Quotas.Concurrency <= 0 {
		return app.DefaultConcurrency
	}
	return a.app.Manifest.Quotas.Concurrency
}

// fits reports whether a run with memory limit mem fits the app's memory
// quota beside its running runs. A run always fits when none is running.
func (a *appState) fits(mem int64) bool {
	if a.app == nil || a.running == 0 {
		return true
	}
	return a.memory+mem <= a.app.Manifest.Quotas.Memory
}

// slot is what run r of the app takes of the app's quotas in a cluster.
func (a *appState) slot(r *runReq) store.Slot {
	s := store.Slot{App: r.ts.app, Concurrency: a.quota(), Memory: r.ts.task.Limits.Memory}
	if a.app != nil {
		s.MemoryQuota = a.app.Manifest.Quotas.Memory
	}
	return s
}

func (a *appState) enabled() bool { return a.app != nil && a.app.Manifest.Enabled && !a.gone }

// unloadUnused forgets the compiled modules that no task and no run uses.
func (e *Engine) unloadUnused(ctx context.Context) {
	e.mu.Lock()
	used := map[*runtime.Module]bool{}
	for _, ts := range e.tasks {
		used[ts.module] = true
	}
	for _, h := range e.runs {
		used[h.module] = true
	}
	e.routeModulesLocked(used)
	var unused []*runtime.Module
	for hash, m := range e.modules {
		if !used[m] {
			unused = append(unused, m)
			delete(e.modules, hash)
		}
	}
	e.mu.Unlock()
	for _, m := range unused {
		e.cfg.Runtime.Unload(ctx, m)
	}
}

// overrideSet is the store's overrides in engine/app's form, with the
// failure state of each task that has one.
type overrideSet struct {
	list     []app.Override
	failures map[string]store.FailureState // by "app/task"
	stamps   map[string]string             // by app; see overrideStamps
}

// overrides reads the store's overrides. An override that cannot be read is
// logged and left out.
func (e *Engine) overrides(ctx context.Context) (overrideSet, error) {
	out, unread, err := readOverrides(ctx, e.cfg.Store.Overrides)
	for _, err := range unread {
		e.log.WarnContext(ctx, "ignoring unreadable override", slog.Any("error", err))
	}
	return out, err
}

// readOverrides reads the store's overrides; those that cannot be read are
// left out and returned as errors beside the set.
func readOverrides(ctx context.Context, st store.Overrides) (overrideSet, []error, error) {
	stored, err := st.Overrides(ctx)
	if err != nil {
		return overrideSet{}, nil, fmt.Errorf("reading overrides: %w", err)
	}
	out := overrideSet{list: make([]app.Override, 0, len(stored)), failures: map[string]store.FailureState{}, stamps: stampOverrides(stored)}
	var unread []error
	for _, o := range stored {
		out.failures[o.App+"/"+o.Task] = o.Failures
		ao, err := AppOverride(o)
		if err != nil {
			unread = append(unread, err)
			continue
		}
		out.list = append(out.list, ao)
	}
	return out, unread, nil
}

// AppOverride is the stored override o in the form package app merges.
func AppOverride(o store.Override) (app.Override, error) {
	ao := app.Override{App: o.App, Task: o.Task, Enabled: o.Enabled, Environment: o.Environment, Deleted: o.Deleted, UpdatedAt: o.UpdatedAt}
	if len(o.Schedule) > 0 {
		var s app.ScheduleSpec
		if err := json.Unmarshal(o.Schedule, &s); err != nil {
			return ao, fmt.Errorf("reading schedule of override %s/%s: %w", o.App, o.Task, err)
		}
		ao.Schedule = &s
	}
	if len(o.Fields) > 0 {
		var f app.OverrideFields
		if err := json.Unmarshal(o.Fields, &f); err != nil {
			return ao, fmt.Errorf("reading fields of override %s/%s: %w", o.App, o.Task, err)
		}
		if !f.IsZero() {
			ao.Fields = &f
		}
	}
	if o.Custom {
		var ts app.TaskSpec
		if err := json.Unmarshal(o.Definition, &ts); err != nil {
			return ao, fmt.Errorf("reading definition of custom task %s/%s: %w", o.App, o.Task, err)
		}
		ao.Custom = &ts
	}
	return ao, nil
}

// appNames lists the app folders under dir that the engine loads: the
// folders whose names are valid app names.
func appNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ent := range entries {
		if ent.IsDir() && app.ValidName(ent.Name()) == nil {
			names = append(names, ent.Name())
		}
	}
	return names, nil
}

// loadDefinition loads the app folder dir/name, its schedules checked
// with schedules (nil: a Parser of its own), and merges the overrides
// over its tasks.
func loadDefinition(dir, name string, ov overrideSet, schedules *schedule.Parser) (*app.App, []app.Task, error) {
	a, err := app.Load(filepath.Join(dir, name), app.Options{Schedules: schedules})
	if err != nil {
		return nil, nil, err
	}
	return a, app.Merge(a, ov.list), nil
}

// Definitions are the tasks of a home's apps as the engine loads them.
type Definitions struct {
	// Tasks are the tasks, overrides merged, by app name, then as their
	// app lists them.
	Tasks []app.Task
	// Failed are the apps that failed to load, by name.
	Failed map[string]error
	// Unreadable are the stored overrides that could not be read and were
	// left out.
	Unreadable []error
}

// LoadDefinitions reads the apps under home/apps with the overrides in st,
// as a started engine loads them, without compiling their modules: for a
// look at a home that no engine runs. A missing home/apps is an error.
func LoadDefinitions(ctx context.Context, home string, st store.Overrides) (Definitions, error) {
	ov, unread, err := readOverrides(ctx, st)
	if err != nil {
		return Definitions{}, err
	}
	dir := homedir.Home(home).Apps()
	names, err := appNames(dir)
	if err != nil {
		return Definitions{}, fmt.Errorf("reading apps: %w", err)
	}
	type read struct {
		tasks []app.Task
		err   error
	}
	out := Definitions{Failed: map[string]error{}, Unreadable: unread}
	schedules := new(schedule.Parser)
	reads := make([]read, len(names))
	n := 0
	readApps(names, func(name string) read {
		_, tasks, err := loadDefinition(dir, name, ov, schedules)
		return read{tasks, err}
	}, func(i int, r read) {
		reads[i] = r
		n += len(r.tasks)
	})
	// Sized at once: 100,000 tasks of 600 bytes grown by appending are
	// copied over and over.
	out.Tasks = make([]app.Task, 0, n)
	for i, r := range reads {
		if r.err != nil {
			out.Failed[names[i]] = r.err
			continue
		}
		out.Tasks = append(out.Tasks, r.tasks...)
	}
	return out, nil
}

// readApps calls read for each of names on up to GOMAXPROCS goroutines
// at once, and use with what it returned for each, in the order of names,
// on the caller's goroutine, as soon as that name and those before it are
// read. Reading the app folders is most of loading them, and each is read
// on its own, so they are read side by side, while use installs those
// read; what comes of it, errors too, is as if they had been read one
// after another. It returns once every name is read and used.
func readApps[T any](names []string, read func(name string) T, use func(i int, v T)) {
	workers := min(goruntime.GOMAXPROCS(0), len(names))
	if workers <= 1 {
		for i, name := range names {
			use(i, read(name))
		}
		return
	}
	out := make([]T, len(names))
	done := make([]chan struct{}, len(names))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				out[i] = read(names[i])
				close(done[i])
			}
		})
	}
	for i := range names {
		<-done[i]
		v := out[i]
		var zero T
		out[i] = zero // let it go once used
		use(i, v)
	}
	wg.Wait()
}

// loadedTask is a task with what running it needs, prepared outside the lock.
type loadedTask struct {
	task    *app.Task
	sched   schedule.Schedule
	module  *runtime.Module
	loadErr string
}

// shareTasks returns the merged tasks of a, each the task a holds when no
// override changed it, else a copy of its own: the engine keeps both the
// app as loaded (overrides are checked against it) and its tasks as they
// run, and most tasks have no override, so each is kept once. A copy of
// its own, so that the merged slice is not kept whole for a few tasks.
func shareTasks(a *app.App, merged []app.Task) []*app.Task {
	loaded := make(map[string]*app.Task, len(a.Tasks))
	for i := range a.Tasks {
		loaded[a.Tasks[i].Name] = &a.Tasks[i]
	}
	out := make([]*app.Task, len(merged))
	for i := range merged {
		// Pointers, not values: a 600-byte task given as an interface
		// value would be copied to the heap, twice a task.
		if t := loaded[merged[i].Name]; t != nil && reflect.DeepEqual(t, &merged[i]) {
			out[i] = t
			continue
		}
		t := merged[i]
		out[i] = &t
	}
	return out
}

// load is what the apps loaded together share.
type load struct {
	overrides overrideSet
	// schedules parses the tasks' schedules, one schedule for the tasks
	// that share a cron expression; the apps' checks parse with it too,
	// so each is compiled once a load.
	schedules *schedule.Parser
}

// newLoad reads the store's overrides for a load.
func (e *Engine) newLoad(ctx context.Context) (load, error) {
	ov, err := e.overrides(ctx)
	return load{overrides: ov, schedules: new(schedule.Parser)}, err
}

// readApp is an app folder as loadApp reads it: the app with its tasks
// merged and their schedules parsed, or why it failed. Reading touches
// nothing of the engine's, so that apps can be read side by side.
type readApp struct {
	app   *app.App
	tasks []loadedTask // modules not loaded yet
	err   error
}

// readApp reads the app folder name with the load's overrides.
func (e *Engine) readApp(name string, l load) readApp {
	a, merged, err := loadDefinition(e.appsDir(), name, l.overrides, l.schedules)
	if err != nil {
		return readApp{err: err}
	}
	tasks := shareTasks(a, merged)
	r := readApp{app: a, tasks: make([]loadedTask, len(tasks))}
	for i, t := range tasks {
		lt := &r.tasks[i]
		lt.task = t
		switch {
		case t.Valid():
			if lt.sched, err = parseSchedule(l.schedules, t); err != nil {
				lt.loadErr = err.Error()
			}
		case len(t.Errors) > 0:
			lt.loadErr = t.Errors[0].Error()
		}
	}
	return r
}

// loadApps loads the app folders names and installs them, in that order;
// they are read side by side (readApps).
func (e *Engine) loadApps(ctx context.Context, names []string, l load) {
	readApps(names, func(name string) readApp { return e.readApp(name, l) }, func(i int, r readApp) {
		e.installApp(ctx, names[i], l, r)
	})
}

// loadApp loads one app folder and installs it; a failure keeps the last
// good version.
func (e *Engine) loadApp(ctx context.Context, name string, l load) {
	e.installApp(ctx, name, l, e.readApp(name, l))
}

// installApp installs the app folder name as r read it, its modules
// compiled; a failure keeps the last good version.
func (e *Engine) installApp(ctx context.Context, name string, l load, r readApp) {
	ov := l.overrides
	e.mu.Lock()
	e.appLocked(name).overrides = ov.stamps[name]
	e.mu.Unlock()
	if r.err != nil {
		e.loadFailed(ctx, name, r.err, "")
		return
	}
	a := r.app

	var lerrs []store.LoadError
	seenErr := map[string]bool{}
	loaded := r.tasks
	// Tasks that share a module file read and hash it once a load.
	modules := map[string]*runtime.Module{}
	for i := range loaded {
		lt := &loaded[i]
		t := lt.task
		for _, p := range t.Errors {
			lerrs = append(lerrs, problemError(p, t.Name))
			seenErr[p.Error()] = true
		}
		if !t.Valid() {
			continue
		}
		if lt.loadErr == "" {
			var err error
			if lt.module = modules[t.Module]; lt.module == nil {
				lt.module, err = e.loadModule(ctx, t.Module)
				modules[t.Module] = lt.module
			}
			if err != nil {
				lt.loadErr = err.Error()
			}
		}
		if lt.loadErr != "" {
			lerrs = append(lerrs, store.LoadError{Task: t.Name, Message: lt.loadErr})
		}
	}
	for _, p := range a.Errors {
		if !seenErr[p.Error()] {
			lerrs = append(lerrs, problemError(p, ""))
		}
	}
	initKey, err := e.initApp(ctx, name, a, loaded)
	if err != nil {
		e.loadFailed(ctx, name, err, InitTask)
		return
	}
	routes, rerrs := e.loadRoutes(ctx, a)
	for _, err := range rerrs {
		lerrs = append(lerrs, store.LoadError{File: app.ManifestPath, Message: err.Error()})
	}
	e.setLoadErrors(ctx, name, lerrs)
	e.install(name, a, loaded, ov.failures)
	e.mu.Lock()
	as := e.appLocked(name)
	as.installRoutesLocked(routes)
	as.initKey = initKey
	e.mu.Unlock()
	e.log.InfoContext(ctx, "app loaded", slog.String("app", name), slog.Int("tasks", len(loaded)), slog.Int("errors", len(lerrs)))
	e.publish(Event{Type: EventAppReloaded, App: name})
}

// loadFailed records why a version of app name failed to load (in its
// task, if one), keeping its last good version.
func (e *Engine) loadFailed(ctx context.Context, name string, err error, task string) {
	e.log.WarnContext(ctx, "app failed to load; keeping its last good version", slog.String("app", name), slog.Any("error", err))
	var lerrs []store.LoadError
	var inv *app.InvalidError
	if errors.As(err, &inv) {
		for _, p := range inv.Problems {
			lerrs = append(lerrs, problemError(p, task))
		}
	} else {
		lerrs = append(lerrs, store.LoadError{Task: task, Message: err.Error()})
	}
	e.setLoadErrors(ctx, name, lerrs)
	e.mu.Lock()
	as := e.appLocked(name)
	as.loadErr = err.Error()
	e.mu.Unlock()
	e.publish(Event{Type: EventAppReloaded, App: name, Message: err.Error()})
}

func problemError(p app.Problem, task string) store.LoadError {
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return store.LoadError{Task: task, Message: msg, File: p.File, Line: p.Line}
}

func (e *Engine) setLoadErrors(ctx context.Context, name string, errs []store.LoadError) {
	if err := e.cfg.Store.LoadErrors.SetLoadErrors(ctx, name, errs); err != nil {
		e.log.ErrorContext(ctx, "recording load errors", slog.String("app", name), slog.Any("error", err))
	}
}

// loadModule compiles a module file once per content.
func (e *Engine) loadModule(ctx context.Context, path string) (*runtime.Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading module: %w", err)
	}
	// The runtime compiles each content once and counts the hits.
	m, _, err := e.cfg.Runtime.Load(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compiling module %s: %w", filepath.Base(path), err)
	}
	e.mu.Lock()
	e.modules[m.Hash] = m
	e.mu.Unlock()
	return m, nil
}

// appLocked returns the state of app name, creating it.
func (e *Engine) appLocked(name string) *appState {
	as, ok := e.apps[name]
	if !ok {
		as = &appState{name: name}
		e.apps[name] = as
		e.appOrder = append(e.appOrder, name)
	}
	as.gone = false
	return as
}

// install makes a loaded app the one that runs.
func (e *Engine) install(name string, a *app.App, loaded []loadedTask, failures map[string]store.FailureState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	as := e.appLocked(name)
	as.app = a
	as.loadErr = ""
	now := e.cfg.Clock.Now()
	keep := map[string]bool{}
	keys := make([]string, 0, len(loaded))
	for _, lt := range loaded {
		key := lt.task.Key()
		keep[key] = true
		keys = append(keys, key)
		ts, ok := e.tasks[key]
		if !ok {
			ts = &taskState{key: key, app: name, name: lt.task.Name, heapIdx: -1}
			e.tasks[key] = ts
			e.byName = nil
		}
		oldSched := ts.sched
		ts.task = lt.task
		ts.loadErr = lt.loadErr
		if lt.module != nil || lt.loadErr == "" || ts.module == nil {
			ts.module = lt.module
		}
		if lt.sched != nil {
			ts.sched = lt.sched
		} else if lt.loadErr == "" {
			ts.sched = nil
		}
		fs := failures[key]
		ts.failures, ts.disabledReason = fs.ConsecutiveFailures, fs.DisabledReason
		if lt.task.Enabled {
			ts.disabledReason = ""
		}
		if ts.schedulable(as) {
			if ts.heapIdx < 0 || oldSched == nil || oldSched.String() != ts.sched.String() {
				e.heap.remove(ts)
				ts.next = ts.sched.Next(now)
				e.heap.add(ts)
			}
		} else {
			e.heap.remove(ts)
		}
	}
	for _, key := range as.tasks {
		if !keep[key] {
			e.dropTaskLocked(key)
		}
	}
	as.tasks = keys
	as.dependents = nil
	for _, key := range keys {
		ts := e.tasks[key]
		for _, name := range ts.task.After {
			if as.dependents == nil {
				as.dependents = map[string][]*taskState{}
			}
			as.dependents[name] = append(as.dependents[name], ts)
		}
	}
	e.armLocked()
}

// removeApp stops firing an app whose folder is gone; its queued runs are
// cancelled, its running runs finish.
func (e *Engine) removeApp(ctx context.Context, name string) {
	e.mu.Lock()
	as, ok := e.apps[name]
	if !ok {
		e.mu.Unlock()
		return
	}
	as.gone = true
	for _, key := range as.tasks {
		e.dropTaskLocked(key)
	}
	as.tasks, as.dependents = nil, nil
	dropped := as.queue
	as.queue = nil
	as.discardWarmLocked()
	e.forgetAppLocked(as)
	e.armLocked()
	e.mu.Unlock()
	for _, r := range dropped {
		e.finishUnstarted(ctx, r, store.StatusCancelled, "not started: app removed")
	}
	e.setLoadErrors(ctx, name, nil)
	e.log.InfoContext(ctx, "app removed", slog.String("app", name))
	e.publish(Event{Type: EventAppReloaded, App: name, Message: "removed"})
}

// forgetAppLocked deletes a removed app's state once nothing of it runs.
func (e *Engine) forgetAppLocked(as *appState) {
	if !as.gone || as.running > 0 || as.reserved > 0 || len(as.queue) > 0 {
		return
	}
	delete(e.apps, as.name)
	e.appOrder = slices.DeleteFunc(e.appOrder, func(n string) bool { return n == as.name })
	if e.rr >= len(e.appOrder) {
		e.rr = 0
	}
}

func (e *Engine) dropTaskLocked(key string) {
	ts, ok := e.tasks[key]
	if !ok {
		return
	}
	e.heap.remove(ts)
	ts.removed = true
	delete(e.tasks, key)
	e.byName = nil
}
