package ui_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The scenarios of the overview, the task charts and the run page's
// triage: they run with the others (TestBrowser).
func init() {
	scenarios = append(scenarios,
		scenario{"OverviewAndTaskCharts", chartsScenario},
		scenario{"RunAgain", runAgainScenario},
		scenario{"LogSearchAndDownload", logViewerScenario},
		scenario{"LiveLogHasNoGap", liveLogScenario},
	)
}

// newToken makes a token through the API, as an admin would.
func newToken(t *testing.T, tg *target, name, role string, apps ...string) string {
	t.Helper()
	status, body := tg.Client(t, tg.Tokens["admin"], "POST", "/tokens", map[string]any{"name": name, "role": role, "apps": apps})
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); status != 201 || err != nil || tok.Token == "" {
		t.Fatalf("POST /tokens = %d %s", status, body)
	}
	return tok.Token
}

// syncGet is a JavaScript expression of the JSON answer to a GET of the
// API with the page's session, read synchronously, for until.
func syncGet(path string) string {
	return fmt.Sprintf(`(() => { const x = new XMLHttpRequest(); x.open('GET', %s, false); x.send(); return JSON.parse(x.responseText); })()`, js("/api/v1"+path))
}

// trigger starts app/task with input through the API and returns the
// run's ID.
func trigger(t *testing.T, tg *target, token, app, task string, input any) int64 {
	t.Helper()
	status, body := tg.Client(t, token, "POST", "/tasks/"+app+"/"+task+"/trigger", map[string]any{"input": input})
	var run struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &run); status != 202 || err != nil {
		t.Fatalf("triggering %s/%s = %d %s", app, task, status, body)
	}
	return run.ID
}

// untilEnded waits until run id has ended.
func untilEnded(tb *tab, id int64) {
	tb.t.Helper()
	tb.until(fmt.Sprintf("run %d ends", id), syncGet(fmt.Sprintf("/runs/%d", id))+`.status !== 'running'`)
}

