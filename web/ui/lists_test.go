package ui_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// apiList is what GET /tasks or /runs answers, as far as the scenarios
// read it.
type apiList struct {
	Total int `json:"total"`
	Tasks []struct {
		App  string `json:"app"`
		Name string `json:"name"`
	} `json:"tasks"`
	Runs []struct {
		ID int64 `json:"id"`
	} `json:"runs"`
	Next *string `json:"next"`
}

func getList(t *testing.T, tg *target, token, path string) apiList {
	t.Helper()
	status, body := tg.Client(t, token, "GET", path, nil)
	var l apiList
	if err := json.Unmarshal(body, &l); status != 200 || err != nil {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	return l
}

// enter sets the text of an input to value, as typing it does.
func enter(tb *tab, sel, value string) {
	tb.t.Helper()
	tb.do("entering "+value+" in "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const s = document.querySelector(%s); s.value = %s; s.dispatchEvent(new Event('input')); })()`, js(sel), js(value))))
}

// choose sets a select of the page to value, as a person picking it does.
func choose(tb *tab, sel, value string) {
	tb.t.Helper()
	tb.do("choosing "+value+" in "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const s = document.querySelector(%s); s.value = %s; s.dispatchEvent(new Event('change')); })()`, js(sel), js(value))))
}

const taskRows = `document.querySelectorAll('main tbody tr[data-task]')`

// firstTask is the app/task of the first row of the list of tasks.
const firstTask = `(document.querySelector('main tbody tr[data-task]') || {dataset: {}}).dataset.task`

// manyTasks is how many tasks the app volume has in TestBrowserLists.
const manyTasks = 1500

// TestBrowserLists runs the scenarios of long lists against a server of
// its own, whose app volume has manyTasks tasks (the other scenarios'
// pages stay short).
func TestBrowserLists(t *testing.T) {
	browser, started := newBrowser(t)
	tg := startServerWith(t, manyTasks)
	started()
	listsScenario(t, newTab(t, browser, tg.URL), tg)
}

// listsScenario runs the scenarios of long lists one after the other,
// in one tab signed in as an operator: each page of 50 rows is checked
// for accessibility once, not once a scenario.
func listsScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["operator"])
	for _, sc := range []func(*testing.T, *tab, *target){manyTasksScenario, appLinkScenario, bulkDisableScenario, runsPageScenario} {
		sc(t, tb, tg)
	}
}

