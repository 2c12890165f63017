package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/cronbox/cronbox/engine/app"
)

// exportConfig answers the task overrides as a tasks file, as `cronbox
// config export` writes it.
func (s *Server) exportConfig(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if err := everyApp(r); err != nil {
		return err
	}
	data, err := s.eng.ExportTasksFile(r.Context())
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(data)
	return err
}

// importConfig stores the overrides of a tasks file, all or none.
func (s *Server) importConfig(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if err := everyApp(r); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return errorf(http.StatusUnsupportedMediaType, "", "the body must be a tasks file sent with the header \"Content-Type: application/json\", not %q", ct)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, app.MaxTasksFileSize+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "", "the tasks file is larger than %d bytes", app.MaxTasksFileSize)
		}
		return errorf(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	n, warnings, err := s.eng.ImportTasksFile(r.Context(), data)
	var ie *app.InvalidError
	if errors.As(err, &ie) {
		return errorf(http.StatusBadRequest, "", "%v", err)
	}
	if err != nil {
		return err
	}
	s.audit(r, ActionConfigImport, "", "tasks file", nil, map[string]int{"imported": n})
	out := struct {
		Imported int      `json:"imported"`
		Warnings []string `json:"warnings"`
	}{Imported: n, Warnings: []string{}}
	for _, w := range warnings {
		out.Warnings = append(out.Warnings, w.Error())
	}
	return writeJSON(w, http.StatusOK, out)
}
