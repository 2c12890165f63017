package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// An engine over a home with one app, in simulated time: the task fires
// every minute, and a person triggers it once by hand.
func Example() {
	ctx := context.Background()
	home, _ := os.MkdirTemp("", "cronbox-example")
	defer os.RemoveAll(home)
	dir := filepath.Join(home, "apps", "demo")
	os.MkdirAll(filepath.Join(dir, "config"), 0o755)
	os.MkdirAll(filepath.Join(dir, "tasks"), 0o755)
	os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("name: demo\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config", "tasks.yaml"), []byte("tasks:\n  - name: hello\n    schedule: \"* * * * *\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tasks", "hello.wasm"), wasmtest.Hello(), 0o644)

	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	rt, err := runtime.New(ctx, runtime.Config{HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	clock := engine.NewFakeClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
	e, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt, Clock: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := e.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop(ctx)

	clock.Advance(time.Minute) // fires 10:01
	e.WaitIdle(ctx)
	id, _ := e.Trigger(ctx, "demo", "hello", []byte(`{"who":"docs"}`), "alice")
	e.WaitIdle(ctx)

	runs, _ := st.ListRuns(ctx, store.RunFilter{})
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		fmt.Println(r.Task, r.Trigger, r.Status, r.ID == id)
	}
	fmt.Println("next:", e.Tasks()[0].Next.Format("15:04"))
	// Output:
	// hello schedule succeeded false
	// hello manual succeeded true
	// next: 10:02
}
