package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
	"github.com/cronbox/cronbox/internal/runjson"
)

// backend is what the commands that read or change a home act on: the
// home itself (local), or a server over its API (remote). A command
// prints what either returns the same way, so that there is one path per
// command; only the backend differs. A new command that works on both
// adds one method here, and one to each implementation.
type backend interface {
	// Tasks lists the tasks with their overrides applied.
	Tasks(ctx context.Context) ([]taskRow, error)
	// SetTaskEnabled switches a task on or off (on clears its failures).
	SetTaskEnabled(ctx context.Context, appName, task string, on bool) error
	// Trigger runs a task once now and returns the run once it ended;
	// its log lines go to e.stderr as they come.
	Trigger(ctx context.Context, e *env, appName, task string, input json.RawMessage) (runRow, error)
	// Runs lists runs, newest first.
	Runs(ctx context.Context, q runQuery) ([]runRow, error)

	// SetAppEnabled switches an app on or off.
	SetAppEnabled(ctx context.Context, name string, on bool) error
	// ValidateApp checks an installed app.
	ValidateApp(ctx context.Context, name string) (*lifecycle.Report, error)
	// ExportApp writes the app's zip into outDir ("": the backend's
	// default) and returns its path and, when known, its manifest.
	ExportApp(ctx context.Context, name, outDir string) (string, *lifecycle.ArchiveManifest, error)
	// InstallApp installs the zip or app folder src.
	InstallApp(ctx context.Context, src string, upgrade, strict bool) (installRow, error)
	// UninstallApp removes an app (purge: its data too) after a backup.
	UninstallApp(ctx context.Context, name string, purge bool) (*lifecycle.Uninstalled, error)
	// Backups says where uninstall keeps its backups, for the question
	// it asks.
	Backups() string

	// ExportConfig returns the task overrides as a tasks file.
	ExportConfig(ctx context.Context) ([]byte, error)
	// ImportConfig stores the overrides of a tasks file, all or none,
	// and returns how many; warnings go to e.stderr.
	ImportConfig(ctx context.Context, e *env, data []byte) (int, error)

	// CreateToken, ListTokens and RevokeToken manage the API tokens.
	CreateToken(ctx context.Context, name, role string, apps []string) (string, error)
	ListTokens(ctx context.Context) ([]tokenRow, error)
	RevokeToken(ctx context.Context, id int64) error

	// SetSecret stores value as the secret name of an app, sealed;
	// ListSecrets lists an app's secrets, names and times, never values;
	// DeleteSecret removes one.
	SetSecret(ctx context.Context, appName, name, value string) error
	ListSecrets(ctx context.Context, appName string) ([]secretRow, error)
	DeleteSecret(ctx context.Context, appName, name string) error

	// Audit lists the audit log's entries that f keeps, newest first.
	Audit(ctx context.Context, f store.AuditFilter) ([]auditRow, error)

	Close() error
}

// runQuery is what `cronbox runs` asks for.
type runQuery struct {
	App, Task string
	Statuses  []store.Status
	Limit     int
}

// runRow is a run as the CLI prints it, in JSON the same as the API's
// (GET /api/v1/runs/{id}), whether it comes from a home or a server.
type runRow struct {
	runjson.Run
	// Of one run only (a trigger's), not in listings:
	Input  json.RawMessage `json:"input,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Output string          `json:"output,omitempty"`
}

// installRow is what `app install` reports.
type installRow struct {
	App      string              `json:"app"`
	Dir      string              `json:"dir,omitempty"`
	Version  string              `json:"version,omitempty"`
	Files    int                 `json:"files"`
	Verified bool                `json:"verified"`
	Replaced bool                `json:"replaced"`
	Backup   string              `json:"backup,omitempty"`
	Warnings []lifecycle.Finding `json:"warnings"`
}

// errLocalOnly is what a remote backend answers for what a server's API
// does not offer.
func errLocalOnly(what string) error {
	return fmt.Errorf("%s works on a local home only (--home), not against a server", what)
}

// target is where a command acts, from its flags: a home, or a server.
// Every command that reads or changes a home takes these flags, and
// opens its backend with open: the one place that chooses.
type target struct {
	home, store, server, context, ca string
	remote                           bool
}

// targetFlags defines the flags of target on fs.
func targetFlags(fs *flag.FlagSet) *target {
	t := &target{}
	fs.StringVar(&t.home, "home", ".", "the Cronbox `DIR`ectory")
	fs.StringVar(&t.store, "store", "", storeUsage)
	fs.StringVar(&t.server, "server", "", "act on the server at `URL` instead of a home; the token is $CRONBOX_TOKEN, else the config file's for that server")
	fs.StringVar(&t.context, "context", "", "act on the server of the config file's context `NAME` (see `cronbox context list`)")
	fs.BoolVar(&t.remote, "remote", false, "act on the server of the config file's current context")
	fs.StringVar(&t.ca, "ca", "", "for https, trust the certificates in this PEM `FILE` (default $CRONBOX_CA, else the context's, else the system's)")
	return t
}

// isRemote reports whether the flags name a server.
func (t *target) isRemote() bool { return t.server != "" || t.context != "" || t.remote }

// open returns the backend the flags name.
func (t *target) open(e *env) (backend, error) {
	if !t.isRemote() {
		return &localBackend{home: t.home, storeURL: t.store, warn: e.stderr}, nil
	}
	if t.store != "" {
		return nil, errors.New("--store names a home's store: give it or a server (--server, --context, --remote), not both")
	}
	cfg, err := t.clientConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	return &remoteBackend{c: c}, nil
}

// clientConfig resolves the server, token and CA: --server with
// $CRONBOX_TOKEN or the token of the context for that server; or the
// context named (--context) or current (--remote).
func (t *target) clientConfig() (client.Config, error) {
	if t.server != "" && (t.context != "" || t.remote) {
		return client.Config{}, errors.New("give --server, --context or --remote, not several")
	}
	cfg := client.Config{Server: t.server, Token: os.Getenv("CRONBOX_TOKEN"), CAFile: t.ca}
	if cfg.CAFile == "" {
		cfg.CAFile = os.Getenv("CRONBOX_CA")
	}
	if t.server != "" && cfg.Token != "" {
		return cfg, nil
	}
	path, err := client.ConfigPath()
	if err != nil {
		return cfg, err
	}
	cf, err := client.LoadConfig(path)
	if err != nil {
		return cfg, err
	}
	var c client.Context
	if t.server != "" {
		base, err := client.CheckServer(t.server)
		if err != nil {
			return cfg, err
		}
		found := false
		for _, k := range cf.Contexts {
			if k.Server == base || k.Server == base+"/" {
				c, found = k, true
				break
			}
		}
		if !found {
			return cfg, fmt.Errorf("no token for %s: set CRONBOX_TOKEN, or run `cronbox login %s` (it reads the token from stdin)", base, base)
		}
	} else {
		if c, err = cf.Find(t.context); err != nil {
			return cfg, err
		}
		cfg.Server = c.Server
	}
	if cfg.Token == "" || t.server == "" {
		cfg.Token = c.Token
	}
	if cfg.CAFile == "" {
		cfg.CAFile = c.CA
	}
	return cfg, nil
}

// withBackend opens t's backend, runs f with it and reports f's error
// as the command's: 1, or 0.
func withBackend(ctx context.Context, e *env, t *target, f func(backend) error) int {
	b, err := t.open(e)
	if err == nil {
		err = f(b)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox: %v\n", err)
		return 1
	}
	return 0
}
