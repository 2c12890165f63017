package engine

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoWebhook: the task does not exist, or has no webhook (webhook: in
// its definition), or its app is off.
var ErrNoWebhook = errors.New("no such webhook")

// WebhookSecret returns the value of the secret that signs the webhook of
// appName/task, or ErrNoWebhook.
func (e *Engine) WebhookSecret(ctx context.Context, appName, task string) ([]byte, error) {
	info, ok := e.Task(appName, task)
	if !ok || info.Task.Webhook == "" || !e.AppLoaded(appName) {
		return nil, ErrNoWebhook
	}
	if e.cfg.Secrets == nil {
		return nil, fmt.Errorf("webhook of %s: this server keeps no secrets", info.Task.Key())
	}
	v, err := e.cfg.Secrets.Value(ctx, appName, info.Task.Webhook)
	if err != nil {
		return nil, fmt.Errorf("webhook of %s: %w", info.Task.Key(), err)
	}
	return []byte(v), nil
}
