package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// The files of an app, relative to its folder.
const (
	ManifestPath = "app.yaml"
	TasksPath    = "config/tasks.yaml"
)

// Limits on an app's files.
const (
	// MaxFileSize is the size of the largest app.yaml or tasks.yaml.
	MaxFileSize = 1 << 20
	// MaxTasks is how many tasks an app may define.
	MaxTasks = 10_000
)

// Options adjust Load. The zero value is ready to use.
type Options struct {
	// Ceiling caps the limits a task may ask for. A zero field means the
	// runtime's ceiling: runtime.MaxMemory, runtime.MaxTimeout,
	// runtime.MaxOutput; a larger one is lowered to it.
	Ceiling runtime.Limits
	// Schedules parses the tasks' schedules to check them. Default nil: a
	// Parser of the load's own. Apps loaded together can share one, as
	// their tasks share compiled schedules (see schedule.Parser), which
	// are then compiled once over all of them.
	Schedules *schedule.Parser
}

// App is one app folder, loaded and checked.
type App struct {
	// Dir is the app folder's absolute path, symlinks resolved.
	Dir string
	// Manifest is app.yaml, with defaults applied.
	Manifest Manifest
	// Tasks are config/tasks.yaml's tasks in file order, each with a
	// valid name, unique in the app. A task with Errors must not run;
	// the others may. Entries without a usable name (missing, invalid, or
	// repeated) are left out: their problems are in Errors.
	Tasks []Task
	// Errors are all the app's problems: the tasks' and those of entries
	// left out, by position in the files.
	Errors []Problem
	// Warnings are doubtful but harmless things, by position.
	Warnings []Problem

	opts Options // for Merge, which checks custom tasks as Load did
}

// Task returns the task named name.
func (a *App) Task(name string) (Task, bool) {
	for _, t := range a.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return Task{}, false
}

// Load reads and checks the app in folder dir.
//
// Load fails, with an *InvalidError (wrapping ErrInvalid) that lists the
// problems, when the app cannot be used as a whole: app.yaml is missing,
// too large, not YAML, or has any error (its name must equal the folder's
// name, and it must be right in every field, since it grants permissions);
// or config/tasks.yaml is too large, not YAML, not of the form
// {tasks: [...]}, or has more than MaxTasks tasks. An engine that already
// runs the app should then keep its last good version. Other errors are
// I/O errors.
//
// Problems inside a task entry do not fail Load: they disable that task
// alone (Task.Errors) and are listed in App.Errors. A missing
// config/tasks.yaml is a warning: the app has no tasks of its own.
func Load(dir string, opts Options) (*App, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("loading app %s: %w", dir, err)
	}
	folder := filepath.Base(abs)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("loading app %s: %w", folder, err)
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("loading app %s: %w", folder, err)
	}
	defer root.Close()
	what := "loading app " + folder

	data, problem, err := readFile(root, ManifestPath)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case problem == nil && data == nil:
		problem = &Problem{File: ManifestPath, Message: "not found; every app folder needs an app.yaml with at least its name"}
	}
	if problem != nil {
		return nil, &InvalidError{What: what, Problems: []Problem{*problem}}
	}
	manifest, warnings, problems := loadManifestIn(data, folder, real, opts)
	if len(problems) > 0 {
		return nil, &InvalidError{What: what, Problems: problems}
	}

	a := &App{Dir: real, Manifest: manifest, Warnings: warnings, opts: opts}
	for _, r := range manifest.Routes {
		a.Errors = append(a.Errors, r.Errors...)
	}
	data, problem, err = readFile(root, TasksPath)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case problem != nil:
		return nil, &InvalidError{What: what, Problems: []Problem{*problem}}
	case data == nil:
		a.Warnings = append(a.Warnings, Problem{File: TasksPath, Message: "not found; the app has no tasks of its own"})
		return a, nil
	}
	if problems := a.loadTasks(data); len(problems) > 0 {
		return nil, &InvalidError{What: what, Problems: problems}
	}
	return a, nil
}

// readFile reads the file name of the app: nil data and no problem when it
// does not exist, a problem when it is not a regular file or larger than
// MaxFileSize, an error when it cannot be read.
func readFile(root *os.Root, name string) ([]byte, *Problem, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, nil, err
	case !fi.Mode().IsRegular():
		return nil, &Problem{File: name, Message: "is not a regular file"}, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &Problem{File: name, Message: "is larger than " + bytesize.Format(MaxFileSize)}, nil
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil, nil
}

