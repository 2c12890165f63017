package app

import (
	"fmt"
	"slices"

	"strings"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/bytesize"
)

// Defaults of app.yaml.
const (
	// DefaultConcurrency is how many runs of an app may go at once when
	// quotas.concurrency is not given.
	DefaultConcurrency = 4
	// MaxConcurrency is the largest quotas.concurrency.
	MaxConcurrency = 1000
	// DefaultQuotaMemory is the memory all of an app's concurrent runs may
	// have together when quotas.memory is not given.
	DefaultQuotaMemory = 1 << 30
	// DefaultQuotaKV is how much the app's key-value store may hold when
	// quotas.kv is not given.
	DefaultQuotaKV = 256 << 20
	// DefaultQuotaFiles is how much the app's data/files/<app>/ may hold,
	// as far as its tasks write it, when quotas.files is not given.
	DefaultQuotaFiles = 1 << 30
	// DefaultQuotaHistory is how much the app's run history may hold (the
	// runs' logs, outputs, results and inputs) when quotas.history is not
	// given.
	DefaultQuotaHistory = 1 << 30
	// minQuotaHistory is the smallest quotas.history: room for the logs
	// and output of one run at their defaults.
	minQuotaHistory = 2 << 20
)

// The roles of tokens. An app's other roles are its own, which its routes
// may require and tokens be granted; one no route requires is warned of.
var knownRoles = []string{"admin", "operator", "viewer"}

// Manifest is an app's app.yaml with its defaults applied.
type Manifest struct {
	// Name is the app's name, equal to its folder's name.
	Name string
	// Version, Description and Author are free text; may be empty.
	Version     string
	Description string
	Author      string
	// Enabled is false when the app is switched off: none of its tasks
	// are scheduled. Default true.
	Enabled bool
	// Roles are the app's roles: those of tokens (informational) and its
	// own, which its routes may require and tokens be granted in their
	// app scope ("app:role"). Default none.
	Roles []string
	// Permissions are the capabilities the app's tasks get.
	Permissions Permissions
	// Quotas bound the app as a whole.
	Quotas Quotas
	// Notify lists the channels told of the app's runs and load errors;
	// a task's own notify: replaces it. Default none.
	Notify []Channel
	// Routes are the app's HTTP endpoints, in file order. Default none.
	Routes []Route
}

// Permissions are what an app's tasks may use beyond computing.
type Permissions struct {
	// HTTP lists the hosts tasks may send HTTP requests to: "host",
	// "host:port", "*.domain" (any subdomain), "[ipv6]:port"; see
	// hostapi.HTTP.Allows. Default none: no HTTP at all.
	HTTP []string
	// Files gives tasks the app's own directory data/files/<app>/, mounted
	// as /data. Default false.
	Files bool
	// KV gives tasks the app's key-value store. Default true: it is the
	// app's own and the usual way for a task to keep state between runs.
	KV bool
}

// Quotas bound all of an app's runs together.
type Quotas struct {
	// Concurrency is how many runs of the app's tasks may go at once.
	// Default 4; 1 to 1000.
	Concurrency int
	// Memory is how much memory the concurrent runs may have together, in
	// bytes, counting each run at its memory limit. Default 1 GiB; at
	// least 64 KiB. No task's memory limit may exceed it.
	Memory int64
	// KV is how many bytes the app's key-value store may hold, keys and
	// values together. Default 256 MiB.
	KV int64
	// Files is how many bytes the app's directory data/files/<app>/ may
	// hold (each file, folder and link counting 4 KiB more), as its tasks
	// see it. Default 1 GiB.
	Files int64
	// History is how many bytes the app's run history may hold: the log
	// messages, outputs, results and inputs of its runs. The oldest
	// finished runs are deleted to keep it under. Default 1 GiB; at least
	// 2 MiB.
	History int64
}

// manifestSpec is app.yaml as written.
type manifestSpec struct {
	Name        string           `json:"name"`
	Version     string           `json:"version"`
	Description string           `json:"description"`
	Author      string           `json:"author"`
	Enabled     *bool            `json:"enabled"`
	Roles       []string         `json:"roles"`
	Permissions *permissionsSpec `json:"permissions"`
	Quotas      *quotasSpec      `json:"quotas"`
	Notify      []ChannelSpec    `json:"notify"`
	Routes      []RouteSpec      `json:"routes"`
}

type permissionsSpec struct {
	HTTP  []string `json:"http"`
	Files *bool    `json:"files"`
	KV    *bool    `json:"kv"`
}

