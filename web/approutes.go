package web

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/hostapi"
)

// An app's pages and routes are served under /apps/<app>/: a request that
// one of the app's routes (routes: in its app.yaml) answers runs its
// handler; a GET or HEAD that none answers is a file of the app's public/
// folder.

// appPrefix is the path the pages and routes of app are served under.
func appPrefix(appName string) string { return "/apps/" + appName + "/" }

// ValidScope reports whether s may be an entry of a token's app scope: an
// app's name, or "app:role" to grant the token the app's own role (one of
// its roles: in app.yaml) besides seeing the app.
func ValidScope(s string) error {
	a, role, ok := strings.Cut(s, ":")
	if err := app.ValidName(a); err != nil {
		return err
	}
	if ok {
		if err := app.ValidName(role); err != nil {
			return fmt.Errorf("role of %q: %w", s, err)
		}
	}
	return nil
}

// hasAppRole reports whether p was granted app's own role.
func (p *principal) hasAppRole(appName, role string) bool {
	return slices.Contains(p.token.Apps, appName+":"+role)
}

// mayCall reports whether p holds one of the roles of a route of app:
// admin may call every route; viewer, operator and admin are the token's
// role or more; any other is one of the app's roles granted to the token.
func (p *principal) mayCall(appName string, roles []string) bool {
	if p.role >= roleAdmin {
		return true
	}
	for _, r := range roles {
		switch r {
		case app.RoleViewer, app.RoleOperator, app.RoleAdmin:
			if p.role >= parseRole(r) {
				return true
			}
		default:
			if p.hasAppRole(appName, r) {
				return true
			}
		}
	}
	return false
}

// appRequestHeaders are the request headers a handler does not see: the
// caller's credentials.
var appRequestHeaders = []string{"Authorization", "Cookie", csrfHeader}

