package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser tests check every page and dialog the scenarios reach
// against WCAG 2.1 A and AA with axe-core, from npm (never committed):
// $CRONBOX_AXE names its axe.min.js, by default the one in
// ~/.cache/cronbox/npm, where .ci/run installs it. Without it the check
// is skipped with a log line, unless CRONBOX_REQUIRE_BROWSER is set.

const axeInstall = "npm install --prefix ~/.cache/cronbox/npm axe-core@4"

// axeTags are the rules run: WCAG 2.0 and 2.1, levels A and AA.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']`

var axeSource = sync.OnceValues(func() (string, error) {
	p := os.Getenv("CRONBOX_AXE")
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, ".cache", "cronbox", "npm", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return string(b), nil
})

// axeScript returns axe's source, or "" when the check is to be skipped;
// it fails the test when axe is missing and CRONBOX_REQUIRE_BROWSER is set.
func axeScript(t *testing.T) string {
	t.Helper()
	src, err := axeSource()
	if err == nil {
		return src
	}
	if os.Getenv("CRONBOX_REQUIRE_BROWSER") != "" {
		t.Fatalf("axe-core not found (%v) and CRONBOX_REQUIRE_BROWSER is set; install it with: %s (or set CRONBOX_AXE to its axe.min.js)", err, axeInstall)
	}
	t.Logf("accessibility check skipped: axe-core not found (%v); install it with: %s", err, axeInstall)
	return ""
}

// axeViolation is what axe reports of a rule a page breaks.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// pageState names what the tab shows, for checking each page and dialog
// once: the path; whether the sign-in form, a dialog, the view's heading
// and table rows are there; how many sections (h2) it has; and the
// states (data-state) of the parts of the view that load on their own,
// such as an app's validation or an install's result.
const pageState = `(() => {
  const m = document.querySelector('main');
  return [location.pathname,
    document.querySelector('#token') ? 'sign-in' : '',
    document.querySelector('dialog[open]') ? 'dialog' : '',
    m && m.querySelector('h1') ? 'h1' : '',
    m && m.querySelector('tbody tr') ? 'rows' : '',
    m ? m.querySelectorAll('h2').length : 0,
    m ? [...m.querySelectorAll('[data-state]')].map((e) => e.dataset.state).join(',') : ''].join('|');
})()`

// accessible runs axe on what the tab shows, once for each state (see
// pageState), and fails the test with each violation found.
func (tb *tab) accessible() {
	tb.t.Helper()
	if tb.axe == "" {
		return
	}
	state := eval[string](tb, pageState)
	if tb.checked[state] {
		return
	}
	tb.checked[state] = true
	tb.checkAccessible(state)
}

// checkAccessible runs axe on what the tab shows now.
func (tb *tab) checkAccessible(what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, wait)
	defer cancel()
	run := `(async () => {
  if (!window.axe) throw new Error('axe-core did not load');
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ` + axeTags + `}});
  return r.violations.map((v) => ({id: v.id, impact: v.impact || '', help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target, html: n.html}))}));
})()`
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`if (!window.axe) {`+tb.axe+"\n}")); err != nil {
		tb.t.Fatalf("loading axe into %s: %v", what, err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("running axe on %s: %v", what, err)
	}
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "axe finds %d WCAG 2.1 AA violations on %s:", len(vs), what)
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for i, n := range v.Nodes {
			if i == 3 {
				fmt.Fprintf(&b, "\n    … and %d more", len(v.Nodes)-i)
				break
			}
			fmt.Fprintf(&b, "\n    %v %s", n.Target, n.HTML)
		}
	}
	tb.t.Error(b.String())
}
