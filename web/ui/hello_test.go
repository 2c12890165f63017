package ui_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// installHello copies the sample app hello (apps/hello) into the server's
// home, its task and route built, and waits until its route answers.
func installHello(t *testing.T, tg *target) {
	t.Helper()
	src := filepath.Join("..", "..", "apps", "hello")
	dst := filepath.Join(tg.Home, "apps", ".hello-staging")
	for _, f := range []string{"app.yaml", "config/tasks.yaml", "public/index.html", "public/page.js", "public/style.css"} {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dst, filepath.FromSlash(f)), b)
	}
	write(t, filepath.Join(dst, "tasks", "greet.wasm"), wasmtest.Build(t, "../../apps/hello/tasks/greet"))
	write(t, filepath.Join(dst, "routes", "greeting.wasm"), wasmtest.Build(t, "../../apps/hello/routes/greeting"))
	// One rename, so that the watcher sees the app whole.
	if err := os.Rename(dst, filepath.Join(tg.Home, "apps", "hello")); err != nil {
		t.Fatal(err)
	}
	// Two Go modules are compiled first: slow under the race detector
	// on a loaded machine.
	var got any
	testenv.WaitWithin(t, 4*time.Minute, "the hello app's route to answer", func() bool {
		resp, err := http.Get(tg.URL + "/apps/hello/api/greeting")
		if err != nil {
			got = err
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = resp.Status
		return resp.StatusCode == 200
	}, func() string { return fmt.Sprintf("the last answer: %v", got) })
}

// TestHelloPage: the Apps page links the sample app's page, which calls
// the app's route and shows its answer, in a real browser, accessible in
// every state.
func TestHelloPage(t *testing.T) {
	browser, started := newBrowser(t)
	tg := startServer(t)
	started()
	installHello(t, tg)

	tb := newTab(t, browser, tg.URL)
	tb.signIn(tg.Tokens["viewer"])
	tb.open("/apps")
	tb.visible(`a.app-page[data-page="hello"]`)
	tb.until("hello's route is listed", `(() => { const r = document.querySelector('tr[data-app="hello"] [data-route="GET /api/greeting"]'); return r && r.textContent.includes('public'); })()`)
	tb.click(`a.app-page[data-page="hello"]`)
	tb.do("the page loads", chromedp.WaitVisible(chromedp.CSS(`form#ask`)))
	tb.until("the page shows the route's answer", `(() => { const a = document.querySelector('#answer'); return location.pathname === '/apps/hello/' && a && a.dataset.state === 'done' && a.textContent.includes('Hello, world!'); })()`)
	tb.typeInto("#name", "Ada")
	tb.click(`#ask button[type="submit"]`)
	tb.until("the page asks again", `document.querySelector('#answer').textContent.includes('Hello, Ada!')`)
	tb.checkAccessible("the hello page after asking")

	// The page may not reach the management API: its policy keeps it to
	// the app's own path.
	// The violation is expected: it is taken before the tab's detector of
	// problems sees it, and recorded.
	blocked := eval[bool](tb, `(async () => {
  let seen = false;
  document.addEventListener('securitypolicyviolation', (e) => {
    if (e.blockedURI.includes('/api/v1/')) { seen = true; e.stopImmediatePropagation(); }
  }, true);
  const failed = await fetch('/api/v1/session').then(() => false, () => true);
  await new Promise((r) => setTimeout(r, 0));
  return failed && seen;
})()`)
	if !blocked {
		t.Error("the app's page could fetch /api/v1/session")
	}

	// Nor open a window of the UI, which shares its origin, to act in it
	// with the user's session: the page is sandboxed without popups.
	if opened := eval[bool](tb, `window.open('/', '_blank') !== null`); opened {
		t.Error("the app's page could open a window of the UI")
	}

	tb.open("/apps")
	tb.until("hello's route counts its requests", `(() => { const r = document.querySelector('tr[data-app="hello"] [data-route="GET /api/greeting"]'); return r && /[1-9]\d* requests/.test(r.textContent); })()`)
}
