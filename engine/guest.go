package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/runtime"
)

// Guest is what one run of a task is given: its host capabilities and its
// instance's configuration.
type Guest struct {
	Call *hostapi.Call
	Spec runtime.Spec
}

// NewGuest prepares run runID of task t, whose app has perms, in home:
// the run's input and the task's config, the app's KV in st if permitted,
// its HTTP allow-list, its file directory (home/data/files/<app>, created
// if needed) mounted at /data if permitted, the task's arguments,
// environment and limits. Logs and progress go to sink. The caller closes
// Call when the run ends.
func NewGuest(home string, st store.Store, t app.Task, perms app.Permissions, runID int64, input json.RawMessage, sink hostapi.Sink) (*Guest, error) {
	call := &hostapi.Call{Input: input, Config: t.Config, Sink: sink}
	if perms.KV {
		call.KV = st.KV(t.App)
	}
	if len(perms.HTTP) > 0 {
		call.HTTP = &hostapi.HTTP{Allow: perms.HTTP}
	}
	spec := runtime.Spec{
		ID:     strconv.FormatInt(runID, 10),
		Args:   append([]string{t.Name}, t.Args...),
		Env:    environ(t.Environment),
		Limits: t.Limits,
	}
	if perms.Files {
		dir := filepath.Join(home, "data", "files", t.App)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			call.Close()
			return nil, fmt.Errorf("creating the app's file directory: %w", err)
		}
		spec.Mounts = []runtime.Mount{{HostDir: dir, GuestPath: "/data"}}
	}
	return &Guest{Call: call, Spec: spec}, nil
}