// loadManifest decodes and checks app.yaml, without looking for the
// modules of its routes.
func loadManifest(data []byte, folder string) (m Manifest, warnings, errs []Problem) {
	return loadManifestIn(data, folder, "", Options{})
}

// loadManifestIn decodes and checks app.yaml of the app folder dir (its
// real path), whose routes' modules it finds there unless dir is "".
func loadManifestIn(data []byte, folder, dir string, opts Options) (m Manifest, warnings, errs []Problem) {
	root, problem := parseYAML(data, ManifestPath)
	switch {
	case problem != nil:
		return m, nil, []Problem{*problem}
	case root == nil:
		return m, nil, []Problem{{File: ManifestPath, Message: "is empty; it needs at least the app's name"}}
	}
	d := newDecoder(ManifestPath)
	var spec manifestSpec
	d.decode(root, reflect.ValueOf(&spec).Elem(), "", 0)
	errs, pos := d.take()
	c := &checker{file: ManifestPath, pos: pos}
	if !d.exhausted {
		m = c.manifest(spec, folder, func(m Manifest) *taskContext {
			if dir == "" {
				return nil
			}
			return newTaskContext(dir, m, opts)
		})
	}
	errs = append(errs, c.errs...)
	sortProblems(errs)
	sortProblems(c.warns)
	return m, c.warns, errs
}

// loadTasks decodes and checks config/tasks.yaml into a. It returns the
// problems that make the whole file unusable.
func (a *App) loadTasks(data []byte) []Problem {
	root, problem := parseYAML(data, TasksPath)
	switch {
	case problem != nil:
		return []Problem{*problem}
	case root == nil:
		a.Warnings = append(a.Warnings, Problem{File: TasksPath, Message: "is empty; the app has no tasks of its own"})
		return nil
	}
	d := newDecoder(TasksPath)
	list := d.taskList(root)
	if fatal, _ := d.take(); len(fatal) > 0 {
		return fatal
	}
	x := newTaskContext(a.Dir, a.Manifest, a.opts)
	first := make(map[string]int) // name → index of the entry that has it
	a.Tasks = make([]Task, 0, len(list))
	for i, n := range list {
		field := fmt.Sprintf("tasks[%d]", i)
		var spec TaskSpec
		d.decode(n, reflect.ValueOf(&spec).Elem(), field, 1)
		if d.exhausted {
			fatal, _ := d.take()
			return fatal
		}
		errs, pos := d.take()
		c := &checker{file: TasksPath, prefix: field, pos: pos, errs: errs}
		t := x.task(c, spec)
		j, dup := first[spec.Name]
		if dup {
			c.errorf("name", "%q is already the name of tasks[%d] (line %d)", spec.Name, j, list[j].Line)
		}
		if dup || ValidName(spec.Name) != nil {
			// Without a name of its own the entry cannot be addressed:
			// it is left out, and only its problems remain.
			a.Errors = append(a.Errors, c.errs...)
			a.Warnings = append(a.Warnings, c.warns...)
			continue
		}
		first[spec.Name] = i
		t.Errors, t.Warnings = slices.Clone(t.own.errs), slices.Clone(t.own.warns)
		a.Tasks = append(a.Tasks, t)
	}
	link(a.Tasks, nil)
	for _, t := range a.Tasks {
		a.Errors = append(a.Errors, t.Errors...)
		a.Warnings = append(a.Warnings, t.Warnings...)
	}
	sortProblems(a.Errors)
	sortProblems(a.Warnings)
	return nil
}

// taskList returns the entries of the tasks list of config/tasks.yaml,
// whose root is root. Its problems make the file unusable.
func (d *decoder) taskList(root *yaml.Node) []*yaml.Node {
	if !d.spend(root, "") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "want a mapping with a tasks list, got %s", describe(root))
		return nil
	}
	var list *yaml.Node
	for _, e := range d.entries(root, "", 0) {
		if e.key != "tasks" {
			d.errorf(e.keyNode, "", "unknown field %s; the file holds only the tasks list", quote(e.key))
			continue
		}
		list = e.value
	}
	if list != nil && list.Kind == yaml.AliasNode && list.Alias != nil {
		list = list.Alias
	}
	switch {
	case list == nil || isNull(list):
		return nil
	case list.Kind != yaml.SequenceNode:
		d.errorf(list, "tasks", "want a list of tasks, got %s", describe(list))
		return nil
	case len(list.Content) > MaxTasks:
		d.errorf(list, "tasks", "has %d tasks, more than %d", len(list.Content), MaxTasks)
		return nil
	}
	return list.Content
}
