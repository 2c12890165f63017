package app

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// TasksFileVersion is the version of the tasks file format that
// ExportTasksFile writes and ImportTasksFile reads.
const TasksFileVersion = "1.0"

// MaxTasksFileSize is the size of the largest tasks file ImportTasksFile
// reads.
const MaxTasksFileSize = 16 << 20

// TasksFile is the overrides of all apps as one JSON document, for
// `cronbox config export` and `cronbox config import`. It is the tasks.json
// of the original task engine, extended compatibly: a schedule may also be
// an object with a time zone or a single time, and an entry may carry its
// own updatedAt.
type TasksFile struct {
	// Version is "1.0".
	Version string `json:"version"`
	// LastModified is when the file was written; it is the UpdatedAt of
	// entries that have none.
	LastModified time.Time `json:"lastModified"`
	// Tasks are the overrides, by app and task name.
	Tasks []TasksFileEntry `json:"tasks"`
}

// TasksFileEntry is one override in a TasksFile; see Override.
type TasksFileEntry struct {
	Name    string `json:"name"`
	AppName string `json:"appName"`
	Enabled *bool  `json:"enabled,omitempty"`
	// Schedule is a cron expression as a string (the original form), or an
	// object {cron, timezone, at}. "" makes the task run only when
	// triggered; leaving it out leaves the schedule alone.
	Schedule    *ScheduleSpec     `json:"schedule,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	// Fields replaces blocks of the task's definition (termination,
	// limits, retry, concurrency, misfire, retention) as tasks.yaml
	// spells them.
	Fields  *OverrideFields `json:"fields,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
	// Custom marks the definition of a custom task, which Definition then
	// holds (a TaskSpec as JSON).
	Custom     bool            `json:"custom,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`
	UpdatedAt  time.Time       `json:"updatedAt,omitzero"`
}

// ExportTasksFile writes overrides as a tasks file stamped with now, the
// entries ordered by app and task name. An entry's updatedAt is left out
// when it equals now; an override that changes nothing is left out.
func ExportTasksFile(overrides []Override, now time.Time) ([]byte, error) {
	f := TasksFile{Version: TasksFileVersion, LastModified: now.UTC(), Tasks: []TasksFileEntry{}}
	for _, o := range overrides {
		if err := ValidName(o.App); err != nil {
			return nil, fmt.Errorf("exporting tasks file: override of %s/%s: app name: %w", o.App, o.Task, err)
		}
		if err := ValidName(o.Task); err != nil {
			return nil, fmt.Errorf("exporting tasks file: override of %s/%s: task name: %w", o.App, o.Task, err)
		}
		if o.Empty() {
			continue // a task that only ran: its run state has a row, no change
		}
		e := TasksFileEntry{
			Name:        o.Task,
			AppName:     o.App,
			Enabled:     o.Enabled,
			Schedule:    o.Schedule,
			Environment: o.Environment,
			Fields:      o.Fields,
			Deleted:     o.Deleted,
		}
		if !o.UpdatedAt.Equal(f.LastModified) {
			e.UpdatedAt = o.UpdatedAt // else implied by lastModified
		}
		if o.Custom != nil {
			def, err := json.Marshal(o.Custom)
			if err != nil {
				return nil, fmt.Errorf("exporting tasks file: custom task %s/%s: %w", o.App, o.Task, err)
			}
			e.Custom, e.Definition = true, def
		}
		f.Tasks = append(f.Tasks, e)
	}
	slices.SortStableFunc(f.Tasks, func(a, b TasksFileEntry) int {
		return cmp.Or(cmp.Compare(a.AppName, b.AppName), cmp.Compare(a.Name, b.Name))
	})
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("exporting tasks file: %w", err)
	}
	return append(out, '\n'), nil
}

// ImportTasksFile reads a tasks file strictly and returns its overrides.
// It rejects, with an *InvalidError listing every problem, a file larger
// than MaxTasksFileSize, a version other than "1.0", unknown or repeated
// fields, values of the wrong kind, invalid app, task or variable names,
// two entries for one task, and a custom entry without a definition (or a
// definition without custom: true). Schedules and custom definitions are
// checked against their apps later, by Merge and CheckOverrides.
func ImportTasksFile(data []byte) ([]Override, error) {
	const what = "importing tasks file"
	invalid := func(ps ...Problem) error { return &InvalidError{What: what, Problems: ps} }
	if len(data) > MaxTasksFileSize {
		return nil, invalid(Problem{Message: "the file is larger than " + bytesize.Format(MaxTasksFileSize)})
	}
	root, err := jsonToNode(data)
	if err != nil {
		return nil, invalid(Problem{Message: err.Error()})
	}
	d := newDecoder("")
	var f TasksFile
	d.decode(root, reflect.ValueOf(&f).Elem(), "", 0)
	if ps, pos := d.take(); len(ps) > 0 {
		return nil, invalid(ps...)
	} else if _, ok := pos["version"]; !ok {
		return nil, invalid(Problem{Field: "version", Message: fmt.Sprintf("is required: %q", TasksFileVersion)})
	}
	if f.Version != TasksFileVersion {
		return nil, invalid(Problem{Field: "version", Message: fmt.Sprintf("%s is not supported; want %q", quote(f.Version), TasksFileVersion)})
	}
	var problems []Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	seen := make(map[[2]string]int)
	overrides := make([]Override, 0, len(f.Tasks))
	for i, e := range f.Tasks {
		field := fmt.Sprintf("tasks[%d]", i)
		if err := ValidName(e.AppName); err != nil {
			bad(field+".appName", "%v", err)
		}
		if err := ValidName(e.Name); err != nil {
			bad(field+".name", "%v", err)
		}
		key := [2]string{e.AppName, e.Name}
		if j, dup := seen[key]; dup {
			bad(field, "%s/%s is already in tasks[%d]", e.AppName, e.Name, j)
		}
		seen[key] = i
		for _, k := range slices.Sorted(maps.Keys(e.Environment)) {
			if err := validEnvName(k); err != nil {
				bad(field+".environment."+k, "%v", err)
			}
		}
		o := Override{
			App:         e.AppName,
			Task:        e.Name,
			Enabled:     e.Enabled,
			Schedule:    e.Schedule,
			Environment: e.Environment,
			Fields:      e.Fields,
			Deleted:     e.Deleted,
			UpdatedAt:   e.UpdatedAt,
		}
		if o.UpdatedAt.IsZero() {
			o.UpdatedAt = f.LastModified
		}
		switch {
		case e.Custom && len(e.Definition) == 0:
			bad(field+".definition", "is required for a custom task")
		case !e.Custom && len(e.Definition) > 0:
			bad(field+".definition", "is only for custom tasks; add \"custom\": true")
		case e.Custom:
			spec, ps := decodeDefinition(e.Definition, field+".definition")
			problems = append(problems, ps...)
			o.Custom = spec
		}
		overrides = append(overrides, o)
	}
	if len(problems) > 0 {
		return nil, invalid(problems...)
	}
	return overrides, nil
}

// decodeDefinition decodes a custom task's definition strictly; field is
// its path, for problems.
func decodeDefinition(data json.RawMessage, field string) (*TaskSpec, []Problem) {
	n, err := jsonToNode(data)
	if err != nil {
		return nil, []Problem{{Field: field, Message: err.Error()}}
	}
	d := newDecoder("")
	var spec TaskSpec
	d.decode(n, reflect.ValueOf(&spec).Elem(), field, 0)
	ps, _ := d.take()
	return &spec, ps
}
