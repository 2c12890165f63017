package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// BenchmarkListTasks measures GET /api/v1/tasks (a page of 50) over
// 10,000 tasks in 100 apps.
func BenchmarkListTasks(b *testing.B) {
	home := b.TempDir()
	for a := range 100 {
		dir := filepath.Join(home, "apps", fmt.Sprintf("a%03d", a))
		var y strings.Builder
		y.WriteString("tasks:\n")
		for i := range 100 {
			fmt.Fprintf(&y, "  - name: t%d\n    schedule: \"H H 1 1 *\"\n    module: tasks/t.wasm\n", i)
		}
		for path, content := range map[string]string{
			"app.yaml": fmt.Sprintf("name: a%03d\n", a), "config/tasks.yaml": y.String(), "tasks/t.wasm": string(wasmtest.Hello()),
		} {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
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
	eng, err := engine.New(engine.Config{Home: home, Store: engine.SQLiteStore(st), Runtime: rt})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Engine: eng, Store: SQLiteStore(st), Runtime: rt})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if err := eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer eng.Stop(ctx)
	if _, err := st.CreateToken(ctx, storeToken("admin", RoleAdmin)); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/api/v1/tasks", "/api/v1/summary"} {
		b.Run(strings.TrimPrefix(path, "/api/v1/"), func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", path, nil)
				r.Header.Set("Authorization", "Bearer cbx_test_admin")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
