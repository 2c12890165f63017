package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// Defaults and bounds of an app's routes (routes: in app.yaml).
const (
	// DefaultRouteTimeout is how long a route's handler may run when its
	// timeout is not given.
	DefaultRouteTimeout = 10 * time.Second
	// DefaultRouteBody is the largest request body a route takes when its
	// maxBody is not given.
	DefaultRouteBody = 1 << 20
	// MaxRouteBody is the largest maxBody.
	MaxRouteBody = 64 << 20
	// MaxRoutes is how many routes an app may declare.
	MaxRoutes = 256
	// maxRoutePath is the length of the longest route path.
	maxRoutePath = 512
)

// The roles a route may require besides the app's own roles: RolePublic
// lets anyone call it, without a token; the others are the tokens' roles,
// each of which may do what the ones before it may.
const (
	RolePublic   = "public"
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// RouteMethods are the methods a route may answer.
var RouteMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Route is one HTTP endpoint of an app: an entry of routes: in app.yaml,
// served under /apps/<app> by a fresh instance of its module per request.
type Route struct {
	// Method is the HTTP method it answers, upper case; GET also answers
	// HEAD. Default GET.
	Method string
	// Path is its path under /apps/<app>, starting with "/". A path that
	// ends in "/*" also answers every path below it.
	Path string
	// Module is the handler's module, an absolute path inside the app
	// folder with symlinks resolved; "" until the app is loaded from its
	// folder.
	Module string
	// ModuleRel is the module's path as written, relative to the app
	// folder.
	ModuleRel string
	// Roles are the roles that may call it, any one of them sufficing:
	// public, viewer, operator, admin, or one of the app's roles:.
	// Default [viewer].
	Roles []string
	// Limits bound each request's run: Timeout default 10s, Memory
	// default 64 MiB (within quotas.memory), Output default 1 MiB.
	Limits runtime.Limits
	// MaxBody is the largest request body it takes, in bytes. Default
	// 1 MiB; at most 64 MiB.
	MaxBody int64
	// Errors are the problems of its module (missing, not built yet): a
	// route with errors is not served, and they are among the app's
	// Errors; the rest of the app works.
	Errors []Problem
}

// Prefix reports whether the route answers every path below its own.
func (r Route) Prefix() bool { return strings.HasSuffix(r.Path, "/*") }

// Matches reports whether the route answers a request for path (under the
// app's prefix) with method; HEAD is answered by a GET route.
func (r Route) Matches(method, path string) bool {
	if method != r.Method && !(method == "HEAD" && r.Method == "GET") {
		return false
	}
	if r.Prefix() {
		base := strings.TrimSuffix(r.Path, "*")
		return strings.HasPrefix(path, base) || path == strings.TrimSuffix(base, "/")
	}
	return path == r.Path
}

// Public reports whether anyone may call the route.
func (r Route) Public() bool { return slices.Contains(r.Roles, RolePublic) }

// RouteSpec is a route as written in app.yaml.
type RouteSpec struct {
	Method  string   `json:"method"`
	Path    string   `json:"path"`
	Module  string   `json:"module"`
	Roles   []string `json:"roles"`
	Timeout string   `json:"timeout"`
	Memory  string   `json:"memory"`
	MaxBody string   `json:"maxBody"`
}

// routes checks the routes of app.yaml; x, if not nil, resolves their
// modules in the app folder.
func (c *checker) routes(specs []RouteSpec, m Manifest, x *taskContext) []Route {
	if len(specs) > MaxRoutes {
		c.errorf("routes", "has %d routes, more than %d", len(specs), MaxRoutes)
		return nil
	}
	var out []Route
	seen := map[string]int{}
	for i, s := range specs {
		f := func(name string) string { return fmt.Sprintf("routes[%d].%s", i, name) }
		r := Route{Method: strings.ToUpper(s.Method), Path: s.Path, ModuleRel: s.Module, Roles: s.Roles, MaxBody: DefaultRouteBody,
			Limits: runtime.Limits{Timeout: DefaultRouteTimeout, Memory: min(runtime.DefaultMemory, m.Quotas.Memory), Output: runtime.DefaultOutput}}
		ok := true
		if r.Method == "" {
			r.Method = "GET"
		}
		if !slices.Contains(RouteMethods, r.Method) {
			c.errorf(f("method"), "%s is not one of %s", quote(s.Method), strings.Join(RouteMethods, ", "))
			ok = false
		}
		if msg := checkRoutePath(s.Path); msg != "" {
			c.errorf(f("path"), "%s %s", quote(s.Path), msg)
			ok = false
		}
		if j, dup := seen[r.Method+" "+r.Path]; dup && ok {
			c.errorf(f("path"), "%s %s is already routes[%d]", r.Method, r.Path, j)
		}
		seen[r.Method+" "+r.Path] = i
		if s.Module == "" {
			c.errorf(f("module"), "is required: the handler's .wasm file, such as routes/status.wasm")
		} else if x != nil {
			mc := &checker{file: c.file, pos: c.pos}
			r.Module, _ = x.module(mc, f("module"), s.Module)
			r.Errors = mc.errs
			c.warns = append(c.warns, mc.warns...)
		}
		if len(r.Roles) == 0 {
			r.Roles = []string{RoleViewer}
		}
		for j, role := range r.Roles {
			switch {
			case slices.Contains([]string{RolePublic, RoleViewer, RoleOperator, RoleAdmin}, role), slices.Contains(m.Roles, role):
			default:
				c.errorf(fmt.Sprintf("routes[%d].roles[%d]", i, j), "%s is not public, viewer, operator, admin nor one of the app's roles: (%s)", quote(role), strings.Join(m.Roles, ", "))
			}
		}
		if s.Timeout != "" {
			if d, ok := c.duration(f("timeout"), s.Timeout, false); ok {
				if d > runtime.MaxTimeout {
					c.errorf(f("timeout"), "%s is more than the most a run may have, %s", s.Timeout, runtime.MaxTimeout)
				} else {
					r.Limits.Timeout = d
				}
			}
		}
		if s.Memory != "" {
			if n, ok := c.size(f("memory"), s.Memory); ok {
				switch {
				case n < pageSize:
					c.errorf(f("memory"), "%s is less than one 64 KiB page", bytesize.Format(n))
				case n > runtime.MaxMemory:
					c.errorf(f("memory"), "%s is more than the most a run may have, %s", bytesize.Format(n), bytesize.Format(runtime.MaxMemory))
				case n > m.Quotas.Memory:
					c.errorf(f("memory"), "%s is more than the app's memory quota, %s (quotas.memory)", bytesize.Format(n), bytesize.Format(m.Quotas.Memory))
				default:
					r.Limits.Memory = n
				}
			}
		}
		if s.MaxBody != "" {
			if n, ok := c.size(f("maxBody"), s.MaxBody); ok {
				if n > MaxRouteBody {
					c.errorf(f("maxBody"), "%s is more than %s", bytesize.Format(n), bytesize.Format(MaxRouteBody))
				} else {
					r.MaxBody = n
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// checkRoutePath returns why p may not be a route's path, or "".
func checkRoutePath(p string) string {
	switch {
	case p == "":
		return "is empty; want a path such as /api/v1/status"
	case !strings.HasPrefix(p, "/"):
		return "does not start with /"
	case len(p) > maxRoutePath:
		return fmt.Sprintf("is longer than %d bytes", maxRoutePath)
	}
	body := strings.TrimSuffix(p, "/*")
	for i, seg := range strings.Split(body, "/")[1:] {
		switch {
		case seg == "" && !(i == 0 && body == "/"):
			return "has an empty segment (//, or a trailing /)"
		case seg == "." || seg == "..":
			return "has a . or .. segment"
		case strings.ContainsFunc(seg, func(r rune) bool {
			return !(r < 0x80 && (isAlnum(byte(r)) || strings.ContainsRune("-._~", r)))
		}):
			return "may hold only letters, digits and - . _ ~ between its slashes (and end in /* to take the paths below it)"
		}
	}
	return ""
}
