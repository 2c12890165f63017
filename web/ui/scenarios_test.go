package ui_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The scenarios run against any target that has the app "demo" with the
// tasks "work" (the progress task, scheduled), "late" (the same, scheduled
// at 04:00) and "quick" (the same, one short step), the app "other" with the task "ping", and the app "spare"
// (version 0.3.0, the task "tick" and an unused module, tasks/unused.wasm)
// that a scenario uninstalls and installs again; demo's tasks carry
// hostile text in their descriptions.

type scenario struct {
	name string
	run  func(t *testing.T, tb *tab, tg *target)
}

var scenarios = []scenario{
	{"SignIn", signInScenario},
	{"TriggerAndWatchLive", triggerScenario},
	{"EditSchedule", editScheduleScenario},
	{"EditOverrides", editOverridesScenario},
	{"LateAnswerIgnored", lateAnswerScenario},
	{"DisableTask", disableScenario},
	{"StopLongRun", stopScenario},
	{"ViewerSeesNoControls", viewerScenario},
	{"AppScopedToken", scopedScenario},
	{"NarrowWindow", narrowScenario},
	{"AppLifecycle", appLifecycleScenario},
	{"Notifications", notificationsScenario},
	{"AuditLog", auditScenario},
	{"Nodes", nodesScenario},
}

// nodesScenario: the Nodes page lists the cluster's three nodes by name,
// with their states, runs against capacity and apps, markup as text; it
// fits a 1400 px and a 400 px window; a token scoped to demo sees only
// demo among the apps.
func nodesScenario(t *testing.T, tb *tab, tg *target) {
	tb.do("a wide window", emulateWidth(1400, 900))
	tb.signIn(tg.Tokens["viewer"])
	tb.click(`nav a[data-section="nodes"]`)
	tb.until("the page lists three nodes", `location.pathname === '/nodes' && document.querySelectorAll('tr[data-node]').length === 3`)
	if got := eval[[]string](tb, `[...document.querySelectorAll('tr[data-node]')].map((r) => r.dataset.node + ' ' + r.dataset.state)`); strings.Join(got, ",") != "node-a alive,node-b suspect,node-c dead" {
		t.Errorf("rows %q", got)
	}
	if got := textOf(tb, `tr[data-node="node-a"] td[data-label="Node"]`); !strings.Contains(got, "(this node)") || !strings.Contains(got, "10.0.0.1:8080") {
		t.Errorf("node-a's cell %q, want it marked as this node, with its address", got)
	}
	if got := textOf(tb, `tr[data-node="node-b"] td[data-label="Runs"]`); got != "8 of 8" {
		t.Errorf("node-b's runs %q, want 8 of 8", got)
	}
	if got := textOf(tb, `tr[data-node="node-a"] td[data-label="Apps"]`); got != "demo 1.0.0other 0.1.0" {
		t.Errorf("node-a's apps %q", got)
	}
	if got := textOf(tb, `tr[data-node="node-c"] td[data-label="Version"]`); got != "v0.9.0 <b>old</b>" || countOf(tb, `td[data-label="Version"] b`) != 0 {
		t.Errorf("node-c's version %q, or its markup became elements", got)
	}
	if got := textOf(tb, `#nodes-note`); got != "3 nodes, 1 alive." {
		t.Errorf("note %q", got)
	}
	if probs := eval[[]string](tb, a11yProblems); len(probs) > 0 {
		t.Errorf("accessibility problems on the nodes page: %v", probs)
	}
	if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
		t.Errorf("the nodes page is %d px wider than a 1400 px window", w)
	}
	tb.do("narrowing the window", emulateWidth(400, 800))
	tb.until("the navigation becomes a top bar", `(() => { const n = document.querySelector('.side').getBoundingClientRect(); return n.width > 350 && n.height < 200; })()`)
	if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
		t.Errorf("the nodes page is %d px wider than a 400 px window", w)
	}
	tb.click(`.who button`)
	tb.visible("#token")
	tb.signIn(tg.Tokens["scoped"])
	tb.open("/nodes")
	tb.until("the scoped page lists the nodes", `document.querySelectorAll('tr[data-node]').length === 3`)
	if got := textOf(tb, `tr[data-node="node-a"] td[data-label="Apps"]`); got != "demo 1.0.0" {
		t.Errorf("a token scoped to demo sees node-a's apps %q", got)
	}
	if got := textOf(tb, `tr[data-node="node-b"] td[data-label="Runs"]`); got != "8 at most" {
		t.Errorf("a token scoped to demo sees node-b's runs as %q, want its capacity only", got)
	}
}

