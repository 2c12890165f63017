package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/runtime"
)

// AppInfo is a snapshot of one app, for listings.
type AppInfo struct {
	// Name is the app's folder name.
	Name string
	// Dir is the app folder's absolute path; "" if it never loaded.
	Dir string
	// Manifest is its app.yaml as last loaded; the zero Manifest (with
	// Name set) if it never loaded.
	Manifest app.Manifest
	// Loaded reports whether a version of the app runs.
	Loaded bool
	// LoadError is why its last reload failed, if it did.
	LoadError string
	// Removed reports an app whose folder is gone while runs of it finish.
	Removed bool
	// Tasks counts its tasks.
	Tasks int
}

// Apps returns a snapshot of every app, ordered by name.
func (e *Engine) Apps() []AppInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AppInfo, 0, len(e.apps))
	for _, as := range e.apps {
		out = append(out, appInfoLocked(as))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// App returns a snapshot of the app named name.
func (e *Engine) App(name string) (AppInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	as, ok := e.apps[name]
	if !ok {
		return AppInfo{}, false
	}
	return appInfoLocked(as), true
}

// Storage is what an app's tasks have stored, against its quotas.
type Storage struct {
	// KV is what its key-value store holds, keys and values, in bytes.
	KV, KVQuota int64
	// Files is what its directory, data/files/<app>, holds as its files
	// quota counts it; both are 0 without the files permission.
	Files, FilesQuota int64
	// History is what its run history holds (logs, outputs, results,
	// inputs), against quotas.history.
	History, HistoryQuota int64
}

// Storage returns what the app name's tasks have stored. Its directory is
// measured the first time (the walk a run would make), and followed from
// then on; an error wrapping ErrNotFound means no such app is loaded.
func (e *Engine) Storage(ctx context.Context, name string) (Storage, error) {
	e.mu.Lock()
	as := e.apps[name]
	if as == nil || as.app == nil {
		e.mu.Unlock()
		return Storage{}, fmt.Errorf("storage of %s: app %w", name, ErrNotFound)
	}
	out := Storage{KVQuota: as.app.Manifest.Quotas.KV, HistoryQuota: as.app.Manifest.Quotas.History}
	files := as.filesQuotaLocked()
	e.mu.Unlock()
	var err error
	if out.KV, err = e.cfg.Store.KV.KVUsage(ctx, name); err != nil {
		return Storage{}, fmt.Errorf("storage of %s: %w", name, err)
	}
	if out.History, err = e.cfg.Store.Retention.HistoryUsage(ctx, name); err != nil {
		return Storage{}, fmt.Errorf("storage of %s: %w", name, err)
	}
	if files != nil {
		dir := homedir.Home(e.cfg.Home).Files(name)
		switch err := files.Measure(dir); {
		case errors.Is(err, fs.ErrNotExist): // nothing stored yet
		case err != nil:
			return Storage{}, fmt.Errorf("storage of %s: %w", name, err)
		default:
			out.Files = files.Used()
		}
		out.FilesQuota = files.Limit()
	}
	return out, nil
}

func appInfoLocked(as *appState) AppInfo {
	info := AppInfo{Name: as.name, LoadError: as.loadErr, Removed: as.gone, Tasks: len(as.tasks)}
	info.Manifest.Name = as.name
	if as.app != nil {
		info.Loaded, info.Dir, info.Manifest = true, as.app.Dir, as.app.Manifest
	}
	return info
}

// Task returns a snapshot of the task app/task.
func (e *Engine) Task(appName, task string) (TaskInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts, ok := e.tasks[appName+"/"+task]
	if !ok {
		return TaskInfo{}, false
	}
	return e.taskInfoLocked(ts), true
}

func (e *Engine) taskInfoLocked(ts *taskState) TaskInfo {
	info := TaskInfo{
		Task: *ts.task, Running: len(ts.running), Queued: ts.queued,
		LastStatus: ts.lastStatus, LastDuration: ts.lastDuration, Failures: ts.failures,
		DisabledReason: ts.disabledReason, LoadError: ts.loadErr,
	}
	if ts.heapIdx >= 0 {
		info.Next = ts.next
	}
	if ts.module != nil {
		info.Module = ts.module.Hash
	}
	if as := e.apps[ts.app]; as != nil {
		info.AppLoadError = as.loadErr
	}
	return info
}

// TaskKeys returns the keys ("app/task") of the tasks for which keep
// returns true (every task if keep is nil), sorted as Tasks orders them.
// keep sees a snapshot of each task and is called with the engine locked:
// it must be quick and must not call the engine. TaskKeys and Task make a
// page of a long listing cheaper than Tasks, which copies every task.
func (e *Engine) TaskKeys(keep func(*TaskInfo) bool) []string {
	e.mu.Lock()
	keys := make([]string, 0, len(e.tasks))
	var info TaskInfo // one for all: keep's pointer makes it escape
	for key, ts := range e.tasks {
		if keep != nil {
			info = e.taskInfoLocked(ts)
			if !keep(&info) {
				continue
			}
		}
		keys = append(keys, key)
	}
	e.mu.Unlock()
	// By app, then task, as Tasks orders them ("a/x" before "a-b/x").
	slices.SortFunc(keys, compareKeys)
	return keys
}

// NextTimes returns up to n next fire times of the task app/task, the
// first being TaskInfo.Next; none if it will not fire by itself (it has no
// schedule, or it or its app is disabled).
func (e *Engine) NextTimes(appName, task string, n int) ([]time.Time, error) {
	e.mu.Lock()
	ts, ok := e.tasks[appName+"/"+task]
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("next times of %s/%s: task %w", appName, task, ErrNotFound)
	}
	if ts.heapIdx < 0 || ts.sched == nil || n <= 0 {
		e.mu.Unlock()
		return nil, nil
	}
	next, sched := ts.next, ts.sched
	e.mu.Unlock()
	out := []time.Time{next}
	for len(out) < n {
		next = sched.Next(next)
		if next.IsZero() {
			break
		}
		out = append(out, next)
	}
	return out, nil
}

