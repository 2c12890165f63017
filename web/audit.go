package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
)

// The actions of the audit log. The command line records the same ones
// for what it changes on the store directly.
const (
	ActionTaskUpdate   = "task.update"
	ActionTaskCreate   = "task.create"
	ActionTaskDelete   = "task.delete"
	ActionTaskEnable   = "task.enable"
	ActionTaskDisable  = "task.disable"
	ActionTaskTrigger  = "task.trigger"
	ActionRunCancel    = "run.cancel"
	ActionAppInstall   = "app.install"
	ActionAppUpgrade   = "app.upgrade"
	ActionAppUninstall = "app.uninstall"
	ActionAppEnable    = "app.enable"
	ActionAppDisable   = "app.disable"
	ActionTokenCreate  = "token.create"
	ActionTokenRevoke  = "token.revoke"
	ActionSecretSet    = "secret.set"
	ActionSecretDelete = "secret.delete"
	ActionConfigImport = "config.import"
)

// actor names p in the audit log and in task.changed events.
func (p *principal) actor() string {
	if p.local {
		return "local"
	}
	return p.user()
}

// withActor is the request's context carrying its principal as the
// engine's actor.
func withActor(r *http.Request) context.Context {
	return engine.WithActor(r.Context(), principalFrom(r.Context()).actor())
}

// AuditJSON returns v as the audit log records it; nil is null.
func AuditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// audit records a change that the request made. A change that was made
// is not undone when its entry cannot be written: the failure is logged.
func (s *Server) audit(r *http.Request, action, app, target string, before, after any) {
	if s.st.Audit == nil {
		return
	}
	p := principalFrom(r.Context())
	e := store.AuditEntry{Actor: p.actor(), TokenID: p.token.ID, Action: action, App: app, Target: target,
		Before: AuditJSON(before), After: AuditJSON(after)}
	if _, err := s.st.Audit.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.ErrorContext(r.Context(), "recording audit entry", slog.String("action", action), slog.String("app", app), slog.Any("error", err))
	}
}

type auditJSON struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	TokenID int64           `json:"tokenId,omitempty"`
	Action  string          `json:"action"`
	App     string          `json:"app"`
	Target  string          `json:"target"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

// listAudit pages through the audit log, newest first: a token scoped to
// some apps sees the entries of those apps only.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "app", "actor", "action", "since", "until", "cursor", "limit")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	f := store.AuditFilter{
		Apps: p.scope(), App: q.str("app"), Actor: q.str("actor"), Action: q.str("action"),
		Since: q.time("since"), Until: q.time("until"),
		Before: q.int("cursor", 0, 1, 1<<62), Limit: int(q.int("limit", store.DefaultLimit, 1, store.MaxLimit)),
	}
	if err := q.errOrNil(); err != nil {
		return err
	}
	if s.st.Audit == nil {
		return errorf(http.StatusNotImplemented, "", "this server keeps no audit log")
	}
	list, err := s.st.Audit.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Entries []auditJSON `json:"entries"`
		Next    string      `json:"next,omitempty"`
	}{Entries: make([]auditJSON, len(list))}
	for i, e := range list {
		out.Entries[i] = auditJSON{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, TokenID: e.TokenID, Action: e.Action,
			App: e.App, Target: e.Target, Before: rawOrNull(e.Before), After: rawOrNull(e.After)}
	}
	if len(list) == f.Limit && len(list) > 0 {
		out.Next = strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	return writeJSON(w, http.StatusOK, out)
}