// notificationsScenario: the Notifications page lists each message with
// its delivery, hostile error text as text; a token scoped to demo sees
// nothing of other's.
func notificationsScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["viewer"])
	tb.click(`nav a[data-section="notifications"]`)
	tb.until("the page shows", `location.pathname === '/notifications' && document.querySelectorAll('tr[data-notification]').length === 3`)
	if got := eval[string](tb, `document.querySelector('nav a[aria-current="page"]').dataset.section`); got != "notifications" {
		t.Errorf("current nav section %q", got)
	}
	rows := eval[[]string](tb, `[...document.querySelectorAll('tr[data-notification]')].map(r => r.querySelector('td[data-label="About"]').textContent + ' ' + r.querySelector('td[data-label="Delivery"]').textContent.trim())`)
	want := []string{"demo/quick failed", "other/ping pending next", "demo/work sent"}
	if len(rows) != 3 || !strings.HasPrefix(rows[0], want[0]) || !strings.HasPrefix(rows[1], want[1]) || !strings.HasPrefix(rows[2], want[2]) {
		t.Errorf("rows %q, want prefixes %q", rows, want)
	}
	if got := textOf(tb, `tr[data-notification] td[data-label="Last error"]`); got != "smtp: <b>refused</b>" {
		t.Errorf("last error %q", got)
	}
	if countOf(tb, `td[data-label="Last error"] b`) != 0 {
		t.Error("error text became markup")
	}
	// What a screen reader needs: one h1, a captioned table whose cells
	// name their column, a link to the task of each row.
	if !eval[bool](tb, `document.querySelectorAll('main h1').length === 1 && !!document.querySelector('main table caption') &&
		[...document.querySelectorAll('tr[data-notification] td')].every(td => td.dataset.label) &&
		[...document.querySelectorAll('tr[data-notification] td[data-label="About"] a')].length === 3`) {
		t.Error("the page lacks its heading, caption, cell labels or task links")
	}

	tb.click(`.who button`)
	tb.visible("#token")
	tb.signIn(tg.Tokens["scoped"])
	tb.open("/notifications")
	tb.until("the scoped list shows", `document.querySelectorAll('tr[data-notification]').length === 2`)
	if eval[bool](tb, `document.querySelector('main').textContent.includes('other')`) {
		t.Error("a token scoped to demo sees a notification of other")
	}
}

func signInScenario(t *testing.T, tb *tab, tg *target) {
	tb.open("/tasks")
	tb.typeInto("#token", "not-a-token")
	tb.click(`form.signin button[type="submit"]`)
	tb.until("the sign-in error shows", `document.querySelector('#signin-error').textContent.includes('not valid')`)

	tb.typeInto("#token", tg.Tokens["admin"])
	tb.click(`form.signin button[type="submit"]`)
	tb.visible(`tr[data-task="demo/work"]`)
	tb.visible(`tr[data-task="demo/quick"]`)
	tb.visible(`tr[data-task="other/ping"]`)
	tb.until("the count strip shows", `document.querySelectorAll('.counts .count').length >= 4`)
	tb.until("live updates connect", `document.querySelector('.live-state').dataset.state === 'live'`)
	if got := textOf(tb, `tr[data-task="demo/work"] td[data-label="Schedule"]`); got == "" {
		t.Error("demo/work shows no schedule")
	}
	if eval[bool](tb, `document.body.dataset.pwned === '1' || !!document.querySelector('img[src="x"], main script')`) {
		t.Fatal("hostile text from a task became markup")
	}

	// A reload keeps the session; signing out ends it.
	tb.open("/tasks/demo/work")
	tb.visible(`h1`)
	tb.until("the task page shows", `document.querySelector('main h1') && document.querySelector('main h1').textContent.includes('work')`)
	tb.click(`.who button`)
	tb.visible("#token")
	tb.open("/tasks")
	tb.visible("#token")
}

func triggerScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["operator"])
	tb.visible(`button[aria-label="Run now demo/work"]`)
	tb.click(`button[aria-label="Run now demo/work"]`)
	tb.visible(`dialog[open] textarea[name="input"]`)
	if !eval[bool](tb, `document.activeElement === document.querySelector('dialog[open] textarea')`) {
		t.Error("the run-now dialog does not take the focus")
	}
	// Invalid JSON keeps the dialog open with an explanation.
	tb.typeInto(`dialog[open] textarea[name="input"]`, `{steps: 8`)
	tb.click(`dialog[open] button[value="ok"]`)
	tb.until("the dialog explains the bad input", `document.querySelector('dialog[open] .field-error').textContent.includes('JSON')`)
	tb.typeInto(`dialog[open] textarea[name="input"]`, `{"steps": 8, "sleepMs": 500}`)
	tb.click(`dialog[open] button[value="ok"]`)
	tb.until("the run page opens", `/^\/runs\/\d+$/.test(location.pathname)`)
	// Progress and log lines arrive while the run is still running.
	tb.until("progress and logs arrive live",
		`document.querySelector('.run-progress progress') && document.querySelector('.run-progress progress').value > 0 &&
		 document.querySelectorAll('.logs li').length >= 3`)
	if !eval[bool](tb, `!!document.querySelector('.run-progress progress')`) {
		t.Fatal("the run finished before progress could be seen")
	}
	tb.until("the run succeeds", `document.querySelector('main h1 .badge') && document.querySelector('main h1 .badge').textContent === 'succeeded'`)
	tb.until("the result shows", `document.querySelector('#run-result') && document.querySelector('#run-result').textContent.includes('"steps": 8')`)
	tb.until("every log line is there", `[...document.querySelectorAll('.logs li')].some((li) => li.textContent.includes('step 8 of 8'))`)
	seqs := eval[[]string](tb, `[...document.querySelectorAll('.logs li')].map((li) => li.dataset.seq)`)
	seen := map[string]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Errorf("log line %s shows twice", s)
		}
		seen[s] = true
	}
	if eval[bool](tb, `document.body.dataset.pwned === '1'`) {
		t.Fatal("hostile log text became markup")
	}

	// The finished run shows what it consumed, as the API reports it.
	tb.until("the usage shows", `document.querySelectorAll('#run-usage [data-usage]').length === 8`)
	path := eval[string](tb, `location.pathname`)
	status, body := tg.Client(t, tg.Tokens["operator"], "GET", path, nil)
	var run struct {
		Usage map[string]float64 `json:"usage"`
	}
	if err := json.Unmarshal(body, &run); status != 200 || err != nil || run.Usage == nil {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	shown := eval[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('#run-usage [data-usage]')].map((d) => [d.dataset.usage, d.dataset.value]))`)
	for k, v := range run.Usage {
		if shown[k] != strconv.FormatFloat(v, 'f', -1, 64) {
			t.Errorf("usage %s: the page shows %q, the API says %v", k, shown[k], v)
		}
	}
	if run.Usage["logBytes"] <= 0 || run.Usage["cpuSeconds"] <= 0 || run.Usage["peakMemory"] <= 0 {
		t.Errorf("the run's usage %v lacks its logs, CPU time or memory", run.Usage)
	}
	if got := textOf(tb, `#run-usage [data-usage="logBytes"] dd`); !strings.HasSuffix(got, "B") {
		t.Errorf("logs usage shows %q; want a size", got)
	}
}

func editScheduleScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["admin"])
	tb.open("/tasks/demo/work")
	tb.visible(`input[name="cron"]`)
	tb.until("the schedule is described", `document.querySelector('#sched-desc').textContent.trim() !== ''`)
	before := textOf(tb, "#sched-desc")

	tb.typeInto(`input[name="cron"]`, "61 * * * *")
	tb.until("the bad field is named", `document.querySelector('#sched-error').textContent.includes('minute')`)
	if eval[string](tb, `document.querySelector('input[name="cron"]').getAttribute('aria-invalid')`) != "true" {
		t.Error("the cron field is not marked invalid")
	}

	tb.typeInto(`input[name="cron"]`, "*/5 * * * *")
	tb.until("the description follows the typing",
		fmt.Sprintf(`(() => { const d = document.querySelector('#sched-desc').textContent; return d !== %s && d.includes('5') && document.querySelector('#sched-error').textContent === '' && document.querySelectorAll('.next-times li').length > 0; })()`, js(before)))
	tb.click(`form.sched-form button[type="submit"]`)
	tb.until("the schedule is saved and marked overridden",
		`[...document.querySelectorAll('.kv.overridden dt')].some((dt) => dt.textContent.includes('Schedule'))`)
	status, body := tg.Client(t, tg.Tokens["admin"], "GET", "/tasks/demo/work", nil)
	if status != 200 || !strings.Contains(string(body), `*/5 * * * *`) {
		t.Errorf("after saving, GET the task = %d %s", status, body)
	}

	// Back to the schedule of config/tasks.yaml.
	tb.click(`button[data-action="reset-schedule"]`)
	tb.until("the default schedule is back", fmt.Sprintf(
		`document.querySelector('input[name="cron"]').value === 'H * * * *' && document.querySelector('#sched-desc').textContent === %s &&
		 ![...document.querySelectorAll('.kv.overridden dt')].some((dt) => dt.textContent.includes('Schedule'))`, js(before)))
}

