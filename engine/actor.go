package engine

import (
	"context"
	"time"
)

// DefaultAuditRetention is Config.AuditRetention's default: 400 days.
const DefaultAuditRetention = 400 * 24 * time.Hour

type actorKey struct{}

// WithActor returns ctx carrying who makes the changes done with it: the
// engine names them in its task.changed events (Event.Actor).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or "".
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// SecretValues gives the values of the apps' secrets (a *secrets.Box).
type SecretValues interface {
	// Value returns the value of the secret name of app, or an error
	// that names the secret (never its value).
	Value(ctx context.Context, app, name string) (string, error)
}

// secretsOf returns the lookup of app's secrets for a run's environment,
// or nil without Config.Secrets.
func (e *Engine) secretsOf(ctx context.Context, app string) func(string) (string, error) {
	if e.cfg.Secrets == nil {
		return nil
	}
	return func(name string) (string, error) { return e.cfg.Secrets.Value(ctx, app, name) }
}
