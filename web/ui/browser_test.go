package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive a headless Chromium against a server that
// follows the API contract. They are skipped when no browser is found,
// unless CRONBOX_REQUIRE_BROWSER is set (CI sets it), and save a
// screenshot of a failing page to $CRONBOX_SCREENSHOTS (default: a
// temporary directory) and log its path.

// wait is how long a test waits for the page to reach a state.
const wait = 20 * time.Second

// findBrowser returns the path of a Chromium or Chrome binary, or "".
func findBrowser() string {
	if p := os.Getenv("CRONBOX_BROWSER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/headless-shell/headless-shell"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a browser for the test and returns its context, and a
// function that waits until the browser is up; it stops when the test
// ends.
func newBrowser(t *testing.T) (context.Context, func()) {
	t.Helper()
	exe := findBrowser()
	if exe == "" {
		if os.Getenv("CRONBOX_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found (looked for chromium, chromium-browser, google-chrome, headless-shell on PATH and $CRONBOX_BROWSER) and CRONBOX_REQUIRE_BROWSER is set; install it with: apt-get install -y chromium")
		}
		t.Skip("no Chromium found: install it (apt-get install -y chromium) or set CRONBOX_BROWSER to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, on a context without a deadline, while the
	// caller prepares the rest.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	return ctx, func() {
		t.Helper()
		select {
		case err := <-started:
			if err != nil {
				t.Fatalf("starting %s: %v", exe, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("starting %s: no answer after a minute", exe)
		}
	}
}

// page is one tab in its own browser context (its own cookies and
// storage), on the server at base.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string

	// axe is axe-core's source ("" to skip the accessibility check);
	// checked holds the states of the page it has checked.
	axe     string
	checked map[string]bool
}

// detectProblems reports scripts that throw and content-security-policy
// violations as uncaught exceptions, which the tab collects.
const detectProblems = `document.addEventListener('securitypolicyviolation', (e) => {
  setTimeout(() => { throw new Error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });
});`

func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, ctx: ctx, base: base, axe: axeScript(t), checked: map[string]bool{}}
	exceptions := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			tb.mu.Lock()
			tb.problems = append(tb.problems, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			tb.mu.Unlock()
		}
	}()
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: detectProblems})
	}); err != nil {
		t.Fatalf("preparing the tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tb.screenshot()
		}
		tb.mu.Lock()
		probs := tb.problems
		tb.mu.Unlock()
		for _, p := range probs {
			t.Errorf("page script error: %s", p)
		}
		cancel()
	})
	return tb
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// screenshot saves what the tab shows, named by the test and suffix.
func (tb *tab) screenshot(suffix ...string) {
	dir := os.Getenv("CRONBOX_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cronbox-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot: %v", err)
		return
	}
	p := filepath.Join(dir, unsafeName.ReplaceAllString(strings.Join(append([]string{tb.t.Name()}, suffix...), "-"), "_")+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.t.Logf("screenshot: %v", err)
		return
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	tb.t.Logf("screenshot of %s saved to %s", loc, p)
}

// do runs the steps with the test's deadline for waiting.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// open loads path from the server.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("opening "+path, chromedp.Navigate(tb.base+path))
}

// until waits for the JavaScript expression to be truthy. Like visible,
// it then checks the page's accessibility when it shows something new.
func (tb *tab) until(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(wait)))
	if err != nil {
		tb.t.Fatalf("waiting until %s: %v", what, err)
	}
	tb.accessible()
}

// eval evaluates a JavaScript expression (promises awaited) into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (tb *tab) visible(sel string) {
	tb.t.Helper()
	tb.do("waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	tb.accessible()
}

func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do("typing into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = ''; el.focus(); })()`, js(sel))),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// signIn opens the UI at the task list and signs in with token.
func (tb *tab) signIn(token string) {
	tb.t.Helper()
	tb.open("/tasks")
	tb.typeInto("#token", token)
	tb.click(`form.signin button[type="submit"]`)
	tb.visible(`nav[aria-label="Main"]`)
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// countOf returns how many elements match the CSS selector.
func countOf(tb *tab, sel string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf("document.querySelectorAll(%s).length", js(sel)))
}

// textOf waits for the selector and returns the element's text.
func textOf(tb *tab, sel string) string {
	tb.t.Helper()
	tb.visible(sel)
	return eval[string](tb, fmt.Sprintf("document.querySelector(%s).textContent", js(sel)))
}

// api calls the API from the page with the session cookie and, when csrf
// is set, the CSRF header; it returns the status.
func apiStatus(tb *tab, method, path string, csrf bool) int {
	tb.t.Helper()
	hdr := "{}"
	if csrf {
		hdr = "{'X-CSRF-Token': sessionStorage.getItem('cronbox.csrf') || ''}"
	}
	return eval[int](tb, fmt.Sprintf("fetch(%s, {method: %s, headers: %s, credentials: 'same-origin'}).then((r) => r.status)", js(path), js(method), hdr))
}

// target is a server under test.
type target struct {
	URL string
	// Home is the server's home; apps written to Home/apps are loaded.
	Home string
	// Tokens by what they may do: admin, operator, viewer, and "scoped",
	// an operator limited to the app "demo".
	Tokens map[string]string
	// Client calls the API with a bearer token.
	Client func(t *testing.T, token, method, path string, body any) (int, []byte)
	// Hold holds back the server's answer to the next GET of path (a URL
	// path): the answer is made at once, then computed is closed; it is
	// sent when release is called.
	Hold func(path string) (computed <-chan struct{}, release func())
}

func bearerClient(base string) func(t *testing.T, token, method, path string, body any) (int, []byte) {
	return func(t *testing.T, token, method, path string, body any) (int, []byte) {
		t.Helper()
		var rd *strings.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		} else {
			rd = strings.NewReader("")
		}
		req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the response: %v", method, path, err)
		}
		return resp.StatusCode, b
	}
}

// emulateWidth sets the size of the tab's viewport.
func emulateWidth(w, h int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(w, h)
}

// navigateInApp follows an in-app link, as a click on the navigation does.
func navigateInApp(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const a = document.createElement('a'); a.href = %s; a.dataset.nav = ''; document.body.append(a); a.click(); a.remove(); })()`, js(path)))
}
