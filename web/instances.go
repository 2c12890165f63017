package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/engine"
)

// instanceJSON is a live sandbox instance: one running run.
type instanceJSON struct {
	Run         int64     `json:"run"`
	App         string    `json:"app"`
	Task        string    `json:"task"`
	Memory      int64     `json:"memory"`
	MemoryLimit int64     `json:"memoryLimit"`
	Started     time.Time `json:"started"`
	AgeMs       int64     `json:"ageMs"`
}

// instance is a live instance with the run it belongs to; ok is false for
// an instance that no run of the engine owns.
type instance struct {
	instanceJSON
	module string
}

// instances joins the runtime's live instances with the engine's runs.
func (s *Server) instances() []instance {
	now := s.eng.Now()
	var out []instance
	for _, in := range s.cfg.Runtime.Instances() {
		id, err := strconv.ParseInt(in.RunID, 10, 64)
		if err != nil {
			continue
		}
		d, ok := s.eng.Run(id)
		if !ok {
			continue
		}
		out = append(out, instance{
			instanceJSON: instanceJSON{
				Run: id, App: d.App, Task: d.Task, Memory: in.Memory, MemoryLimit: d.Limits.Memory,
				Started: d.Started.UTC(), AgeMs: max(now.Sub(d.Started), 0).Milliseconds(),
			},
			module: in.Module,
		})
	}
	return out
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	out := struct {
		Instances []instanceJSON `json:"instances"`
	}{Instances: []instanceJSON{}}
	for _, in := range s.instances() {
		if p.sees(in.App) {
			out.Instances = append(out.Instances, in.instanceJSON)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// moduleTasksShown is how many of a module's tasks GET /modules names.
const moduleTasksShown = 5

// moduleJSON is a compiled module.
type moduleJSON struct {
	ID        string    `json:"id"`
	Apps      []string  `json:"apps"`
	Tasks     []string  `json:"tasks"`
	TaskCount int       `json:"taskCount"`
	Size      int       `json:"size"`
	CompileMs int64     `json:"compileMs"`
	CacheHits int64     `json:"cacheHits"`
	Instances int64     `json:"instances"`
	Runs      int64     `json:"runs"`
	Loaded    time.Time `json:"loaded"`
}

func (s *Server) listModules(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	uses := s.eng.ModuleApps()
	// The tasks whose module it is now, to name it by: a few of them
	// and how many.
	tasks := map[string][]string{}
	counts := map[string]int{}
	s.eng.TaskKeys(func(info *engine.TaskInfo) bool {
		if info.Module != "" && p.sees(info.Task.App) {
			if counts[info.Module]++; len(tasks[info.Module]) < moduleTasksShown {
				tasks[info.Module] = append(tasks[info.Module], info.Task.Key())
			}
		}
		return false
	})
	for _, keys := range tasks {
		slices.Sort(keys)
	}
	out := struct {
		Modules []moduleJSON `json:"modules"`
	}{Modules: []moduleJSON{}}
	// A token scoped to some apps counts only their instances and runs
	// of a module that other apps may share; loads are not counted by
	// app, so it sees no cache hits.
	var live map[string]int64
	if p.apps != nil {
		live = map[string]int64{}
		for _, in := range s.instances() {
			if p.sees(in.App) {
				live[in.module]++
			}
		}
	}
	for _, m := range s.cfg.Runtime.Modules() {
		var apps []string
		for _, a := range uses[m.Hash] {
			if p.sees(a) {
				apps = append(apps, a)
			}
		}
		if len(apps) == 0 && (p.apps != nil || len(uses[m.Hash]) > 0) {
			continue
		}
		mj := moduleJSON{
			ID: m.Hash, Apps: nonNil(apps), Tasks: nonNil(tasks[m.Hash]), TaskCount: counts[m.Hash], Size: m.Size, CompileMs: m.CompileTime.Milliseconds(),
			CacheHits: m.Hits(), Instances: m.Instances(), Runs: m.Runs(), Loaded: m.Loaded.UTC(),
		}
		if p.apps != nil {
			mj.CacheHits, mj.Instances, mj.Runs = 0, live[m.Hash], s.metrics.moduleRunsOf(m.Hash, p.sees)
		}
		out.Modules = append(out.Modules, mj)
	}
	return writeJSON(w, http.StatusOK, out)
}