type quotasSpec struct {
	Concurrency *int   `json:"concurrency"`
	Memory      string `json:"memory"`
	KV          string `json:"kv"`
	Files       string `json:"files"`
	History     string `json:"history"`
}

// maxVersion is the length of the longest version string.
const maxVersion = 64

// manifest checks spec and returns it with defaults applied. folder is the
// name of the app's folder, which the name must equal.
func (c *checker) manifest(spec manifestSpec, folder string, x func(Manifest) *taskContext) Manifest {
	m := Manifest{
		Name:        spec.Name,
		Version:     spec.Version,
		Description: spec.Description,
		Author:      spec.Author,
		Enabled:     deref(spec.Enabled, true),
		Roles:       spec.Roles,
		Permissions: Permissions{KV: true},
		Quotas:      Quotas{Concurrency: DefaultConcurrency, Memory: DefaultQuotaMemory, KV: DefaultQuotaKV, Files: DefaultQuotaFiles, History: DefaultQuotaHistory},
	}
	switch err := ValidName(spec.Name); {
	case spec.Name == "":
		c.errorf("name", "is required: the app's name, equal to its folder's name %q", folder)
	case err != nil:
		c.errorf("name", "%v", err)
	case spec.Name != folder:
		c.errorf("name", "%q differs from the folder's name %q; rename one of them", spec.Name, folder)
	}
	if len(spec.Version) > maxVersion || strings.ContainsAny(spec.Version, "\r\n") {
		c.errorf("version", "want one line of at most %d characters", maxVersion)
	}
	for i, r := range spec.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		if err := ValidName(r); err != nil {
			c.errorf(field, "%v", err)
		}
	}
	if p := spec.Permissions; p != nil {
		m.Permissions.Files = deref(p.Files, false)
		m.Permissions.KV = deref(p.KV, true)
		seen := make(map[string]bool)
		for i, h := range p.HTTP {
			field := fmt.Sprintf("permissions.http[%d]", i)
			policy := hostapi.HTTP{Allow: []string{h}}
			if err := policy.Validate(); err != nil {
				c.errorf(field, "%s", strings.TrimPrefix(err.Error(), "http policy: Allow: "))
				continue
			}
			key := strings.ToLower(h)
			if seen[key] {
				c.warnf(field, "%q is listed twice", h)
				continue
			}
			seen[key] = true
			m.Permissions.HTTP = append(m.Permissions.HTTP, h)
		}
	}
	if q := spec.Quotas; q != nil {
		if q.Concurrency != nil {
			if n := *q.Concurrency; n < 1 || n > MaxConcurrency {
				c.errorf("quotas.concurrency", "%d is outside 1..%d", n, MaxConcurrency)
			} else {
				m.Quotas.Concurrency = n
			}
		}
		if q.Memory != "" {
			if n, ok := c.size("quotas.memory", q.Memory); ok {
				if n < pageSize {
					c.errorf("quotas.memory", "%s is less than one 64 KiB page", bytesize.Format(n))
				} else {
					m.Quotas.Memory = n
				}
			}
		}
		if q.KV != "" {
			if n, ok := c.size("quotas.kv", q.KV); ok {
				m.Quotas.KV = n
			}
		}
		if q.Files != "" {
			if n, ok := c.size("quotas.files", q.Files); ok {
				m.Quotas.Files = n
			}
		}
		if q.History != "" {
			if n, ok := c.size("quotas.history", q.History); ok {
				if n < minQuotaHistory {
					c.errorf("quotas.history", "%s is less than %s, the logs and output of one run at their defaults", bytesize.Format(n), bytesize.Format(minQuotaHistory))
				} else {
					m.Quotas.History = n
				}
			}
		}
	}
	if spec.Notify != nil {
		m.Notify = c.checkChannels("notify", spec.Notify)
	}
	if spec.Routes != nil {
		m.Routes = c.routes(spec.Routes, m, x(m))
	}
	for i, r := range spec.Roles {
		used := slices.ContainsFunc(m.Routes, func(rt Route) bool { return slices.Contains(rt.Roles, r) })
		if ValidName(r) == nil && !slices.Contains(knownRoles, r) && !used {
			c.warnf(fmt.Sprintf("roles[%d]", i), "unknown role %q: not a token role (%s), nor required by any of routes:", r, strings.Join(knownRoles, ", "))
		}
	}
	return m
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
