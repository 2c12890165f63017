package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// tokenJSON is an API token as the API lists it: never its secret, which
// only the answer that creates it carries.
type tokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Apps       []string   `json:"apps"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	// Token is the secret, in the answer of POST /tokens only.
	Token string `json:"token,omitempty"`
}

func tokenJSONOf(t store.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, Apps: nonNil(t.Apps), CreatedAt: t.CreatedAt.UTC(),
		LastUsedAt: utc(t.LastUsedAt), RevokedAt: utc(t.RevokedAt)}
}

// everyApp refuses a principal scoped to some apps: a token sees every
// app's tokens, and could make one that sees more than its own.
func everyApp(r *http.Request) error {
	if principalFrom(r.Context()).apps != nil {
		return errorf(http.StatusForbidden, "", "a token scoped to some apps may not manage tokens")
	}
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if err := everyApp(r); err != nil {
		return err
	}
	toks, err := s.st.Tokens.ListTokens(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Tokens []tokenJSON `json:"tokens"`
	}{Tokens: make([]tokenJSON, 0, len(toks))}
	for _, t := range toks {
		out.Tokens = append(out.Tokens, tokenJSONOf(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

// maxTokenName is the longest name a token may have.
const maxTokenName = 200

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if err := everyApp(r); err != nil {
		return err
	}
	var body struct {
		Name string   `json:"name"`
		Role string   `json:"role"`
		Apps []string `json:"apps"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	body.Name = strings.TrimSpace(body.Name)
	switch {
	case !ValidRole(body.Role):
		return errorf(http.StatusBadRequest, "role", "role must be admin, operator or viewer, not %q", body.Role)
	case len(body.Name) > maxTokenName:
		return errorf(http.StatusBadRequest, "name", "name is longer than %d bytes", maxTokenName)
	}
	if body.Name == "" {
		body.Name = "api-" + body.Role
	}
	for _, a := range body.Apps {
		if err := ValidScope(a); err != nil {
			return errorf(http.StatusBadRequest, "apps", "apps: %v", err)
		}
	}
	secret := NewToken()
	t := store.Token{Name: body.Name, Hash: store.HashToken(secret), Role: body.Role, Apps: body.Apps}
	id, err := s.st.Tokens.CreateToken(r.Context(), t)
	if err != nil {
		return err
	}
	t.ID, t.CreatedAt = id, time.Now()
	s.audit(r, ActionTokenCreate, "", strconv.FormatInt(id, 10), nil, map[string]any{"name": t.Name, "role": t.Role, "apps": t.Apps})
	out := tokenJSONOf(t)
	out.Token = secret
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if err := everyApp(r); err != nil {
		return err
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return errorf(http.StatusBadRequest, "id", "id must be a token ID, not %q", chi.URLParam(r, "id"))
	}
	if err := s.st.Tokens.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	s.audit(r, ActionTokenRevoke, "", strconv.FormatInt(id, 10), nil, map[string]bool{"revoked": true})
	// Its streams end now, not at their next check.
	toks, err := s.st.Tokens.ListTokens(r.Context())
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			s.endToken(t.Hash)
			return writeJSON(w, http.StatusOK, tokenJSONOf(t))
		}
	}
	return notFound("token")
}
