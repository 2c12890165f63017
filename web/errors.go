package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
)

// apiError is an error the API reports as {"error", "field"} with Status.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	// Field names the bad field of the body or query parameter, if one.
	Field string `json:"field,omitempty"`
	// Findings are the problems of an app that was refused because of
	// them (lifecycle.ErrInvalid).
	Findings []findingJSON `json:"findings,omitempty"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// errorf returns an apiError of status about field.
func errorf(status int, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Field: field, Message: fmt.Sprintf(format, args...)}
}

// notFound is the 404 of an object that does not exist or that the token
// may not see: the two answers are the same.
func notFound(what string) *apiError {
	return errorf(http.StatusNotFound, "", "%s not found", what)
}

// asAPIError maps an error to its status: the sentinels of the engine and
// the store, or 500.
func asAPIError(err error) *apiError {
	var (
		ae   *apiError
		verr *lifecycle.ValidationError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &verr):
		ae := errorf(http.StatusUnprocessableEntity, "", "%v", err)
		ae.Findings = findingsOf(verr.Report)
		return ae
	case errors.Is(err, lifecycle.ErrArchive):
		return errorf(http.StatusUnprocessableEntity, "", "%v", err)
	case errors.Is(err, lifecycle.ErrExists):
		return errorf(http.StatusConflict, "upgrade", "%v; set upgrade=true to replace it", err)
	case errors.Is(err, lifecycle.ErrNotFound):
		// Its message may name the app's folder on the server.
		return notFound("app")
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "", "%v", err)
	case errors.Is(err, engine.ErrBusy), errors.Is(err, engine.ErrInvalidTask), errors.Is(err, engine.ErrExists):
		return errorf(http.StatusConflict, "", "%v", err)
	case errors.Is(err, engine.ErrInvalidOverride):
		return errorf(http.StatusUnprocessableEntity, "", "%v", err)
	case errors.Is(err, engine.ErrNotRunning):
		return errorf(http.StatusServiceUnavailable, "", "%v", err)
	}
	return nil
}

// writeError writes err as the API's error body; an unexpected error is
// logged and answered 500 without its details.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	ae := asAPIError(err)
	if ae == nil {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away
		}
		log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		ae = errorf(http.StatusInternalServerError, "", "internal error")
	}
	writeJSON(w, ae.Status, ae)
}

// writeJSON writes v as the JSON body of a status response.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
