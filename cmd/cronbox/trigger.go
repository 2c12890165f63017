package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/runtime"
)

// triggerTask runs a task once, now, in this process, and records the run
// in the store as a manual run. It does not go through an engine: a
// running serve does not see the run while it goes (its overlap policy,
// quotas and the task's retries and dependents do not apply), and it is
// not cancelled when serve stops.
func triggerTask(ctx context.Context, e *env, home string, st store.Store, appName, task string, input json.RawMessage) (store.Run, error) {
	a, err := app.Load(filepath.Join(home, "apps", appName), loadOptions())
	if err != nil {
		return store.Run{}, err
	}
	stored, err := st.Overrides(ctx)
	if err != nil {
		return store.Run{}, err
	}
	var ovs []app.Override
	for _, o := range stored {
		if o.App == appName {
			ao, err := appOverride(o)
			if err != nil {
				return store.Run{}, err
			}
			ovs = append(ovs, ao)
		}
	}
	var t *app.Task
	for _, mt := range app.Merge(a, ovs) {
		if mt.Name == task {
			t = &mt
		}
	}
	if t == nil {
		return store.Run{}, fmt.Errorf("no task %s/%s", appName, task)
	}
	if len(t.Errors) > 0 {
		errs := make([]error, len(t.Errors))
		for i, p := range t.Errors {
			errs[i] = p
		}
		return store.Run{}, fmt.Errorf("task %s/%s has errors:\n%w", appName, task, errors.Join(errs...))
	}

	rt, err := runtime.New(ctx, runtime.Config{CacheDir: filepath.Join(home, "data", "cache"), HostModules: []runtime.HostModule{hostModule()}})
	if err != nil {
		return store.Run{}, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	mod, _, err := rt.LoadFile(ctx, t.Module)
	if err != nil {
		return store.Run{}, err
	}

	run := store.Run{App: appName, Task: task, Status: store.StatusRunning, Trigger: store.TriggerManual, TriggeredByUser: currentUser(),
		StartTime: time.Now(), ExitCode: -1, Input: input}
	if run.ID, err = st.StartRun(ctx, run); err != nil {
		return store.Run{}, err
	}
	call := &hostapi.Call{Input: input, Config: t.Config, Sink: &stderrSink{w: e.stderr}}
	perms := a.Manifest.Permissions
	if perms.KV {
		call.KV = st.KV(appName)
	}
	if len(perms.HTTP) > 0 {
		call.HTTP = &hostapi.HTTP{Allow: perms.HTTP}
	}
	defer call.Close()
	env := make([]string, 0, len(t.Environment))
	for k, v := range t.Environment {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	spec := runtime.Spec{ID: strconv.FormatInt(run.ID, 10), Args: append([]string{t.Name}, t.Args...), Env: env, Limits: t.Limits}
	if perms.Files {
		dir := filepath.Join(home, "data", "files", appName)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return run, err
		}
		spec.Mounts = []runtime.Mount{{HostDir: dir, GuestPath: "/data"}}
	}
	res, err := rt.Run(hostapi.WithCall(ctx, call), mod, spec)
	end := store.RunEnd{Status: store.StatusFailed, EndTime: time.Now(), ExitCode: -1}
	if err != nil {
		end.Error = err.Error()
	} else {
		end = store.RunEnd{Status: store.Status(res.Status), EndTime: time.Now(), Duration: res.Duration, ExitCode: res.ExitCode,
			Output: string(append(res.Stdout, res.Stderr...)), Error: res.Error, Result: call.Result(), PeakMemory: res.PeakMemory}
	}
	if end.Status == store.StatusCancelled {
		end.Status = store.StatusInterrupted
	}
	bg := context.WithoutCancel(ctx)
	if err := st.FinishRun(bg, run.ID, end); err != nil {
		return run, err
	}
	if end.Status != store.StatusInterrupted {
		if _, err := st.RecordOutcome(bg, appName, task, store.Outcome{Failed: end.Status != store.StatusSucceeded, MaxFailures: t.MaxFailures}); err != nil {
			return run, err
		}
	}
	run.Status, run.EndTime, run.Duration, run.ExitCode, run.Output, run.Error, run.Result, run.PeakMemory =
		end.Status, end.EndTime, end.Duration, end.ExitCode, end.Output, end.Error, end.Result, end.PeakMemory
	return run, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}
