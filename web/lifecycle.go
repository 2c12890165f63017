package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/secrets"
)

// uploadField is the multipart form field that carries an app archive.
const uploadField = "file"

// multipartSlack is how many bytes of a multipart body may be framing
// (boundaries, part headers) on top of the archive itself.
const multipartSlack = 64 << 10

// findingJSON is one problem of an app that Validate found.
type findingJSON struct {
	// Level is "error" (the app or a task cannot be used) or "warning".
	Level   string `json:"level"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Task    string `json:"task,omitempty"`
	Message string `json:"message"`
}

func findingList(level string, fs []lifecycle.Finding) []findingJSON {
	out := make([]findingJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingJSON{Level: level, File: f.File, Line: f.Line, Column: f.Column, Field: f.Field, Task: f.Task, Message: f.Message})
	}
	return out
}

// findingsOf lists a report's errors, then its warnings.
func findingsOf(r *lifecycle.Report) []findingJSON {
	if r == nil {
		return nil
	}
	return append(findingList("error", r.Errors), findingList("warning", r.Warnings)...)
}

// validationJSON is the answer of GET /apps/{app}/validation.
type validationJSON struct {
	App      string        `json:"app"`
	Version  string        `json:"version"`
	Tasks    int           `json:"tasks"`
	OK       bool          `json:"ok"`
	Errors   []findingJSON `json:"errors"`
	Warnings []findingJSON `json:"warnings"`
}

// installJSON is the answer of POST /apps.
type installJSON struct {
	// App is the app as the engine loaded it.
	App      appJSON `json:"app"`
	Version  string  `json:"version"`
	Files    int     `json:"files"`
	Verified bool    `json:"verified"`
	Replaced bool    `json:"replaced"`
	// Backup is the file name, in the home's data/backups, of the version
	// an upgrade replaced.
	Backup   string        `json:"backup,omitempty"`
	Warnings []findingJSON `json:"warnings"`
}

// uninstallJSON is the answer of DELETE /apps/{app}.
type uninstallJSON struct {
	App string `json:"app"`
	// Backup is the file name, in the home's data/backups, of the zip
	// made before the app went.
	Backup string `json:"backup"`
	Purged bool   `json:"purged"`
}

// lifecycleApp returns the app named in the path, or the 404 of an app
// the token may not see, or 501 without a Lifecycle.
func (s *Server) lifecycleApp(r *http.Request) (string, error) {
	name := chi.URLParam(r, "app")
	if app.ValidName(name) != nil || !principalFrom(r.Context()).sees(name) {
		return "", notFound("app")
	}
	if s.cfg.Lifecycle == nil {
		return "", errorf(http.StatusNotImplemented, "", "this server cannot install, export, check or uninstall apps")
	}
	return name, nil
}

// tempFile makes a file in TempDir, which the caller removes.
func (s *Server) tempFile(pattern string) (*os.File, error) {
	if err := os.MkdirAll(s.cfg.TempDir, 0o755); err != nil {
		return nil, fmt.Errorf("making the folder for uploads: %w", err)
	}
	return os.CreateTemp(s.cfg.TempDir, pattern)
}

func removeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// installApp installs (or, with upgrade=true, replaces) the app in the
// uploaded zip archive. A token scoped to some apps may install only
// those.
func (s *Server) installApp(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "upgrade")
	if err != nil {
		return err
	}
	upgrade := q.bool("upgrade")
	if err := q.errOrNil(); err != nil {
		return err
	}
	if s.cfg.Lifecycle == nil {
		return errorf(http.StatusNotImplemented, "", "this server cannot install apps")
	}
	f, err := s.tempFile(".upload-*.zip")
	if err != nil {
		return err
	}
	defer removeTemp(f)
	size, err := readUpload(w, r, f, s.cfg.MaxUpload)
	if err != nil {
		return err
	}
	if size == 0 {
		return errorf(http.StatusBadRequest, "", "the upload is empty; want a zip archive of an app")
	}
	if p := principalFrom(r.Context()); p.apps != nil {
		// The archive's name is checked before the app's existence, so
		// that the answer tells nothing about other tenants' apps.
		a, err := lifecycle.OpenArchive(f, size, lifecycle.Limits{})
		if err != nil {
			return err
		}
		if !p.sees(a.App) {
			return errorf(http.StatusForbidden, "", "this token may install only its own apps (%s), not %q", strings.Join(p.scope(), ", "), a.App)
		}
	}
	// The upload is in; a client that goes away now does not stop the
	// install half-way.
	ctx := context.WithoutCancel(r.Context())
	res, err := s.cfg.Lifecycle.Install(ctx, f, size, upgrade)
	if err != nil {
		return err
	}
	s.auditInstall(r, res)
	if err := s.eng.ReloadApp(ctx, res.App); err != nil {
		return err
	}
	info, ok := s.eng.App(res.App)
	if !ok {
		return fmt.Errorf("installed app %s is not loaded", res.App)
	}
	errs, err := s.st.LoadErrors.LoadErrors(ctx)
	if err != nil {
		return err
	}
	a, err := s.appJSONOf(ctx, info, errs[res.App])
	if err != nil {
		return err
	}
	out := installJSON{
		App: a, Version: res.Version, Files: len(res.Files),
		Verified: res.Verified, Replaced: res.Replaced, Warnings: []findingJSON{},
	}
	if res.Backup != "" {
		out.Backup = filepath.Base(res.Backup)
	}
	if res.Report != nil {
		out.Warnings = findingList("warning", res.Report.Warnings)
	}
	out.Warnings = append(out.Warnings, s.missingSecrets(ctx, res.App)...)
	status := http.StatusCreated
	if res.Replaced {
		status = http.StatusOK
	}
	return writeJSON(w, status, out)
}

// readUpload copies the archive of an upload to dst: the body itself
// (application/zip, application/x-zip-compressed or
// application/octet-stream) or the "file" part of a multipart/form-data
// body, as a browser's form sends it. Past max bytes of archive it
// answers 413; a form with other fields, or without the file, is 400;
// other content types are 415.
func readUpload(w http.ResponseWriter, r *http.Request, dst io.Writer, max int64) (int64, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, errorf(http.StatusUnsupportedMediaType, "", "the body must be a zip archive (application/zip) or a form (multipart/form-data) with a %q field, not %q", uploadField, ct)
	}
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "", "the archive is larger than %s, the most this server accepts", bytesize.Format(max))
	switch mt {
	case "application/zip", "application/x-zip-compressed", "application/octet-stream":
		if r.ContentLength > max {
			return 0, tooLarge
		}
		return copyUpload(dst, http.MaxBytesReader(w, r.Body, max), max, tooLarge)
	case "multipart/form-data":
	default:
		return 0, errorf(http.StatusUnsupportedMediaType, "", "the body must be a zip archive (application/zip) or a form (multipart/form-data) with a %q field, not %q", uploadField, mt)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return 0, errorf(http.StatusBadRequest, "", "the multipart/form-data body has no boundary")
	}
	if r.ContentLength > max+multipartSlack {
		return 0, tooLarge
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, max+multipartSlack), boundary)
	var size int64
	found := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return 0, tooLarge
			}
			return 0, errorf(http.StatusBadRequest, "", "reading the form: %v", err)
		}
		name := part.FormName()
		switch {
		case name != uploadField:
			return 0, errorf(http.StatusBadRequest, name, "unknown form field %q (known: %s)", name, uploadField)
		case found:
			return 0, errorf(http.StatusBadRequest, uploadField, "the form has more than one %q field", uploadField)
		}
		found = true
		if size, err = copyUpload(dst, part, max, tooLarge); err != nil {
			return 0, err
		}
	}
	if !found {
		return 0, errorf(http.StatusBadRequest, uploadField, "the form has no %q field with the archive", uploadField)
	}
	return size, nil
}

// sourceError marks an error of reading the upload, as opposed to writing
// it down.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// copyUpload copies src to dst, answering tooLarge past max bytes.
func copyUpload(dst io.Writer, src io.Reader, max int64, tooLarge *apiError) (int64, error) {
	n, err := io.Copy(dst, sourceReader{io.LimitReader(src, max+1)})
	var (
		se  sourceError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe), err == nil && n > max:
		return 0, tooLarge
	case errors.As(err, &se):
		return 0, errorf(http.StatusBadRequest, "", "reading the upload: %v", se.err)
	case err != nil:
		return 0, fmt.Errorf("writing the upload down: %w", err)
	}
	return n, nil
}

// exportApp sends the app's zip archive, named NAME-vVERSION-YYYYMMDD.zip.
// It is written to a file first, so that a failed export is an error
// rather than a truncated download.
func (s *Server) exportApp(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	name, err := s.lifecycleApp(r)
	if err != nil {
		return err
	}
	f, err := s.tempFile(".export-*.zip")
	if err != nil {
		return err
	}
	defer removeTemp(f)
	m, err := s.cfg.Lifecycle.Export(r.Context(), name, f)
	if err != nil {
		return err
	}
	file := lifecycle.ExportName(name, m.Version, s.eng.Now())
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": file}))
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// uninstallApp removes an app, after a backup; purge=true also deletes
// its data.
func (s *Server) uninstallApp(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "purge")
	if err != nil {
		return err
	}
	purge := q.bool("purge")
	if err := q.errOrNil(); err != nil {
		return err
	}
	name, err := s.lifecycleApp(r)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	res, err := s.cfg.Lifecycle.Uninstall(ctx, name, purge)
	if err != nil {
		return err
	}
	s.audit(r, ActionAppUninstall, name, name, nil, map[string]any{"backup": filepath.Base(res.Backup), "purged": res.Purged})
	// Reload, not ReloadApp: only a look at the whole apps folder
	// notices an app that is gone.
	if err := s.eng.Reload(ctx); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, uninstallJSON{App: res.App, Backup: filepath.Base(res.Backup), Purged: res.Purged})
}

// validateApp checks the installed app and lists what it found.
func (s *Server) validateApp(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	name, err := s.lifecycleApp(r)
	if err != nil {
		return err
	}
	rep, err := s.cfg.Lifecycle.Validate(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, validationJSON{
		App: name, Version: rep.Version, Tasks: rep.Tasks, OK: rep.OK(false),
		Errors: findingList("error", rep.Errors), Warnings: findingList("warning", rep.Warnings),
	})
}

// auditInstall records an install or an upgrade.
func (s *Server) auditInstall(r *http.Request, res *lifecycle.Installed) {
	action := ActionAppInstall
	if res.Replaced {
		action = ActionAppUpgrade
	}
	after := map[string]any{"version": res.Version, "files": len(res.Files), "verified": res.Verified}
	if res.Backup != "" {
		after["backup"] = filepath.Base(res.Backup)
	}
	s.audit(r, action, res.App, res.App, nil, after)
}

// missingSecrets warns of the secrets that the app's tasks reference and
// that are not set.
func (s *Server) missingSecrets(ctx context.Context, appName string) []findingJSON {
	if s.st.Secrets == nil {
		return nil
	}
	var out []findingJSON
	for _, key := range s.eng.TaskKeys(func(info *engine.TaskInfo) bool { return info.Task.App == appName }) {
		_, task, _ := strings.Cut(key, "/")
		info, ok := s.eng.Task(appName, task)
		if !ok {
			continue
		}
		missing, err := secrets.Missing(ctx, s.st.Secrets, appName, info.Task.Environment)
		if err != nil {
			s.log.WarnContext(ctx, "checking an app's secrets", slog.String("app", appName), slog.Any("error", err))
			return out
		}
		for _, name := range missing {
			out = append(out, findingJSON{Level: "warning", Task: task, Field: "environment", Message: secrets.MissingMessage(appName, name)})
		}
	}
	return out
}