// manyTasksScenario: 1,505 tasks are paged 50 at a time, with the total;
// each order of the server is the list's; every app is reachable by its
// filter; the address holds the filters; rows stay one line high.
func manyTasksScenario(t *testing.T, tb *tab, tg *target) {
	viewer := tg.Tokens["viewer"]
	tb.do("opening the tasks", navigateInApp("/tasks"))
	all := getList(t, tg, viewer, "/tasks?limit=1")
	if all.Total != manyTasks+5 {
		t.Fatalf("GET /tasks total %d, want %d", all.Total, manyTasks+5)
	}
	tb.until("the first page, with the total", fmt.Sprintf(`%s.length === 50 && document.querySelector('main .count').textContent === '1–50 of 1,505 tasks' && %s === 'demo/late'`, taskRows, firstTask))

	second := getList(t, tg, viewer, "/tasks?limit=50&after="+*getList(t, tg, viewer, "/tasks?limit=50").Next)
	tb.click(`nav.pager button:nth-child(3)`)
	tb.until("the second page", fmt.Sprintf(`document.querySelector('main .count').textContent === '51–100 of 1,505 tasks' && %s === %s && location.search.includes('after=')`,
		firstTask, js(second.Tasks[0].App+"/"+second.Tasks[0].Name)))
	tb.click(`nav.pager button:nth-child(2)`)
	tb.until("back on the first page", fmt.Sprintf(`document.querySelector('main .count').textContent === '1–50 of 1,505 tasks' && %s === 'demo/late'`, firstTask))

	for _, sort := range []string{"-name", "next", "status", "failures", "duration"} {
		want := getList(t, tg, viewer, "/tasks?limit=50&sort="+sort)
		choose(tb, `select[name="sort"]`, sort)
		tb.until("the order "+sort, fmt.Sprintf(`%s === %s && %s.length === 50 && new URLSearchParams(location.search).get('sort') === %s`,
			firstTask, js(want.Tasks[0].App+"/"+want.Tasks[0].Name), taskRows, js(sort)))
	}
	choose(tb, `select[name="sort"]`, "")

	// Every app is reachable: the filter of each shows its tasks only,
	// and as many as the API counts.
	for _, a := range []string{"demo", "other", "spare", "volume"} {
		n := getList(t, tg, viewer, "/tasks?limit=1&app="+a).Total
		choose(tb, `select[name="app"]`, a)
		noun := "tasks"
		if n == 1 {
			noun = "task"
		}
		tb.until("the tasks of "+a, fmt.Sprintf(`[...%s].every((r) => r.dataset.task.startsWith(%s)) && %s.length === %d && document.querySelector('main .count').textContent.endsWith(%s)`,
			taskRows, js(a+"/"), taskRows, min(n, 50), js(fmt.Sprintf(" of %s %s", commas(n), noun))))
	}
	choose(tb, `select[name="app"]`, "")

	// The search covers app/task as shown.
	tb.typeInto(`input[name="q"]`, "volume/t149")
	tb.until("the tasks volume/t149*", fmt.Sprintf(`%s.length === 10 && [...%s].every((r) => r.dataset.task.startsWith('volume/t149')) && new URLSearchParams(location.search).get('q') === 'volume/t149'`, taskRows, taskRows))

	// One line a task at 1400 px.
	tb.typeInto(`input[name="q"]`, "demo/")
	tb.do("a wide window", emulateWidth(1400, 900))
	tb.until("demo's tasks", taskRows+`.length === 3`)
	if h := eval[float64](tb, `Math.max(...[...document.querySelectorAll('main tbody tr[data-task]')].map((r) => r.getBoundingClientRect().height))`); h > 37 {
		t.Errorf("task rows are up to %.0f px high at 1400 px, want at most 36", h)
	}
	if wraps := eval[bool](tb, `[...document.querySelectorAll('main tbody td[data-label="Next run"] > *')].some((el) => el.getClientRects().length > 1 || el.getBoundingClientRect().height > 24)`); wraps {
		t.Error("Next run wraps at 1400 px")
	}
	enter(tb, `input[name="q"]`, "")
	tb.until("every task again", fmt.Sprintf(`%s.length === 50 && %s === 'demo/late'`, taskRows, firstTask))
	tb.screenshot()
	tb.do("a narrow window", emulateWidth(400, 800))
	tb.until("the list stacks", `document.documentElement.scrollWidth <= window.innerWidth + 1`)
	tb.screenshot("narrow")
	tb.do("a wide window again", emulateWidth(1400, 900))
}

// appLinkScenario: /tasks?app=other, as the Apps page links it, shows the
// tasks of other and keeps the filter in the address.
func appLinkScenario(t *testing.T, tb *tab, tg *target) {
	tb.open("/tasks?app=other")
	tb.until("other's tasks only", fmt.Sprintf(`(document.querySelector('select[name="app"]') || {}).value === 'other' && %s.length === 1 && %s === 'other/ping'`, taskRows, firstTask))
	if q := eval[string](tb, `location.search`); q != "?app=other" {
		t.Errorf("the address is rewritten to %q", q)
	}
	// It holds once the list of apps has arrived, too.
	tb.until("the apps listed", `document.querySelectorAll('select[name="app"] option').length >= 5`)
	if v := eval[string](tb, `document.querySelector('select[name="app"]').value + location.search`); v != "other?app=other" {
		t.Errorf("after the apps arrived: %q", v)
	}
}

