package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// route is one method and pattern of the server's router.
type route struct{ method, pattern string }

// walkRoutes returns every route of the server, from chi's route walk:
// a route added later is in the list without a change here.
func walkRoutes(t *testing.T, f *fixture) []route {
	t.Helper()
	var out []route
	err := chi.Walk(f.srv.Handler().(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if pattern != "/*" { // the UI, when there is one
			out = append(out, route{method, pattern})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 25 {
		t.Fatalf("only %d routes walked", len(out))
	}
	return out
}

// scopePath fills a route's parameters with things of the app hello: the
// task greet, the run run.
func scopePath(pattern string, run int64) string {
	p := strings.NewReplacer("{app}", "hello", "{task}", "greet", "{id}", fmt.Sprint(run)).Replace(pattern)
	if strings.HasSuffix(p, "/cron/describe") {
		p += "?expr=H/5+*+*+*+*&task=hello/greet"
	}
	return p
}

// otherMarks are strings only something of the app other would put in an
// answer.
var otherMarks = []string{`"other"`, `app="other"`, "other/job", "Secret job", `"job"`}

// TestScopedTokenSeesNothingOfOtherApps walks every route with a token
// scoped to hello while the app other is busy with modules hello ships
// too: no answer names other, and no answer changes when only other
// does more (so no count includes other's runs or instances).
func TestScopedTokenSeesNothingOfOtherApps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// other also ships hello's spin module.
	writeFile(t, filepath.Join(f.home, "apps", "other", "config", "tasks.yaml"), []byte(otherTasks+`  - name: loop
    description: Secret job that never ends
    termination: { maxRuntime: 1h }
`))
	writeFile(t, filepath.Join(f.home, "apps", "other", "tasks", "loop.wasm"), wasmtest.Spin())
	if err := f.eng.ReloadApp(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	s := f.openStream(t, "admin", 0)
	run := f.trigger("hello", "greet", "")
	s.until(finished(run))
	job := f.trigger("other", "job", "")
	s.until(finished(job))
	f.recorded(job)

	routes := walkRoutes(t, f)
	snapshot := func(token string) map[route]response {
		out := map[route]response{}
		for _, rt := range routes {
			if rt.method != "GET" || rt.pattern == "/api/v1/events" {
				continue
			}
			out[rt] = f.send(req{method: "GET", path: scopePath(rt.pattern, run), token: token})
		}
		return out
	}
	before, adminBefore := snapshot("scoped"), snapshot("admin")

	// other does more: runs of the module hello's greet uses too, and a
	// live instance of the one hello's spin uses.
	for range 3 {
		id := f.trigger("other", "job", "")
		s.until(finished(id))
	}
	loop := f.trigger("other", "loop", "")
	f.waitRunning(loop)
	t.Cleanup(func() { f.eng.Cancel(context.Background(), loop); f.idle() })
	after, adminAfter := snapshot("scoped"), snapshot("admin")

	changed := 0
	for rt, a := range adminAfter {
		if !bytes.Equal(a.body, adminBefore[rt].body) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("other's runs changed no answer to an unscoped token: the test sees nothing")
	}
	for _, rt := range routes {
		if rt.method != "GET" || rt.pattern == "/api/v1/events" {
			continue
		}
		b, a := before[rt], after[rt]
		if a.status >= 500 {
			t.Errorf("GET %s: %d %s", rt.pattern, a.status, a.body)
		}
		checkNoOther(t, "GET "+rt.pattern, a.body)
		if b.status != a.status || !bytes.Equal(b.body, a.body) {
			t.Errorf("GET %s changed for a token scoped to hello when only other ran:\nbefore %d %s\nafter  %d %s", rt.pattern, b.status, b.body, a.status, a.body)
		}
	}

	// The event stream, replayed from the start and then live.
	es := f.openStream(t, "scoped", 1)
	mine := f.trigger("hello", "greet", "")
	f.trigger("other", "job", "")
	for _, ev := range es.until(finished(mine)) {
		checkNoOther(t, "GET /api/v1/events", []byte(ev.raw))
	}

	// Every other method, with an empty body, on hello's things; the
	// routes that remove things last.
	slices.SortStableFunc(routes, func(a, b route) int {
		return strings.Compare(fmt.Sprint(a.method == "DELETE"), fmt.Sprint(b.method == "DELETE"))
	})
	for _, rt := range routes {
		if rt.method == "GET" || rt.method == "HEAD" {
			continue
		}
		resp := f.send(req{method: rt.method, path: scopePath(rt.pattern, run), token: "scoped", body: "{}"})
		if resp.status >= 500 {
			t.Errorf("%s %s: %d %s", rt.method, rt.pattern, resp.status, resp.body)
		}
		checkNoOther(t, rt.method+" "+rt.pattern, resp.body)
	}
}

func checkNoOther(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, m := range otherMarks {
		if bytes.Contains(body, []byte(m)) {
			t.Errorf("%s shows %s to a token scoped to hello: %s", what, m, body)
		}
	}
}