// MaxConcurrent returns how many runs may go at once over all apps
// (Config.MaxConcurrent): this node's capacity.
func (e *Engine) MaxConcurrent() int { return e.cfg.MaxConcurrent }

// Now returns the time on the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Clock.Now() }

// Started reports whether the engine was started and has not been stopped.
func (e *Engine) Started() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started && !e.stopping
}

// RunDetail is what the engine knows of a run that executes beyond
// RunInfo.
type RunDetail struct {
	RunInfo
	// Scheduled is the schedule instant it was fired for, if any.
	Scheduled time.Time
	// Limits are its sandbox limits.
	Limits runtime.Limits
	// Module is the hex SHA-256 the runtime knows its module by.
	Module string
}

// Run returns what the engine knows of the executing run id.
func (e *Engine) Run(id int64) (RunDetail, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.runs[id]
	if !ok {
		return RunDetail{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	d := RunDetail{
		RunInfo: RunInfo{
			ID: id, App: h.task.App, Task: h.task.Name, Trigger: h.req.trigger, Attempt: h.req.attempt,
			User: h.req.user, Started: h.started, Progress: h.progress, ProgressMessage: h.message,
			Overdue: h.overdue.Load(),
		},
		Scheduled: h.req.scheduled,
		Limits:    h.task.Limits,
	}
	if h.module != nil {
		d.Module = h.module.Hash
	}
	return d, true
}

// ModuleApps returns, for each compiled module the engine holds (by the
// runtime's hash of it), the apps whose tasks or runs use it, sorted.
func (e *Engine) ModuleApps() map[string][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	sets := map[string]map[string]bool{}
	add := func(m *runtime.Module, appName string) {
		if m == nil {
			return
		}
		if sets[m.Hash] == nil {
			sets[m.Hash] = map[string]bool{}
		}
		sets[m.Hash][appName] = true
	}
	for _, ts := range e.tasks {
		add(ts.module, ts.app)
	}
	for _, h := range e.runs {
		add(h.module, h.task.App)
	}
	out := make(map[string][]string, len(sets))
	for hash, set := range sets {
		apps := make([]string, 0, len(set))
		for a := range set {
			apps = append(apps, a)
		}
		sort.Strings(apps)
		out[hash] = apps
	}
	return out
}

// RunInfo is a snapshot of a run that executes.
type RunInfo struct {
	ID        int64
	App, Task string
	Trigger   store.Trigger
	Attempt   int
	User      string
	// Started is when it took its slot.
	Started time.Time
	// Progress and ProgressMessage are its last progress report.
	Progress        int
	ProgressMessage string
	// Overdue is set when it ran past maxRuntime without being stopped
	// (killOnTimeout: false).
	Overdue bool
}

// Running returns a snapshot of the runs that execute, oldest first.
func (e *Engine) Running() []RunInfo {
	e.mu.Lock()
	out := make([]RunInfo, 0, len(e.runs))
	for id, h := range e.runs {
		h.mu.Lock()
		out = append(out, RunInfo{
			ID: id, App: h.task.App, Task: h.task.Name, Trigger: h.req.trigger, Attempt: h.req.attempt,
			User: h.req.user, Started: h.started, Progress: h.progress, ProgressMessage: h.message,
			Overdue: h.overdue.Load(),
		})
		h.mu.Unlock()
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Tasks returns a snapshot of every task, ordered by app and task name.
func (e *Engine) Tasks() []TaskInfo {
	e.mu.Lock()
	out := make([]TaskInfo, 0, len(e.tasks))
	for _, ts := range e.tasks {
		out = append(out, e.taskInfoLocked(ts))
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b TaskInfo) int {
		return cmp.Or(cmp.Compare(a.Task.App, b.Task.App), cmp.Compare(a.Task.Name, b.Task.Name))
	})
	return out
}