// editOverridesScenario edits the limits and retry of a task of its own
// (custom, disabled: no other scenario counts it among the enabled) in the
// page, sees a bad limit refused with tasks.yaml's message, and resets the
// limits to the definition's while the retry stays overridden.
func editOverridesScenario(t *testing.T, tb *tab, tg *target) {
	if status, body := tg.Client(t, tg.Tokens["admin"], "POST", "/tasks", map[string]any{
		"app": "demo", "name": "tuned", "module": "tasks/quick.wasm", "enabled": false}); status != 201 {
		t.Fatalf("creating demo/tuned = %d %s", status, body)
	}
	tb.signIn(tg.Tokens["admin"])
	tb.open("/tasks/demo/tuned")
	tb.visible(`form[data-field="limits"] input[name="memory"]`)
	if got := eval[string](tb, `document.querySelector('form[data-field="limits"] input[name="memory"]').value`); got != "64MiB" {
		t.Errorf("the memory field shows %q, want the definition's 64MiB", got)
	}

	tb.typeInto(`form[data-field="limits"] input[name="memory"]`, "1KiB")
	tb.click(`form[data-field="limits"] button[type="submit"]`)
	tb.until("the bad limit is refused with the file's message",
		`document.querySelector('#edit-limits-error').textContent.includes('limits.memory: 1 KiB is less than one 64 KiB page')`)

	tb.typeInto(`form[data-field="limits"] input[name="memory"]`, "32MiB")
	tb.click(`form[data-field="limits"] button[type="submit"]`)
	tb.until("the limits are saved and marked overridden",
		`!!document.querySelector('form.overridden[data-field="limits"] button[data-action="reset-limits"]') &&
		 document.querySelector('form[data-field="limits"] input[name="memory"]').value === '32MiB'`)

	tb.typeInto(`form[data-field="retry"] input[name="max"]`, "2")
	tb.typeInto(`form[data-field="retry"] input[name="backoff"]`, "5s")
	tb.click(`form[data-field="retry"] button[type="submit"]`)
	tb.until("the retry is saved and marked overridden", `!!document.querySelector('form.overridden[data-field="retry"]')`)
	status, body := tg.Client(t, tg.Tokens["admin"], "GET", "/tasks/demo/tuned", nil)
	if status != 200 || !strings.Contains(string(body), `"overridden":["limits","retry"]`) || !strings.Contains(string(body), `"memory":33554432`) ||
		!strings.Contains(string(body), `"retry":{"max":2,"backoffMs":5000}`) {
		t.Errorf("after saving, GET the task = %d %s", status, body)
	}

	tb.click(`button[data-action="reset-limits"]`)
	tb.until("the limits follow the file again",
		`!document.querySelector('form.overridden[data-field="limits"]') && !!document.querySelector('form.overridden[data-field="retry"]') &&
		 document.querySelector('form[data-field="limits"] input[name="memory"]').value === '64MiB'`)
	status, body = tg.Client(t, tg.Tokens["admin"], "GET", "/tasks/demo/tuned", nil)
	if status != 200 || !strings.Contains(string(body), `"overridden":["retry"]`) || !strings.Contains(string(body), `"memory":67108864`) {
		t.Errorf("after the reset, GET the task = %d %s", status, body)
	}
}