// serveApp serves /apps/{app}/…: the app's route that answers the request,
// or else a file of its public/ folder.
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request) error {
	appName := chi.URLParam(r, "app")
	if app.ValidName(appName) != nil || !s.eng.AppLoaded(appName) {
		return errorf(http.StatusNotFound, "", "no such app: %s", appName)
	}
	sub := strings.TrimPrefix(r.URL.Path, "/apps/"+appName)
	if sub == "" {
		http.Redirect(w, r, appPrefix(appName), http.StatusMovedPermanently)
		return nil
	}
	setAppHeaders(w, r, appName)
	route, err := s.eng.Route(appName, r.Method, sub)
	if errors.Is(err, engine.ErrNoRoute) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errorf(http.StatusNotFound, "", "no route of app %s answers %s %s", appName, r.Method, sub)
		}
		return s.servePublic(w, r, appName, sub)
	}
	if err != nil {
		return err
	}
	if !route.Public() {
		if apiErr := s.authorizeRoute(r, appName, route); apiErr != nil {
			if apiErr.Status == http.StatusUnauthorized {
				writeUnauthorized(w)
				return nil
			}
			return apiErr
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, route.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than the route's limit of %d bytes (maxBody)", route.MaxBody)
	case err != nil:
		return errorf(http.StatusBadRequest, "", "reading the request body: %v", err)
	}
	header := r.Header.Clone()
	for _, h := range appRequestHeaders {
		header.Del(h)
	}
	req := &hostapi.Request{Method: r.Method, Path: sub, Query: r.URL.RawQuery, Headers: header, Body: body}
	res, err := s.eng.ServeRoute(r.Context(), appName, req)
	switch {
	case errors.Is(err, engine.ErrRouteBusy):
		w.Header().Set("Retry-After", "1")
		return errorf(http.StatusServiceUnavailable, "", "app %s is serving as many requests as its quota allows (quotas.concurrency); try again shortly", appName)
	case errors.Is(err, engine.ErrNoRoute):
		return errorf(http.StatusNotFound, "", "no route of app %s answers %s %s", appName, r.Method, sub)
	case err != nil:
		return err
	}
	if res.Error != "" {
		// The reason is the app's own business: its page in the UI
		// shows it to those who may see the app.
		s.log.WarnContext(r.Context(), "route failed", "app", appName, "method", r.Method, "path", sub, "status", res.Status, "error", res.Error)
		msg := "the app's handler failed"
		if res.Status == http.StatusGatewayTimeout {
			msg = "the app's handler ran past its time limit"
		}
		return errorf(res.Status, "", "%s", msg)
	}
	h := w.Header()
	for k, vs := range res.Header {
		if h.Get(k) == "" { // the server's security headers stay
			h[k] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(res.Status)
	if r.Method != http.MethodHead {
		w.Write(res.Body)
	}
	return nil
}

// authorizeRoute checks that r may call a route of appName that is not
// public: a valid token (401), that sees the app (404 otherwise, as if
// the app had no such route), with the CSRF header for a session's
// change (403), holding one of the route's roles (403).
func (s *Server) authorizeRoute(r *http.Request, appName string, route app.Route) *apiError {
	p, err := s.principal(r)
	switch {
	case err != nil:
		return errorf(http.StatusInternalServerError, "", "checking the token: %v", err)
	case p == nil:
		return errorf(http.StatusUnauthorized, "", "a valid token is needed")
	case !p.sees(appName):
		return errorf(http.StatusNotFound, "", "no such app: %s", appName)
	case p.session != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, p.session):
		return errorf(http.StatusForbidden, csrfHeader, "this request needs the session's CSRF token in the %s header", csrfHeader)
	case !p.mayCall(appName, route.Roles):
		return errorf(http.StatusForbidden, "", "the token holds none of the roles this route needs: %s", strings.Join(route.Roles, ", "))
	}
	return nil
}

// setAppHeaders sets the security headers of an app's page or route: a
// Content-Security-Policy that lets the page load and call only what lies
// under the app's own path, never the management API, and sandboxes it
// without popups, so that it cannot open a window of the UI, which shares
// its origin, and act in it.
func setAppHeaders(w http.ResponseWriter, r *http.Request, appName string) {
	own := "'none'"
	if validHost(r.Host) {
		own = r.Host + appPrefix(appName)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", fmt.Sprintf("default-src 'none'; script-src %[1]s; style-src %[1]s; img-src %[1]s data:; font-src %[1]s; media-src %[1]s; connect-src %[1]s; form-action %[1]s; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; sandbox allow-scripts allow-forms allow-same-origin", own))
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// validHost reports whether host is a host name or address with an
// optional port, safe to put in a Content-Security-Policy.
func validHost(host string) bool {
	return host != "" && !strings.ContainsFunc(host, func(r rune) bool {
		return !(r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)))
	})
}

// servePublic serves the file sub of the app's public/ folder: never a
// listing (a folder is its index.html), never a path out of the folder,
// through ".." or a symbolic link.
func (s *Server) servePublic(w http.ResponseWriter, r *http.Request, appName, sub string) error {
	notFound := errorf(http.StatusNotFound, "", "no such page: %s", r.URL.Path)
	dir, ok := s.eng.AppDir(appName)
	if !ok {
		return notFound
	}
	name, ok := publicName(sub)
	if !ok {
		return notFound
	}
	root, err := os.OpenRoot(filepath.Join(dir, "public"))
	if err != nil {
		return notFound
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return notFound
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		f.Close()
		name = path.Join(name, "index.html")
		if f, err = root.Open(name); err != nil {
			return notFound
		}
		defer f.Close()
		fi, err = f.Stat()
	}
	if err != nil || !fi.Mode().IsRegular() {
		return notFound
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// publicName is the request path sub (under the app's prefix) as a name
// in its public/ folder: "." for the folder itself. A path with a ".."
// or "." element, a backslash or a NUL is refused, and so is a hidden
// one (app.Hidden: only .well-known is served), which is not part of the
// app and so not on every node.
func publicName(sub string) (string, bool) {
	rel := strings.TrimPrefix(sub, "/")
	if rel == "" {
		return ".", true
	}
	rel = strings.TrimSuffix(rel, "/")
	if strings.ContainsAny(rel, "\\\x00") || !fs.ValidPath(rel) || app.Hidden("public/"+rel) {
		return "", false
	}
	return rel, true
}
