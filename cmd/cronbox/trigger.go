package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/internal/secrets"
	"github.com/cronbox/cronbox/internal/storeurl"
	"github.com/cronbox/cronbox/runtime"
)

// triggerTask runs a task once, now, in this process, and records the run
// in the store as a manual run: an engine that is not started runs it
// (engine.RunOnce), loaded, recorded and capped as serve would run it, and
// prints its log lines and progress on stderr. A running serve does not
// see the run while it goes (its overlap policy, quotas and the task's
// retries and dependents do not apply), and it is not cancelled when serve
// stops.
func triggerTask(ctx context.Context, e *env, home string, st storeurl.Store, appName, task string, input json.RawMessage) (store.Run, error) {
	// One run: natively, as exec's (see there).
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: homedir.Home(home).Cache(), Tier: runtime.TierNative, HostModules: []runtime.HostModule{hostModule()}})
	if err != nil {
		return store.Run{}, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	eng, err := engine.New(engine.Config{Home: home, Store: engine.StoreOf(st), Runtime: rt, EventBuffer: 1 << 14,
		Secrets: secrets.OpenLazily(homedir.Home(home), st)})
	if err != nil {
		return store.Run{}, err
	}
	events, unsubscribe := eng.Subscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range events {
			switch ev.Type {
			case engine.EventRunLog:
				fmt.Fprintf(e.stderr, "[%s] %s\n", ev.Level, ev.Message)
			case engine.EventRunProgress:
				fmt.Fprintf(e.stderr, "[progress %d%%] %s\n", ev.Progress, ev.Message)
			}
		}
	}()
	run, err := eng.RunOnce(ctx, appName, task, input, currentUser())
	unsubscribe()
	<-printed
	return run, err
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