// lateAnswerScenario has the server answer a task page's load after the
// answer to a later save: the page must keep showing what was saved.
func lateAnswerScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["admin"])
	tb.open("/tasks/demo/late")
	tb.visible(`input[name="cron"]`)
	tb.until("the schedule is described", `document.querySelector('#sched-desc').textContent.trim() !== ''`)
	loads := `performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/v1/tasks/demo/late')).length`
	eval[bool](tb, `performance.setResourceTimingBufferSize(100000) || true`)

	// A change from elsewhere makes the page load the task again; the
	// answer to that load, made now, is held back.
	computed, release := tg.Hold("/api/v1/tasks/demo/late")
	defer release()
	if status, body := tg.Client(t, tg.Tokens["admin"], "PATCH", "/tasks/demo/late", map[string]any{"schedule": "5 4 * * *"}); status != 200 {
		t.Fatalf("PATCH from elsewhere = %d %s", status, body)
	}
	select {
	case <-computed:
	case <-time.After(wait):
		t.Fatal("the page did not load the task after it changed")
	}
	before := eval[int](tb, loads)

	// A save in the page, answered before that load.
	tb.typeInto(`input[name="cron"]`, "10 4 * * *")
	tb.click(`form.sched-form button[type="submit"]`)
	tb.until("the save shows", `[...document.querySelectorAll('.kv dd')].some((dd) => dd.textContent.startsWith('10 4 * * *'))`)

	release()
	// The page is busy until it has handled every answer of its loads.
	tb.until("the held answer has arrived and been handled", fmt.Sprintf(`%s > %d && !document.querySelector('[aria-busy="true"]')`, loads, before))
	// The old answer must not replace what the page shows.
	if v := eval[string](tb, `document.querySelector('input[name="cron"]').value + ' | ' + [...document.querySelectorAll('.kv dd')].map((dd) => dd.textContent).find((s) => s.includes('* *'))`); v != "10 4 * * * | 10 4 * * * (UTC)" {
		t.Fatalf("after the late answer the page shows %q; want the saved schedule", v)
	}
}

func disableScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["operator"])
	sw := `input[aria-label="Enabled: demo/quick"]`
	tb.visible(sw)
	if !eval[bool](tb, fmt.Sprintf(`document.querySelector(%s).checked`, js(sw))) {
		t.Fatal("demo/quick starts disabled")
	}
	enabledBefore := eval[string](tb, `document.querySelector('.counts .count').textContent`)
	tb.click(sw)
	tb.until("the row shows the task disabled", `document.querySelector('tr[data-task="demo/quick"]').classList.contains('off')`)
	tb.until("the count strip follows", fmt.Sprintf(`document.querySelector('.counts .count').textContent !== %s`, js(enabledBefore)))
	// A disabled task may still be run by hand, and the button says that
	// the run leaves it disabled.
	run := `document.querySelector('tr[data-task="demo/quick"] button[data-fk="run-demo/quick"]')`
	tb.until("the run button of a disabled task says what it does", run+`.textContent === 'Run once' && `+run+`.getAttribute('aria-label') === 'Run once demo/quick' && `+run+`.title.includes('stays disabled')`)
	status, body := tg.Client(t, tg.Tokens["operator"], "GET", "/tasks/demo/quick", nil)
	var task struct{ Enabled bool }
	if err := json.Unmarshal(body, &task); status != 200 || err != nil || task.Enabled {
		t.Errorf("after the switch, GET the task = %d %s", status, body)
	}
	// Turn it back on, for the scenarios after this one.
	tb.click(sw)
	tb.until("the row shows the task enabled", `!document.querySelector('tr[data-task="demo/quick"]').classList.contains('off')`)
	tb.until("the run button is Run now again", run+`.textContent === 'Run now' && `+run+`.title === ''`)
}

func stopScenario(t *testing.T, tb *tab, tg *target) {
	status, body := tg.Client(t, tg.Tokens["operator"], "POST", "/tasks/demo/work/trigger", map[string]any{"input": map[string]int{"steps": 600, "sleepMs": 100}})
	var run struct{ ID int64 }
	if err := json.Unmarshal(body, &run); status != 202 || err != nil || run.ID == 0 {
		t.Fatalf("triggering a long run = %d %s", status, body)
	}
	tb.signIn(tg.Tokens["operator"])
	tb.open("/runs")
	card := fmt.Sprintf(`.run-card[data-run="%d"]`, run.ID)
	tb.visible(card)
	first := textOf(tb, card+" .elapsed")
	tb.until("the elapsed time ticks", fmt.Sprintf(`document.querySelector(%s).textContent !== %s`, js(card+" .elapsed"), js(first)))
	tb.until("progress arrives", fmt.Sprintf(`document.querySelector(%s).value > 0`, js(card+" progress")))

	stop := fmt.Sprintf(`button[aria-label="Stop run #%d"]`, run.ID)
	// Cancelling the dialog leaves the run alone.
	tb.click(stop)
	tb.visible(`dialog[open] button[value="cancel"]`)
	tb.click(`dialog[open] button[value="cancel"]`)
	tb.until("the dialog closes", `!document.querySelector('dialog[open]')`)
	tb.visible(card)

	tb.click(stop)
	tb.visible(`dialog[open] button[value="ok"]`)
	tb.click(`dialog[open] button[value="ok"]`)
	tb.until("the run leaves the running list", fmt.Sprintf(`!document.querySelector(%s)`, js(card)))
	tb.until("the history shows it cancelled", fmt.Sprintf(
		`(() => { const r = document.querySelector('tbody tr[data-run="%d"] .badge'); return r && r.textContent === 'cancelled'; })()`, run.ID))
}

func viewerScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["viewer"])
	tb.visible(`tr[data-task="demo/work"]`)
	for _, sel := range []string{"input.switch", `button[data-fk^="run-"]`} {
		if n := countOf(tb, sel); n != 0 {
			t.Errorf("a viewer sees %d %s on the tasks page", n, sel)
		}
	}
	tb.open("/tasks/demo/work")
	tb.until("the task page shows", `document.querySelector('#sched-desc') !== null`)
	for _, sel := range []string{"input.switch", `input[name="cron"]`, "form.sched-form", "button.primary"} {
		if n := countOf(tb, sel); n != 0 {
			t.Errorf("a viewer sees %d %s on the task page", n, sel)
		}
	}
	tb.open("/apps")
	tb.visible(`tr[data-app="demo"]`)
	if n := countOf(tb, "input.switch"); n != 0 {
		t.Errorf("a viewer sees %d switches on the apps page", n)
	}
	for _, sel := range []string{"form.install-form", `input[type="file"]`, `button[aria-label^="Uninstall"]`, `a[aria-label^="Export"]`} {
		if n := countOf(tb, sel); n != 0 {
			t.Errorf("a viewer sees %d %s on the apps page", n, sel)
		}
	}
	// A viewer may see an app's validation.
	tb.click(`button[aria-label="Validation of demo"]`)
	tb.until("demo's validation shows", `(() => { const v = document.querySelector('.validation[data-app="demo"]'); return v && v.dataset.state === 'ok' && v.textContent.includes('No problems found'); })()`)
	if got := apiStatus(tb, "DELETE", "/api/v1/apps/demo", true); got != 403 {
		t.Errorf("a viewer's uninstall = %d, want 403", got)
	}
	if got := apiStatus(tb, "GET", "/api/v1/apps/demo/export", false); got != 403 {
		t.Errorf("a viewer's export = %d, want 403", got)
	}
	// The server refuses what the UI does not offer.
	if got := apiStatus(tb, "POST", "/api/v1/tasks/demo/work/trigger", true); got != 403 {
		t.Errorf("a viewer's trigger = %d, want 403", got)
	}
	if got := apiStatus(tb, "POST", "/api/v1/tasks/demo/work/disable", true); got != 403 {
		t.Errorf("a viewer's disable = %d, want 403", got)
	}
}

func scopedScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["scoped"])
	tb.visible(`tr[data-task="demo/work"]`)
	if n := countOf(tb, `tr[data-task^="other/"]`); n != 0 {
		t.Errorf("a token of app demo sees %d tasks of app other", n)
	}
	tb.open("/apps")
	tb.visible(`tr[data-app="demo"]`)
	if n := countOf(tb, `tr[data-app="other"]`); n != 0 {
		t.Error("a token of app demo sees app other")
	}
	tb.open("/tasks/other/ping")
	tb.until("the other app's task is not found", `document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Task not found'`)
	if got := apiStatus(tb, "GET", "/api/v1/tasks/other/ping", false); got != 404 {
		t.Errorf("GET another app's task = %d, want 404", got)
	}
	// Without the CSRF header, a cookie-authenticated change is refused.
	if got := apiStatus(tb, "POST", "/api/v1/tasks/demo/quick/disable", false); got != 403 {
		t.Errorf("a change without the CSRF header = %d, want 403", got)
	}
}

func narrowScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["admin"])
	tb.visible(`tr[data-task="demo/work"]`)
	tb.do("narrowing the window", emulateWidth(400, 800))
	tb.until("the navigation becomes a top bar", `(() => { const n = document.querySelector('.side').getBoundingClientRect(); return n.width > 350 && n.height < 200; })()`)
	for _, path := range []string{"/tasks", "/runs", "/tasks/demo/work", "/instances", "/apps"} {
		tb.do("following the link", navigateInApp(path))
		tb.until(path+" renders", `document.querySelector('main#main h1') !== null`)
		if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
			t.Errorf("%s: the page is %d px wider than a 400 px window", path, w)
		}
	}
}

// download is what fetching an app's export in the page gave.
type download struct {
	Status      int
	Type        string
	Disposition string
	Data        string // base64
}

