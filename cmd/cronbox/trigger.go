package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/runtime"
)

// triggerTask runs a task once, now, in this process, and records the run
// in the store as a manual run. It does not go through an engine: a
// running serve does not see the run while it goes (its overlap policy,
// quotas and the task's retries and dependents do not apply), and it is
// not cancelled when serve stops.
// triggerStore is what a run in the CLI's own process uses: the task's
// override, its run and outcome, and its app's KV.
type triggerStore interface {
	store.KeyValue
	Overrides(ctx context.Context) ([]store.Override, error)
	StartRun(ctx context.Context, r store.Run) (int64, error)
	FinishRun(ctx context.Context, id int64, end store.RunEnd) error
	RecordOutcome(ctx context.Context, app, task string, o store.Outcome) (store.FailureState, error)
}

func triggerTask(ctx context.Context, e *env, home string, st triggerStore, appName, task string, input json.RawMessage) (store.Run, error) {
	a, err := app.Load(homedir.Home(home).App(appName), loadOptions())
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

	rt, err := runtime.New(ctx, runtime.Config{CacheDir: homedir.Home(home).Cache(), HostModules: []runtime.HostModule{hostModule()}})
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
	g, err := engine.NewGuest(home, st, *t, engine.GuestApp{Permissions: a.Manifest.Permissions, Quotas: a.Manifest.Quotas}, run.ID, input, &stderrSink{w: e.stderr})
	var res *runtime.Result
	if err == nil {
		defer g.Call.Close()
		res, err = rt.Run(hostapi.WithCall(ctx, g.Call), mod, g.Spec)
	}
	end := store.RunEnd{Status: store.StatusFailed, EndTime: time.Now(), ExitCode: -1}
	if err != nil {
		end.Error = err.Error()
	} else {
		end = store.RunEnd{Status: store.Status(res.Status), EndTime: time.Now(), Duration: res.Duration, ExitCode: res.ExitCode,
			Output: string(append(res.Stdout, res.Stderr...)), Error: res.Error, Result: g.Call.Result(), PeakMemory: res.PeakMemory}
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
