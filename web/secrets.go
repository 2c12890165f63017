package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/secrets"
)

// SecretSealer seals a secret's value and stores it (a *secrets.Box).
type SecretSealer interface {
	// Set stores value as the secret name of app, sealed.
	Set(ctx context.Context, app, name string, value []byte) error
}

type secretJSON struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// secretsApp returns the app of a secrets route, or 404 for an app that
// is not loaded or that the principal may not see; 501 without secrets.
func (s *Server) secretsApp(r *http.Request) (string, error) {
	name := chi.URLParam(r, "app")
	if _, ok := s.eng.App(name); !ok || !principalFrom(r.Context()).sees(name) {
		return "", notFound("app")
	}
	if s.st.Secrets == nil || s.cfg.Secrets == nil {
		return "", errorf(http.StatusNotImplemented, "", "this server keeps no secrets")
	}
	return name, nil
}

// listSecrets lists an app's secrets: names and times, never values.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	app, err := s.secretsApp(r)
	if err != nil {
		return err
	}
	list, err := s.st.Secrets.ListSecrets(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]secretJSON, len(list))
	for i, sec := range list {
		out[i] = secretJSON{Name: sec.Name, UpdatedAt: sec.UpdatedAt.UTC()}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

// putSecret sets a secret from the body's value; the answer holds its
// name and time only.
func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	app, err := s.secretsApp(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	if err := secrets.ValidName(name); err != nil {
		return errorf(http.StatusBadRequest, "name", "%v", err)
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	if body.Value == nil {
		return errorf(http.StatusBadRequest, "value", "value is required")
	}
	if len(*body.Value) > secrets.MaxValue {
		return errorf(http.StatusRequestEntityTooLarge, "value", "the value is larger than %d bytes", secrets.MaxValue)
	}
	ctx := context.WithoutCancel(r.Context())
	_, err = s.st.Secrets.Secret(ctx, app, name)
	existed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.cfg.Secrets.Set(ctx, app, name, []byte(*body.Value)); err != nil {
		return err
	}
	var before any
	if existed {
		before = maskedSecret(name)
	}
	s.audit(r, ActionSecretSet, app, name, before, maskedSecret(name))
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	sec := secretJSON{Name: name, UpdatedAt: time.Now().UTC()}
	if list, err := s.st.Secrets.ListSecrets(ctx, app); err == nil {
		for _, l := range list {
			if l.Name == name {
				sec.UpdatedAt = l.UpdatedAt.UTC()
			}
		}
	}
	return writeJSON(w, status, sec)
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	app, err := s.secretsApp(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	if err := s.st.Secrets.DeleteSecret(context.WithoutCancel(r.Context()), app, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("secret")
		}
		return err
	}
	s.audit(r, ActionSecretDelete, app, name, maskedSecret(name), nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maskedSecret is a secret as the audit log records it: its name, and
// its value masked.
func maskedSecret(name string) map[string]string {
	return map[string]string{"name": name, "value": "********"}
}
