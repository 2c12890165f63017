package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/runtime"
)

// guest is what one run of a task is given: its host capabilities and its
// instance's configuration.
type guest struct {
	Call *hostapi.Call
	Spec runtime.Spec
	// Account is the run's account of memory and usage, shared by Call
	// and Spec: what the host holds for the run counts against its memory
	// limit, and what it moves is metered.
	Account *runtime.Account
	// Files is the quota of the app's directory, when it is mounted.
	Files *runtime.DiskQuota
}

// guestApp is what a run is given by its task's app.
type guestApp struct {
	// Permissions are the app's capabilities.
	Permissions app.Permissions
	// Quotas bound what its key-value store and its directory hold.
	Quotas app.Quotas
	// Files counts what the app's directory holds against Quotas.Files:
	// give every run of the app the same one. Nil: one is made for the run.
	Files *runtime.DiskQuota
	// Secrets returns the value of the app's secret name, for the
	// ${secret:NAME} references of the task's environment. Nil: a
	// reference fails the run.
	Secrets func(name string) (string, error)
}

// newGuest prepares run runID of task t, whose app gives ga, in home: the
// run's input and the task's config, the app's KV in kv if permitted (held
// to its quota), its HTTP allow-list, its file directory
// (home/data/files/<app>, created if needed) mounted at /data if permitted
// (held to its quota), the task's arguments, environment (its secrets
// resolved with ga.Secrets: a missing one is an error naming it) and limits. Logs
// and progress go to sink. The caller closes Call when the run ends.
func newGuest(home string, kv store.KeyValue, t app.Task, ga guestApp, runID int64, input json.RawMessage, sink hostapi.Sink) (*guest, error) {
	env, err := secrets.Expand(t.Environment, ga.Secrets)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", t.Key(), err)
	}
	perms := ga.Permissions
	acct := runtime.NewAccount()
	call := &hostapi.Call{Input: input, Config: t.Config, Sink: sink, Account: acct}
	if perms.KV {
		call.KV = kv.KVWithQuota(t.App, ga.Quotas.KV)
	}
	if len(perms.HTTP) > 0 {
		call.HTTP = &hostapi.HTTP{Allow: perms.HTTP}
	}
	spec := runtime.Spec{
		ID:      strconv.FormatInt(runID, 10),
		Args:    append([]string{t.Name}, t.Args...),
		Env:     environ(env),
		Limits:  t.Limits,
		Account: acct,
	}
	if perms.Files {
		dir := homedir.Home(home).Files(t.App)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			call.Close()
			return nil, fmt.Errorf("creating the app's file directory: %w", err)
		}
		files := ga.Files
		if files == nil {
			files = runtime.NewDiskQuota(ga.Quotas.Files)
		}
		spec.Mounts = []runtime.Mount{{HostDir: dir, GuestPath: "/data", Quota: files}}
		return &guest{Call: call, Spec: spec, Account: acct, Files: files}, nil
	}
	return &guest{Call: call, Spec: spec, Account: acct}, nil
}
