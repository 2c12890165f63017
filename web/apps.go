package web

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// appErrorJSON is one problem of an app or of one of its tasks.
type appErrorJSON struct {
	Task    string `json:"task"`
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
}

// appJSON is an app in a listing.
type appJSON struct {
	Name        string         `json:"name"`
	Version     string         `json:"version"`
	Description string         `json:"description"`
	Enabled     bool           `json:"enabled"`
	Status      string         `json:"status"` // ok, error or removed
	Errors      []appErrorJSON `json:"errors"`
	Tasks       int            `json:"tasks"`
	// Storage is what the app's tasks have stored against its quotas;
	// null for an app that is not loaded.
	Storage *storageJSON `json:"storage"`
	// Usage is what the app's runs consumed; null for an app that is not
	// loaded.
	Usage *appUsagesJSON `json:"usage"`
}

type storageJSON struct {
	KV         int64 `json:"kv"`
	KVQuota    int64 `json:"kvQuota"`
	Files      int64 `json:"files"`
	FilesQuota int64 `json:"filesQuota"`
	// History is what the app's run history holds, against
	// quotas.history.
	History      int64 `json:"history"`
	HistoryQuota int64 `json:"historyQuota"`
}

// appJSONOf is the app as the API shows it: its state, its load errors
// errs and what its tasks have stored.
func (s *Server) appJSONOf(ctx context.Context, info engine.AppInfo, errs []store.LoadError) (appJSON, error) {
	a := appOf(info, errs)
	if !info.Loaded || info.Removed {
		return a, nil
	}
	st, err := s.eng.Storage(ctx, info.Name)
	switch {
	case errors.Is(err, engine.ErrNotFound): // removed meanwhile
	case err != nil:
		return appJSON{}, err
	default:
		a.Storage = &storageJSON{KV: st.KV, KVQuota: st.KVQuota, Files: st.Files, FilesQuota: st.FilesQuota, History: st.History, HistoryQuota: st.HistoryQuota}
		u, err := s.appUsages(ctx)
		if err != nil {
			return appJSON{}, err
		}
		a.Usage = u.of(info.Name)
	}
	return a, nil
}

func appOf(info engine.AppInfo, errs []store.LoadError) appJSON {
	m := info.Manifest
	out := appJSON{
		Name: info.Name, Version: m.Version, Description: m.Description, Enabled: info.Loaded && m.Enabled,
		Status: "ok", Errors: make([]appErrorJSON, 0, len(errs)), Tasks: info.Tasks,
	}
	switch {
	case info.Removed:
		out.Status = "removed"
	case !info.Loaded || info.LoadError != "" || len(errs) > 0:
		// An app that runs with some of its tasks broken is not ok.
		out.Status = "error"
	}
	for _, e := range errs {
		out.Errors = append(out.Errors, appErrorJSON{Task: e.Task, Message: e.Message, File: e.File, Line: e.Line})
	}
	return out
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	errs, err := s.st.LoadErrors.LoadErrors(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Apps []appJSON `json:"apps"`
	}{Apps: []appJSON{}}
	for _, info := range s.eng.Apps() {
		if !p.sees(info.Name) {
			continue
		}
		a, err := s.appJSONOf(r.Context(), info, errs[info.Name])
		if err != nil {
			return err
		}
		out.Apps = append(out.Apps, a)
	}
	sort.Slice(out.Apps, func(i, j int) bool { return out.Apps[i].Name < out.Apps[j].Name })
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) enableApp(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := chi.URLParam(r, "app")
		if _, ok := s.eng.App(name); !ok || !principalFrom(r.Context()).sees(name) {
			return notFound("app")
		}
		if s.cfg.Apps == nil {
			return errorf(http.StatusNotImplemented, "", "this server cannot switch apps on and off")
		}
		before, _ := s.eng.App(name)
		if err := s.cfg.Apps.SetEnabled(r.Context(), name, on); err != nil {
			return err
		}
		action := ActionAppDisable
		if on {
			action = ActionAppEnable
		}
		s.audit(r, action, name, name, map[string]bool{"enabled": before.Manifest.Enabled}, map[string]bool{"enabled": on})
		if err := s.eng.ReloadApp(r.Context(), name); err != nil {
			return err
		}
		info, ok := s.eng.App(name)
		if !ok {
			return notFound("app")
		}
		errs, err := s.st.LoadErrors.LoadErrors(r.Context())
		if err != nil {
			return err
		}
		a, err := s.appJSONOf(r.Context(), info, errs[name])
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, a)
	}
}