// shot saves a screenshot of the page as name.png, to look at: in
// $CRONBOX_SCREENSHOTS, or cronbox-screenshots in the temporary directory.
func shot(tb *tab, name string) {
	tb.t.Helper()
	dir := os.Getenv("CRONBOX_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cronbox-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// chartsScenario: the overview and a task's charts show what the API
// computes, their bars and points lead to the runs, and they fit 1400 px
// and 400 px windows. It runs other/ping, which no other scenario runs,
// with a token scoped to other, so the numbers are its own.
func chartsScenario(t *testing.T, tb *tab, tg *target) {
	tok := newToken(t, tg, "charts", "operator", "other")
	tb.signIn(tok)
	var ids []int64
	for _, in := range []any{map[string]int{"steps": 1, "sleepMs": 10}, map[string]int{"steps": 2, "sleepMs": 60}, "not an object"} {
		id := trigger(t, tg, tok, "other", "ping", in)
		ids = append(ids, id)
		untilEnded(tb, id)
	}

	tb.do("opening the overview", navigateInApp("/"))
	tb.until("the overview shows other/ping failing", `!!document.querySelector('#failing tr[data-task="other/ping"]')`)
	if got := eval[string](tb, `document.querySelector('nav a[aria-current="page"]').dataset.section`); got != "overview" {
		t.Errorf("current nav section %q, want overview", got)
	}
	if got := textOf(tb, `#failing tr[data-task="other/ping"] td[data-label="Cause"]`); !strings.Contains(got, "reading input") {
		t.Errorf("the failing task's cause is %q; want its error line", got)
	}
	// Every bar of the hourly chart is an hour and status of the API's,
	// with its count, and the timeline has a bar for each run.
	tb.until("the hourly chart has the API's counts", `(() => {
		const api = `+syncGet("/overview")+`;
		const want = api.hours.map((x) => Date.parse(x.hour) + ' ' + x.status + ' ' + x.runs).sort();
		const got = [...document.querySelectorAll('#hourly rect[data-status]')].map((r) => Date.parse(r.dataset.hour) + ' ' + r.dataset.status + ' ' + r.dataset.runs).sort();
		const tl = api.timeline.map((p) => String(p.id)).sort();
		const bars = [...document.querySelectorAll('#timeline rect[data-run]')].map((r) => r.dataset.run).sort();
		return want.length > 0 && JSON.stringify(got) === JSON.stringify(want) && JSON.stringify(bars) === JSON.stringify(tl) &&
			api.hours.reduce((n, x) => n + x.runs, 0) === 3 && tl.length === 3;
	})()`)
	if n := countOf(tb, `#hourly-table tbody tr[data-hour]`); n == 0 {
		t.Error("the hourly chart has no table of its numbers")
	}
	if !eval[bool](tb, `(() => { const api = `+syncGet("/overview")+`; const row = document.querySelector('#slowest tr[data-task="other/ping"]');
		return !!row && api.slowest.length === 1 && row.dataset.mean === String(api.slowest[0].meanMs); })()`) {
		t.Error("the slowest list differs from the API's")
	}
	tb.visible(`#quotas tr[data-app="other"] [role="meter"]`)
	if eval[bool](tb, `document.querySelector('main').textContent.includes('demo/')`) {
		t.Error("a token scoped to other sees demo's tasks on the overview")
	}

	for _, w := range []struct {
		width, height int64
		name          string
	}{{1400, 900, "overview-1400"}, {400, 900, "overview-400"}} {
		tb.do("resizing", emulateWidth(w.width, w.height))
		tb.until("the charts fit the window", fmt.Sprintf(`(() => { const s = document.querySelector('#hourly svg'); return !!s && s.getBoundingClientRect().width <= %d && document.documentElement.scrollWidth <= window.innerWidth + 1; })()`, w.width))
		shot(tb, w.name)
	}
	tb.do("resizing", emulateWidth(1400, 900))

	// A bar leads to the runs of its hour and status.
	tb.until("the chart is drawn wide", `document.querySelector('#hourly svg').getBoundingClientRect().width > 600`)
	status := eval[string](tb, `document.querySelector('#hourly rect[data-status]').dataset.status`)
	href := eval[string](tb, `document.querySelector('#hourly a').getAttribute('href')`)
	if q := eval[map[string]string](tb, fmt.Sprintf(`Object.fromEntries(new URL(%s, location.href).searchParams)`, js(href))); q["status"] != status || q["since"] == "" || q["until"] == "" {
		t.Errorf("a bar of %s links to %s", status, href)
	}
	tb.click(`#hourly a`)
	tb.until("the bar leads to its runs", fmt.Sprintf(`location.pathname === '/runs' && new URLSearchParams(location.search).get('status') === %s`, js(status)))
	// Of its hour, not of its day: the page keeps the link's instants.
	hour := eval[map[string]string](tb, fmt.Sprintf(`Object.fromEntries(new URL(%s, location.href).searchParams)`, js(href)))
	tb.until("the runs page keeps the hour", fmt.Sprintf(`(() => { const q = new URLSearchParams(location.search); return q.get('since') === new Date(%s).toISOString() && q.get('until') === new Date(%s).toISOString(); })()`, js(hour["since"]), js(hour["until"])))

	// The task's charts: a point a run, p50 and p95 and the days as the
	// API computes them.
	tb.do("opening the task", navigateInApp("/tasks/other/ping"))
	tb.until("the charts agree with the API", `(() => {
		const api = `+syncGet("/tasks/other/ping/stats")+`;
		const pts = [...document.querySelectorAll('#duration-chart circle[data-run]')].map((c) => c.dataset.run + ':' + c.dataset.ms);
		const want = api.runs.map((r) => r.id + ':' + r.durationMs);
		const line = (k) => (document.querySelector('#duration-chart g[data-line="' + k + '"]') || {dataset: {}}).dataset.value;
		const day = api.days[api.days.length - 1];
		const ok = document.querySelector('#success-chart rect[data-succeeded][data-day="' + day.day + '"]');
		const bad = document.querySelector('#success-chart rect[data-failed][data-day="' + day.day + '"]');
		return want.length === 3 && JSON.stringify(pts) === JSON.stringify(want) &&
			line('p50') === String(api.p50Ms) && line('p95') === String(api.p95Ms) &&
			!!ok && ok.dataset.succeeded === String(day.succeeded) && bad.dataset.failed === String(day.failed) &&
			day.succeeded === 2 && day.failed === 1;
	})()`)
	tb.until("the run history shows the failure's cause", `[...document.querySelectorAll('td[data-label="Error"]')].some((td) => td.textContent.startsWith('reading input'))`)
	if got := textOf(tb, `#duration-summary`); !strings.Contains(got, "p95") {
		t.Errorf("the duration chart's summary says %q", got)
	}
	for _, w := range []struct {
		width, height int64
		name          string
	}{{1400, 900, "task-charts-1400"}, {400, 900, "task-charts-400"}} {
		tb.do("resizing", emulateWidth(w.width, w.height))
		tb.until("the charts fit the window", `document.documentElement.scrollWidth <= window.innerWidth + 1 && document.querySelector('#duration-chart svg').getBoundingClientRect().width <= window.innerWidth`)
		tb.do("showing the charts", chromedp.Evaluate[chromedp.Void](`document.querySelector('#task-charts').scrollIntoView()`))
		shot(tb, w.name)
	}
	tb.do("resizing", emulateWidth(1400, 900))
	// A point leads to its run.
	tb.until("the chart is drawn wide", `document.querySelector('#duration-chart svg').getBoundingClientRect().width > 300`)
	tb.click(fmt.Sprintf(`#duration-chart a:has(circle[data-run="%d"])`, ids[2]))
	tb.until("the point leads to its run", fmt.Sprintf(`location.pathname === '/runs/%d'`, ids[2]))
	tb.until("the run shows its cause", `!!document.querySelector('#run-cause') && document.querySelector('#run-cause').textContent.includes('reading input')`)
}

// runAgainScenario: "Run again" starts the run's task with its input.
func runAgainScenario(t *testing.T, tb *tab, tg *target) {
	input := map[string]int{"steps": 2, "sleepMs": 7}
	first := trigger(t, tg, tg.Tokens["operator"], "demo", "work", input)
	tb.signIn(tg.Tokens["operator"])
	untilEnded(tb, first)
	tb.do("opening the run", navigateInApp(fmt.Sprintf("/runs/%d", first)))
	tb.click(`#run-again`)
	tb.visible(`dialog[open] button[value="ok"]`)
	tb.click(`dialog[open] button[value="ok"]`)
	tb.until("the new run's page opens", fmt.Sprintf(`/^\/runs\/\d+$/.test(location.pathname) && location.pathname !== '/runs/%d'`, first))
	path := eval[string](tb, `location.pathname`)
	var again struct {
		ID    int64           `json:"id"`
		Input json.RawMessage `json:"input"`
		Task  string          `json:"task"`
	}
	status, body := tg.Client(t, tg.Tokens["operator"], "GET", path, nil)
	if err := json.Unmarshal(body, &again); status != 200 || err != nil {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	if string(again.Input) != `{"sleepMs":7,"steps":2}` && string(again.Input) != `{"steps":2,"sleepMs":7}` || again.Task != "work" {
		t.Errorf("the run again has input %s of task %s; want the first run's", again.Input, again.Task)
	}
	tb.until("the run again succeeds", `document.querySelector('main h1 .badge') && document.querySelector('main h1 .badge').textContent === 'succeeded'`)
	// A viewer has no such button.
	tb.click(`.who button`)
	tb.visible("#token")
	tb.signIn(tg.Tokens["viewer"])
	tb.open(fmt.Sprintf("/runs/%d", first))
	tb.until("the run shows", `!!document.querySelector('main h1 .badge')`)
	if countOf(tb, `#run-again`) != 0 {
		t.Error("a viewer sees Run again")
	}
}

// logViewerScenario: the log viewer searches, filters by level, links to
// a line, and downloads the log as the API's text.
func logViewerScenario(t *testing.T, tb *tab, tg *target) {
	ok := trigger(t, tg, tg.Tokens["operator"], "demo", "work", map[string]int{"steps": 12, "sleepMs": 5})
	tb.signIn(tg.Tokens["viewer"])
	untilEnded(tb, ok)
	tb.do("opening the run", navigateInApp(fmt.Sprintf("/runs/%d", ok)))
	tb.until("every line shows", `document.querySelectorAll('.logs li').length === 13`)
	tb.typeInto(`#log-search`, "step 1")
	tb.until("the search keeps the matching lines", `document.querySelectorAll('.logs li:not([hidden])').length === 4 && document.querySelector('#log-count').textContent === '4 of 13 lines'`)
	if got := eval[[]string](tb, `[...document.querySelectorAll('.logs li:not([hidden]) mark')].map((m) => m.textContent)`); len(got) != 4 || got[0] != "step 1" {
		t.Errorf("marked %q", got)
	}
	tb.typeInto(`#log-search`, "")
	tb.do("clearing the search", chromedp.Evaluate[chromedp.Void](`document.querySelector('#log-search').dispatchEvent(new Event('input'))`))
	tb.until("every line shows again", `document.querySelectorAll('.logs li:not([hidden])').length === 13`)

	// A line's link is its address; opening it marks the line.
	tb.click(`#L3 .log-num`)
	tb.until("the address names the line", `location.hash === '#L3' && document.querySelector('#L3').classList.contains('target')`)
	tb.open(fmt.Sprintf("/runs/%d#L5", ok))
	tb.until("the linked line is marked", `!!document.querySelector('#L5.target')`)

	// The download is the API's text: a line each, in order.
	type dl struct {
		Status      int
		Disposition string
		Text        string
	}
	got := eval[dl](tb, `fetch(document.querySelector('#log-download').href, {credentials: 'same-origin'}).then(async (r) => ({status: r.status, disposition: r.headers.get('Content-Disposition') || '', text: await r.text()}))`)
	if got.Status != 200 || !strings.Contains(got.Disposition, fmt.Sprintf("run-%d.log", ok)) {
		t.Fatalf("download: %d %q", got.Status, got.Disposition)
	}
	shown := eval[[]string](tb, `[...document.querySelectorAll('.logs li .log-msg')].map((m) => m.textContent)`)
	lines := strings.Split(strings.TrimSuffix(got.Text, "\n"), "\n")
	if len(lines) != len(shown) {
		t.Fatalf("the download has %d lines, the page %d", len(lines), len(shown))
	}
	for i := range lines {
		// The page shows a line's attributes after its message; the text
		// its message alone.
		msg := lines[i][strings.Index(lines[i], " INFO ")+len(" INFO "):]
		if !strings.HasPrefix(shown[i], msg) {
			t.Errorf("line %d: download %q, page %q", i+1, lines[i], shown[i])
		}
	}

	// The level filter: a failed run's error line alone at error level.
	bad := trigger(t, tg, tg.Tokens["operator"], "demo", "work", "not an object")
	untilEnded(tb, bad)
	tb.do("opening the failed run", navigateInApp(fmt.Sprintf("/runs/%d", bad)))
	tb.until("its lines show", `document.querySelectorAll('.logs li').length >= 1 && !!document.querySelector('.logs li.error')`)
	tb.do("choosing a level", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#log-level'); s.value = 'error'; s.dispatchEvent(new Event('change')); })()`))
	tb.until("only error lines show", `[...document.querySelectorAll('.logs li:not([hidden])')].every((li) => li.dataset.level === 'error') && document.querySelectorAll('.logs li:not([hidden])').length >= 1`)
}

// liveLogScenario: a run's page opened while the run logs steadily shows
// every line once, in order, while it runs (a line logged as the page
// opens included) and after it ends, as the store has them.
func liveLogScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["viewer"])
	for i := range 3 {
		id := trigger(t, tg, tg.Tokens["operator"], "demo", "work", map[string]int{"steps": 120, "sleepMs": 40})
		// Open the page once the run has logged, at a different moment
		// each time.
		tb.until("the run logs", fmt.Sprintf(`%s.logs.length >= %d`, syncGet(fmt.Sprintf("/runs/%d/logs?limit=1000", id)), 1+i*7))
		tb.open(fmt.Sprintf("/runs/%d", id))
		// While it runs: lines 1 to the last shown, none missing, none
		// twice, past the moment the page opened.
		tb.until("the live log has no gap while the run runs", `(() => {
			const seqs = [...document.querySelectorAll('.logs li')].map((li) => Number(li.dataset.seq));
			const badge = document.querySelector('main h1 .badge');
			return !!badge && badge.textContent === 'running' && seqs.length >= 40 && seqs.every((s, k) => s === k + 1);
		})()`)
		tb.until("the run succeeds", `document.querySelector('main h1 .badge') && document.querySelector('main h1 .badge').textContent === 'succeeded'`)
		tb.until("the page shows the stored log", fmt.Sprintf(`(() => {
			const stored = %s.logs.map((l) => l.seq + ' ' + l.message);
			const shown = [...document.querySelectorAll('.logs li')].map((li) => li.dataset.seq + ' ' + li.querySelector('.log-msg').textContent);
			return stored.length === 121 && shown.length === stored.length && shown.every((s, k) => s.startsWith(stored[k]));
		})()`, syncGet(fmt.Sprintf("/runs/%d/logs?limit=1000", id))))
		if n := countOf(tb, `.logs li.live`); n != 0 {
			t.Errorf("%d lines were never confirmed by the store", n)
		}
	}
}