func appLifecycleScenario(t *testing.T, tb *tab, tg *target) {
	tb.signIn(tg.Tokens["admin"])
	tb.open("/apps")
	tb.visible(`tr[data-app="spare"]`)
	tb.visible(`form.install-form input[type="file"]`)
	// Each app shows what its key-value store and its history hold
	// against their quotas (other's history holds the runs another
	// scenario makes).
	if got := textOf(tb, `tr[data-app="other"] td[data-label="Storage"]`); !regexp.MustCompile(`^KV 0 B of 256 MiBHistory \d+ B of 1\.0 GiB$`).MatchString(got) {
		t.Errorf("storage of other: %q", got)
	}

	// Export: the link downloads the archive with the session cookie.
	href := eval[string](tb, `document.querySelector('a[aria-label="Export spare"]').getAttribute('href')`)
	dl := eval[download](tb, fmt.Sprintf(`fetch(%s, {credentials: 'same-origin'}).then(async (r) => {
		const b = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
		return {status: r.status, type: r.headers.get('Content-Type'), disposition: r.headers.get('Content-Disposition'), data: btoa(s)};
	})`, js(href)))
	if dl.Status != 200 || dl.Type != "application/zip" || !strings.HasPrefix(dl.Disposition, "attachment") || !strings.Contains(dl.Disposition, "spare-v0.3.0-") {
		t.Fatalf("downloading %s: %d %q %q", href, dl.Status, dl.Type, dl.Disposition)
	}
	archive, err := base64.StdEncoding.DecodeString(dl.Data)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("the export is not a zip archive: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "spare/app.yaml spare/config/tasks.yaml spare/tasks/tick.wasm spare/tasks/unused.wasm MANIFEST.json" {
		t.Errorf("the export holds %s", got)
	}
	dir := t.TempDir()
	exported := filepath.Join(dir, "spare.zip")
	notZip := filepath.Join(dir, "notes.zip")
	invalid := filepath.Join(dir, "invalid.zip")
	writeFile(t, exported, archive)
	writeFile(t, notZip, []byte("these are notes, not an archive"))
	writeFile(t, invalid, zipOf(t, map[string]string{
		"spare/app.yaml":          "name: spare\n",
		"spare/config/tasks.yaml": "tasks:\n  - name: tick\n    schedule: \"61 * * * *\"\n",
	}))

	// Uninstall through the dialog, purging the app's data.
	tb.click(`button[aria-label="Uninstall spare"]`)
	tb.visible(`dialog[open] input[name="purge"]`)
	tb.click(`dialog[open] input[name="purge"]`)
	tb.click(`dialog[open] button[value="ok"]`)
	tb.until("spare leaves the list", `!document.querySelector('tr[data-app="spare"]') && !!document.querySelector('tr[data-app="demo"]')`)
	if status, body := tg.Client(t, tg.Tokens["admin"], "GET", "/apps", nil); status != 200 || strings.Contains(string(body), `"spare"`) {
		t.Errorf("after uninstalling, GET /apps = %d %s", status, body)
	}

	// What is not an archive, and an app with errors, are refused with
	// the reasons.
	install := func(file string) {
		t.Helper()
		tb.do("choosing "+file, chromedp.SetUploadFiles(chromedp.CSS(`form.install-form input[type="file"]`), []string{file}))
		tb.click(`form.install-form button[type="submit"]`)
	}
	install(notZip)
	tb.until("the refusal shows", `(() => { const r = document.querySelector('.install-result'); return r.dataset.state === 'error' && r.textContent.includes('archive refused'); })()`)
	install(invalid)
	tb.until("the findings show", `(() => { const r = document.querySelector('.install-result'); return r.dataset.state === 'error' &&
		[...r.querySelectorAll('.finding.error')].some((li) => li.textContent.includes('config/tasks.yaml:3') && li.textContent.includes('61')); })()`)
	if n := countOf(tb, `tr[data-app="spare"]`); n != 0 {
		t.Fatal("a refused archive installed spare")
	}

	// Installing the export brings the app back.
	install(exported)
	tb.until("the install succeeds", `(() => { const r = document.querySelector('.install-result'); return r.dataset.state === 'ok' && r.textContent.includes('Installed spare 0.3.0') && r.textContent.includes('tasks/unused.wasm'); })()`)
	tb.until("spare is back and ok", `(() => { const b = document.querySelector('tr[data-app="spare"] td[data-label="Status"] .badge'); return b && b.textContent === 'ok'; })()`)
	tb.click(`button[aria-label="Validation of spare"]`)
	tb.until("its validation shows", `(() => { const v = document.querySelector('.validation[data-app="spare"]'); return v && v.dataset.state === 'ok' &&
		[...v.querySelectorAll('.finding.warning')].some((li) => li.textContent.includes('tasks/unused.wasm')); })()`)
	if eval[string](tb, `document.querySelector('button[data-fk="validate-spare"]').getAttribute('aria-expanded')`) != "true" {
		t.Error("the validation button does not say it is expanded")
	}
	status, body := tg.Client(t, tg.Tokens["admin"], "GET", "/tasks/spare/tick", nil)
	if status != 200 {
		t.Errorf("after installing again, GET /tasks/spare/tick = %d %s", status, body)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// zipOf is an archive of the files, by name.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// a11yProblems is a check, in the page, of what a screen reader needs of
// the view: every control and link has a name, every table a caption,
// every image a text, one h1, no ID twice.
const a11yProblems = `(() => {
  const out = [];
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) return true;
    if (el.closest('label')) return true;
    if (el.title && el.title.trim()) return true;
    return !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.textContent.trim() !== '';
  };
  for (const el of document.querySelectorAll('main a, main button, main input, main select, main textarea, nav a')) {
    if (el.type !== 'hidden' && !named(el)) out.push('no name: ' + el.outerHTML.slice(0, 80));
  }
  for (const t of document.querySelectorAll('main table')) if (!t.querySelector('caption')) out.push('a table without a caption');
  for (const i of document.querySelectorAll('main img')) if (!i.hasAttribute('alt')) out.push('an image without alt');
  if (document.querySelectorAll('main h1').length !== 1) out.push(document.querySelectorAll('main h1').length + ' h1 elements');
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) out.push('id twice: ' + id);
  if (!document.documentElement.lang) out.push('no lang on html');
  return out;
})()`

func auditScenario(t *testing.T, tb *tab, tg *target) {
	// Changes that leave what the other scenarios watch alone: an
	// environment variable of demo/quick and of other/ping.
	for _, path := range []string{"/tasks/other/ping", "/tasks/demo/quick"} {
		if status, body := tg.Client(t, tg.Tokens["admin"], "PATCH", path, map[string]any{"environment": map[string]string{"AUDITED": "yes"}}); status != 200 {
			t.Fatalf("PATCH %s = %d %s", path, status, body)
		}
	}
	// A viewer has no Audit page.
	tb.signIn(tg.Tokens["viewer"])
	if n := countOf(tb, `nav a[href="/audit"]`); n != 0 {
		t.Error("a viewer sees the Audit link")
	}
	signOut := func() {
		tb.click(`.who button`)
		tb.visible("#token")
	}
	signOut()
	tb.signIn(tg.Tokens["admin"])
	tb.click(`nav a[href="/audit"]`)
	tb.until("the audit page lists the changes", `document.querySelectorAll('tr[data-action="task.update"]').length >= 2`)
	row := `tr[data-action="task.update"]`
	if got := textOf(tb, row+` td[data-label="Actor"]`); !strings.Contains(got, "token:admin") {
		t.Errorf("the newest change's actor shows %q, want token:admin", got)
	}
	if got := textOf(tb, row+` td[data-label="Change"]`); !strings.Contains(got, `"AUDITED":"yes"`) {
		t.Errorf("the change shows %q, want the environment after", got)
	}
	if probs := eval[[]string](tb, a11yProblems); len(probs) > 0 {
		t.Errorf("accessibility problems on the audit page: %v", probs)
	}
	// Filtering by app leaves the other app's entries out.
	tb.until("the app filter has other", `[...document.querySelectorAll('select[name="app"] option')].some((o) => o.value === 'other')`)
	tb.do("filtering by app", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('select[name="app"]'); s.value = 'other'; s.dispatchEvent(new Event('change')); })()`))
	tb.until("only other's entries show", `(() => { const cells = [...document.querySelectorAll('td[data-label="App"]')]; return cells.length >= 1 && cells.every((c) => c.textContent === 'other'); })()`)

	// A token scoped to demo sees demo's entries only.
	signOut()
	tb.signIn(tg.Tokens["scoped-admin"])
	tb.open("/audit")
	tb.until("the scoped audit page lists demo's change", `document.querySelectorAll('tr[data-action="task.update"]').length >= 1`)
	if got := eval[[]string](tb, `[...document.querySelectorAll('td[data-label="App"]')].map((c) => c.textContent)`); len(got) == 0 || strings.Contains(strings.Join(got, ","), "other") {
		t.Errorf("a token scoped to demo sees entries of %v", got)
	}
}