// bulkDisableScenario: "Disable all matching" switches off every task of
// a filter, on every page, and nothing else.
func bulkDisableScenario(t *testing.T, tb *tab, tg *target) {
	op := tg.Tokens["operator"]
	want := getList(t, tg, op, "/tasks?limit=1&app=volume&q=t14").Total
	if want < 100 {
		t.Fatalf("the filter selects %d tasks", want)
	}
	tb.open("/tasks?app=volume&q=t14")
	tb.until("the filter's first page", fmt.Sprintf(`%s.length === 50 && document.querySelector('main .count').textContent.endsWith(' of %d tasks')`, taskRows, want))
	tb.click(`.bulk button.danger`)
	tb.visible(`dialog[open] button[value="ok"]`)
	if title := textOf(tb, `dialog[open] h2`); title != fmt.Sprintf("Disable all %d matching tasks?", want) {
		t.Errorf("the dialog asks %q", title)
	}
	tb.click(`dialog[open] button[value="ok"]`)
	// The rows go off as the server's events arrive; the notice comes
	// with the answer, once every task of the filter is off.
	tb.until("the server's answer", `[...document.querySelectorAll('#notices .notice')].some((n) => n.textContent.includes(' tasks disabled ('))`)
	tb.until("the page shows them off", `[...document.querySelectorAll('main tbody tr[data-task]')].every((r) => r.classList.contains('off'))`)
	if n := getList(t, tg, op, "/tasks?limit=1&app=volume&status=disabled").Total; n != want {
		t.Errorf("%d tasks of volume are disabled, want %d", n, want)
	}
	if n := getList(t, tg, op, "/tasks?limit=1&app=volume&q=t14&status=enabled").Total; n != 0 {
		t.Errorf("%d tasks of the filter are still enabled", n)
	}
	// And back on, by the API, for the scenarios that count tasks.
	if status, body := tg.Client(t, op, "POST", "/tasks/enable", map[string]any{"filter": map[string]string{"app": "volume"}}); status != 200 {
		t.Errorf("enabling them again = %d %s", status, body)
	}
}

// runsPageScenario: reading the second page of runs while runs start and
// finish: the page stays as it is; the new runs are announced, and shown
// when asked for.
func runsPageScenario(t *testing.T, tb *tab, tg *target) {
	op := tg.Tokens["operator"]
	trigger := func(from, n int) {
		for i := from; i < from+n; i++ {
			if status, body := tg.Client(t, op, "POST", fmt.Sprintf("/tasks/volume/t%04d/trigger", i), nil); status != 202 {
				t.Fatalf("triggering volume/t%04d = %d %s", i, status, body)
			}
		}
	}
	trigger(1000, 60)
	// Wait for the 60 runs to end, through the page's own session.
	tb.until("the 60 runs ended", `(() => { fetch('/api/v1/runs?app=volume&task=&status=succeeded&limit=100', {credentials: 'same-origin'}).then((r) => r.json()).then((j) => { window.ended = j.runs.filter((r) => r.task >= 't1000' && r.task < 't1060').length; }); return window.ended === 60; })()`)
	tb.open("/runs?app=volume")
	tb.until("the first page of history", `document.querySelectorAll('main tbody tr[data-run]').length === 50 && !document.querySelector('main section:last-of-type > button').hidden`)
	tb.click(`main section:last-of-type > button`)
	tb.until("the second page below it", `document.querySelectorAll('main tbody tr[data-run]').length >= 60`)
	rows := eval[int](tb, `document.querySelectorAll('main tbody tr[data-run]').length`)
	top := eval[string](tb, `document.querySelector('main tbody tr[data-run]').dataset.run`)

	trigger(1100, 3)
	tb.until("the new runs announced", `(() => { const b = document.querySelector('.fresh button'); return b && !b.hidden && b.textContent === '3 new runs — show'; })()`)
	if n, first := eval[int](tb, `document.querySelectorAll('main tbody tr[data-run]').length`), eval[string](tb, `document.querySelector('main tbody tr[data-run]').dataset.run`); n != rows || first != top {
		t.Errorf("the page moved under the reader: %d rows from #%s, was %d from #%s", n, first, rows, top)
	}
	newest := getList(t, tg, op, "/runs?app=volume&limit=1").Runs[0].ID
	tb.click(`.fresh button`)
	tb.until("the newest runs shown", fmt.Sprintf(`document.querySelectorAll('main tbody tr[data-run]').length === 50 && document.querySelector('main tbody tr[data-run]').dataset.run === '%d' && document.querySelector('.fresh button').hidden`, newest))

	// The node a run ran on filters too, from the address: none of these
	// ran on a node of that name.
	tb.open("/runs?app=volume&node=elsewhere")
	tb.until("no run of node elsewhere", `(document.querySelector('input[name="node"]') || {}).value === 'elsewhere' && document.querySelectorAll('main tbody tr[data-run]').length === 0 && !!document.querySelector('main tbody td.empty')`)
}

// commas writes n as the UI does, with thousands separated by commas.
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
