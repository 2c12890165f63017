package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/homedir"
)

// Info describes an installed app, as its files say (runtime overrides
// of its tasks are not applied).
type Info struct {
	Name        string   `json:"name"`
	Version     string   `json:"version,omitempty"`
	Description string   `json:"description,omitempty"`
	Author      string   `json:"author,omitempty"`
	Enabled     bool     `json:"enabled"`
	Roles       []string `json:"roles,omitempty"`
	// Permissions are app.yaml's.
	Permissions PermissionsInfo `json:"permissions"`
	// Quotas are app.yaml's.
	Quotas QuotasInfo `json:"quotas"`
	// Tasks are config/tasks.yaml's, in file order.
	Tasks []TaskInfo `json:"tasks"`
	// Loaded is false when the app cannot be loaded at all; Errors say why.
	Loaded bool `json:"loaded"`
	// Errors and Warnings are the problems of its files.
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Dir is the app's folder; Files and Size what it holds.
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	Size  int64  `json:"size"`
}

// PermissionsInfo is an app's permissions.
type PermissionsInfo struct {
	HTTP  []string `json:"http"`
	Files bool     `json:"files"`
	KV    bool     `json:"kv"`
}

// QuotasInfo is an app's quotas.
type QuotasInfo struct {
	Concurrency int   `json:"concurrency"`
	Memory      int64 `json:"memory"`
	KV          int64 `json:"kv"`
	Files       int64 `json:"files"`
}

// TaskInfo is one task of an app.
type TaskInfo struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Enabled     bool             `json:"enabled"`
	Schedule    app.ScheduleSpec `json:"schedule"`
	// Module is relative to the app folder; Built whether it exists.
	Module string   `json:"module"`
	Built  bool     `json:"built"`
	Errors []string `json:"errors,omitempty"`
}

// List describes every app in home's apps folder, by name. Folders whose
// names are not app names are left out, as the engine leaves them out.
func List(home string) ([]Info, error) {
	ents, err := os.ReadDir(homedir.Home(home).Apps())
	if errors.Is(err, os.ErrNotExist) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	list := []Info{}
	for _, e := range ents {
		if !e.IsDir() || CheckName(e.Name()) != nil {
			continue
		}
		info, err := Get(home, e.Name())
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			return nil, err
		}
		list = append(list, *info)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// Get describes the installed app name; an error wrapping ErrNotFound when
// there is none.
func Get(home, name string) (*Info, error) {
	dir, err := existing(home, name)
	if err != nil {
		return nil, fmt.Errorf("reading app %s: %w", name, err)
	}
	info := &Info{Name: name, Dir: dir, Tasks: []TaskInfo{}}
	walkErr := walkApp(dir, false, func(rel string, fi fs.FileInfo) error {
		info.Files++
		info.Size += fi.Size()
		return nil
	})
	if walkErr != nil {
		info.Warnings = append(info.Warnings, walkErr.Error())
	}
	a, err := app.Load(dir, app.Options{})
	var inv *app.InvalidError
	switch {
	case errors.As(err, &inv):
		for _, p := range inv.Problems {
			info.Errors = append(info.Errors, p.Error())
		}
		return info, nil
	case err != nil:
		return nil, fmt.Errorf("reading app %s: %w", name, err)
	}
	m := a.Manifest
	info.Loaded = true
	info.Version, info.Description, info.Author, info.Enabled, info.Roles = m.Version, m.Description, m.Author, m.Enabled, m.Roles
	info.Permissions = PermissionsInfo{HTTP: m.Permissions.HTTP, Files: m.Permissions.Files, KV: m.Permissions.KV}
	if info.Permissions.HTTP == nil {
		info.Permissions.HTTP = []string{}
	}
	info.Quotas = QuotasInfo{Concurrency: m.Quotas.Concurrency, Memory: m.Quotas.Memory, KV: m.Quotas.KV, Files: m.Quotas.Files}
	for _, t := range a.Tasks {
		ti := TaskInfo{Name: t.Name, Description: t.Description, Enabled: t.Enabled, Schedule: t.Schedule}
		if t.Module != "" {
			rel, _ := filepath.Rel(a.Dir, t.Module)
			ti.Module = filepath.ToSlash(rel)
			_, serr := os.Stat(t.Module)
			ti.Built = serr == nil
		}
		for _, p := range t.Errors {
			ti.Errors = append(ti.Errors, p.Error())
		}
		info.Tasks = append(info.Tasks, ti)
	}
	for _, p := range a.Errors {
		info.Errors = append(info.Errors, p.Error())
	}
	for _, p := range a.Warnings {
		info.Warnings = append(info.Warnings, p.Error())
	}
	return info, nil
}
