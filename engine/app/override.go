package app

import (
	"maps"
	"slices"
	"time"
)

// Override is a change to one task of an app made at run time, through the
// UI, the API or the CLI, and kept in the store: the layer over the app's
// config/tasks.yaml. It either adjusts a task of the file, deletes it, or
// defines a custom task.
type Override struct {
	// App and Task name the task.
	App  string `json:"app"`
	Task string `json:"task"`
	// Enabled, when set, switches the task on or off.
	Enabled *bool `json:"enabled,omitempty"`
	// Schedule, when set, replaces the task's whole schedule; the zero
	// ScheduleSpec makes the task run only when triggered.
	Schedule *ScheduleSpec `json:"schedule,omitempty"`
	// Environment sets these variables, each replacing the definition's
	// value of the same name; the definition's other variables stay.
	Environment map[string]string `json:"environment,omitempty"`
	// Fields, when set, replaces blocks of the task's definition, each
	// spelled and checked as in config/tasks.yaml.
	Fields *OverrideFields `json:"fields,omitempty"`
	// Deleted removes the task (the other fields are then ignored).
	Deleted bool `json:"deleted,omitempty"`
	// Custom defines a task that config/tasks.yaml does not have. Its Name
	// must be Task or empty. Its module must lie inside the app folder,
	// like any task's.
	Custom *TaskSpec `json:"custom,omitempty"`
	// UpdatedAt is when the override was last changed. Of several
	// overrides of one task, the latest counts.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// OverrideFields are the blocks of a task's definition an override may
// replace, spelled as in config/tasks.yaml. A block given replaces the
// file's block whole: what it leaves out takes the default, as it would in
// the file. Misfire and MisfireWindow are one field, "misfire": giving
// either replaces both.
type OverrideFields struct {
	Termination   *TerminationSpec `json:"termination,omitempty"`
	Limits        *LimitsSpec      `json:"limits,omitempty"`
	Retry         *RetrySpec       `json:"retry,omitempty"`
	Concurrency   string           `json:"concurrency,omitempty"`
	Misfire       string           `json:"misfire,omitempty"`
	MisfireWindow string           `json:"misfireWindow,omitempty"`
	Retention     *RetentionSpec   `json:"retention,omitempty"`
}

// OverrideFieldNames are the names of the fields an OverrideFields may
// set, as Task.Overridden names them.
var OverrideFieldNames = []string{"termination", "limits", "retry", "concurrency", "misfire", "retention"}

// UnmarshalJSON reads the fields strictly, like config/tasks.yaml: unknown
// and repeated fields and values of the wrong kind are errors that name the
// field.
func (f *OverrideFields) UnmarshalJSON(data []byte) error {
	return decodeJSON(data, f, "decoding override fields")
}

// IsZero reports whether f sets no field.
func (f *OverrideFields) IsZero() bool {
	return f == nil || *f == OverrideFields{}
}

// Merge returns a's tasks with overrides applied; overrides of other apps
// are skipped. The overrides win:
//
//   - Enabled and Schedule replace the task's, and each block of Fields
//     the file's block, checked as config/tasks.yaml's; Environment is
//     merged by variable, the override's value winning. Task.Overridden
//     names each field an override sets.
//   - Deleted removes the task. Tasks that ran after it get a warning.
//   - A Custom definition adds a task with Custom set, checked like a
//     task of config/tasks.yaml (with the Options a was loaded with); its
//     problems are its Errors. A custom task whose name config/tasks.yaml
//     already uses is ignored.
//   - An override of a task that config/tasks.yaml no longer has, and that
//     defines no custom task, is ignored.
//   - Of several overrides of one task, the one with the latest UpdatedAt
//     counts (the later in overrides if equal).
//
// A bad override value (an invalid schedule, say) becomes an error of the
// task, which then does not run. The dependencies (After) are checked
// again over the merged tasks. The result holds the file's tasks in file
// order, then the custom tasks by name; a's tasks are not changed.
// CheckOverrides reports what Merge ignores or rejects.
func Merge(a *App, overrides []Override) []Task {
	tasks, _, _ := merge(a, overrides)
	return tasks
}

// CheckOverrides returns the problems that overrides cause when Merge
// applies them to a, ordered by task name. Errors make an override (or the
// task it defines) unusable; warnings mark overrides that have no effect,
// such as one of a task that config/tasks.yaml no longer has, or that
// affect other tasks, such as deleting a task others run after. Problems
// in an override have a Field starting with "override[<task>]"; those it
// causes elsewhere point at the affected task's definition. An API can
// call CheckOverrides before storing an override.
func CheckOverrides(a *App, overrides []Override) (errs, warnings []Problem) {
	_, errs, warnings = merge(a, overrides)
	return errs, warnings
}

func merge(a *App, overrides []Override) (tasks []Task, errs, warns []Problem) {
	latest := make(map[string]Override)
	for _, o := range overrides {
		if o.App != a.Manifest.Name {
			continue
		}
		if prev, ok := latest[o.Task]; ok && prev.UpdatedAt.After(o.UpdatedAt) {
			continue
		}
		latest[o.Task] = o
	}
	found := make(map[string]*problems) // by task name
	report := func(name string, errs, warns []Problem) {
		if len(errs) == 0 && len(warns) == 0 {
			return // most tasks: nothing to report, no entry to sort
		}
		p := found[name]
		if p == nil {
			p = new(problems)
			found[name] = p
		}
		p.errs, p.warns = append(p.errs, errs...), append(p.warns, warns...)
	}
	x := newTaskContext(a.Dir, a.Manifest, a.opts)
	deleted := make(map[string]bool)
	tasks = make([]Task, 0, len(a.Tasks)+len(latest))
	loaded := make(map[int]*Task, len(a.Tasks)) // index in tasks → the task as loaded
	for i, t := range a.Tasks {
		t.Errors, t.Warnings = slices.Clone(t.own.errs), slices.Clone(t.own.warns)
		t.Overridden = nil
		if o, ok := latest[t.Name]; ok {
			delete(latest, t.Name)
			if o.Deleted {
				deleted[t.Name] = true
				continue
			}
			c := overrideChecker(t.Name, "")
			if o.Custom != nil {
				c.errorf("custom", "config/tasks.yaml already defines task %q; rename the custom task", t.Name)
				report(t.Name, c.errs, nil)
			}
			x.apply(c, &t, o)
		}
		loaded[len(tasks)] = &a.Tasks[i]
		tasks = append(tasks, t)
	}
	// What is left: custom tasks, deleted custom tasks, and overrides of
	// tasks config/tasks.yaml no longer has.
	var custom []int
	for _, name := range slices.Sorted(maps.Keys(latest)) {
		o := latest[name]
		c := overrideChecker(name, "")
		switch {
		case o.Deleted:
			deleted[name] = true
			if o.Custom == nil {
				c.warnf("", "config/tasks.yaml has no task %q to delete; the override has no effect", name)
			}
		case o.Custom == nil:
			c.warnf("", "config/tasks.yaml has no task %q; the override has no effect", name)
		case ValidName(name) != nil:
			c.errorf("", "%v", ValidName(name))
		case o.Custom.Name != "" && o.Custom.Name != name:
			c.errorf("custom.name", "%q differs from the task the override is for, %q", o.Custom.Name, name)
		default:
			spec := *o.Custom
			spec.Name = name
			t := x.task(overrideChecker(name, "custom"), spec)
			t.Custom = true
			t.Errors, t.Warnings = slices.Clone(t.own.errs), slices.Clone(t.own.warns)
			x.apply(c, &t, o)
			custom = append(custom, len(tasks))
			tasks = append(tasks, t)
			continue // its problems are taken after link
		}
		report(name, c.errs, c.warns)
	}
	link(tasks, deleted)
	// The problems the overrides caused: all of a custom task's, and those
	// a task of the file has now but did not have as loaded.
	for _, i := range custom {
		report(tasks[i].Name, tasks[i].Errors, tasks[i].Warnings)
	}
	for i, t := range loaded {
		report(t.Name, added(tasks[i].Errors, t.Errors), added(tasks[i].Warnings, t.Warnings))
	}
	for _, name := range slices.Sorted(maps.Keys(found)) {
		errs, warns = append(errs, found[name].errs...), append(warns, found[name].warns...)
	}
	return tasks, errs, warns
}

// overrideChecker returns a checker for the override of task name; its
// problems' fields start with "override[name]" and sub.
func overrideChecker(name, sub string) *checker {
	prefix := "override[" + name + "]"
	if sub != "" {
		prefix += "." + sub
	}
	return &checker{prefix: prefix}
}

// apply applies the enabled, schedule, fields and environment of o to t,
// each field through the checker of config/tasks.yaml. The
// problems found are recorded in c and added to t's.
func (x *taskContext) apply(c *checker, t *Task, o Override) {
	n, m := len(c.errs), len(c.warns)
	if o.Enabled != nil {
		t.Enabled = *o.Enabled
		t.Overridden = append(t.Overridden, "enabled")
	}
	if o.Schedule != nil {
		t.Schedule = x.schedule(c, "schedule", o.Schedule, t.Key())
		t.Overridden = append(t.Overridden, "schedule")
	}
	if f := o.Fields; f != nil {
		if f.Termination != nil {
			x.termination(c, t, f.Termination)
			t.Overridden = append(t.Overridden, "termination")
		}
		if f.Limits != nil {
			x.limits(c, t, f.Limits)
			t.Overridden = append(t.Overridden, "limits")
		}
		if f.Retry != nil {
			t.Retry = retry(c, f.Retry)
			t.Overridden = append(t.Overridden, "retry")
		}
		if f.Concurrency != "" {
			concurrency(c, t, f.Concurrency)
			t.Overridden = append(t.Overridden, "concurrency")
		}
		if f.Misfire != "" || f.MisfireWindow != "" {
			misfire(c, t, f.Misfire, f.MisfireWindow)
			t.Overridden = append(t.Overridden, "misfire")
		}
		if f.Retention != nil {
			t.Retention = retention(c, f.Retention)
			t.Overridden = append(t.Overridden, "retention")
		}
	}
	if len(o.Environment) > 0 {
		environment(c, "environment", o.Environment)
		env := maps.Clone(t.Environment)
		if env == nil {
			env = make(map[string]string, len(o.Environment))
		}
		maps.Copy(env, o.Environment)
		t.Environment = env
		t.Overridden = append(t.Overridden, "environment")
	}
	t.Errors = append(t.Errors, c.errs[n:]...)
	t.Warnings = append(t.Warnings, c.warns[m:]...)
}

// added returns the problems of now that are not in before.
func added(now, before []Problem) []Problem {
	had := make(map[string]int, len(before))
	for _, p := range before {
		had[p.Error()]++
	}
	var out []Problem
	for _, p := range now {
		if had[p.Error()] > 0 {
			had[p.Error()]--
			continue
		}
		out = append(out, p)
	}
	return out
}

// Empty reports whether o changes nothing: no field set. The store keeps
// such an override for a task that only ran (its failure count lives
// beside the override), and a tasks file leaves it out.
func (o Override) Empty() bool {
	return o.Enabled == nil && o.Schedule == nil && o.Environment == nil && o.Fields.IsZero() && !o.Deleted && o.Custom == nil
}
