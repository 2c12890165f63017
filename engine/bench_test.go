package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// BenchmarkFireSimultaneous measures 1,000 tasks due in the same second:
// each op fires them all and waits until every run is recorded.
func BenchmarkFireSimultaneous(b *testing.B) {
	const tasks = 1000
	var y strings.Builder
	y.WriteString("tasks:\n")
	mods := map[string][]byte{}
	for i := range tasks {
		fmt.Fprintf(&y, "  - name: t%d\n    schedule: \"* * * * *\"\n    module: tasks/hello.wasm\n", i)
	}
	mods["hello"] = wasmtest.Hello()
	home := b.TempDir()
	writeAppTB(b, home, testApp{name: "bench", quota: 1000, tasks: y.String(), modules: mods})
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, "data", "cronbox.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rt, err := runtime.New(ctx, runtime.Config{HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}}})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	clock := NewFakeClock(t0)
	e, err := New(Config{Home: home, Store: SQLiteStore(st), Runtime: rt, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Stop(ctx)
	b.ResetTimer()
	for b.Loop() {
		clock.Advance(time.Minute)
		if err := e.WaitIdle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tasks*b.N)/b.Elapsed().Seconds(), "runs/s")
}
