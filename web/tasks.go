package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/runjson"
)

// recentRuns is how many recent runs a task shows.
const recentRuns = 20

// scheduleJSON is a task's schedule: {cron, timezone} or {at}.
type scheduleJSON struct {
	Cron     string     `json:"cron,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
	At       *time.Time `json:"at,omitempty"`
}

func scheduleOf(s app.ScheduleSpec) *scheduleJSON {
	switch {
	case s.Cron != "":
		tz := s.Timezone
		if tz == "" {
			tz = "UTC"
		}
		return &scheduleJSON{Cron: s.Cron, Timezone: tz}
	case !s.At.IsZero():
		return &scheduleJSON{At: utc(s.At)}
	}
	return nil
}

// recentJSON is one of a task's recent runs.
type recentJSON struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	DurationMs int64     `json:"durationMs"`
	Start      time.Time `json:"start"`
}

// taskJSON is a task in a listing.
type taskJSON struct {
	App            string        `json:"app"`
	Name           string        `json:"name"`
	Description    string        `json:"description"`
	Enabled        bool          `json:"enabled"`
	Schedule       *scheduleJSON `json:"schedule"`
	ScheduleText   string        `json:"scheduleText"`
	Next           *time.Time    `json:"next"`
	Running        int           `json:"running"`
	Queued         int           `json:"queued"`
	LastStatus     string        `json:"lastStatus"`
	Failures       int           `json:"failures"`
	DisabledReason string        `json:"disabledReason"`
	LoadError      string        `json:"loadError"`
	AppLoadError   string        `json:"appLoadError"`
	Custom         bool          `json:"custom"`
	Tags           []string      `json:"tags"`
	After          []string      `json:"after"`
	Recent         []recentJSON  `json:"recent"`
}

type retryJSON struct {
	Max       int   `json:"max"`
	BackoffMs int64 `json:"backoffMs"`
}

type terminationJSON struct {
	MaxRuntimeMs  int64 `json:"maxRuntimeMs"`
	KillOnTimeout bool  `json:"killOnTimeout"`
	MaxFailures   int   `json:"maxFailures"`
	HardLimitMs   int64 `json:"hardLimitMs"`
}

type limitsJSON struct {
	Memory int64 `json:"memory"`
	Output int64 `json:"output"`
	Logs   int64 `json:"logs"`
}

type retentionJSON struct {
	Keep     int   `json:"keep"`
	MaxAgeMs int64 `json:"maxAgeMs"`
}

// taskDetailJSON is one task with its whole configuration.
type taskDetailJSON struct {
	taskJSON
	Overridden  []string          `json:"overridden"`
	NextTimes   []time.Time       `json:"nextTimes"`
	LastRun     *runjson.Run      `json:"lastRun"`
	Environment map[string]string `json:"environment"`
	Module      string            `json:"module"`
	Concurrency string            `json:"concurrency"`
	Misfire     string            `json:"misfire"`
	// MisfireWindowMs is how far back a missed time still runs (run-once).
	MisfireWindowMs int64           `json:"misfireWindowMs"`
	Retry           *retryJSON      `json:"retry"`
	Retention       retentionJSON   `json:"retention"`
	Termination     terminationJSON `json:"termination"`
	Limits          limitsJSON      `json:"limits"`
}

// utc returns t in UTC, or nil for the zero time.
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// describe returns a schedule in words, "" for none or a bad one.
func describe(t app.Task) string {
	if t.Schedule.IsZero() {
		return ""
	}
	d, err := schedule.Describe(schedule.Spec{Cron: t.Schedule.Cron, Timezone: t.Schedule.Timezone, At: t.Schedule.At}, t.Key())
	if err != nil {
		return ""
	}
	return d
}

// recent returns a task's latest runs, newest first.
func (s *Server) recent(ctx context.Context, t app.Task) ([]store.Run, error) {
	return s.st.Runs.ListRuns(ctx, store.RunFilter{Apps: []string{t.App}, Task: t.Name, Limit: recentRuns})
}

func (s *Server) taskJSON(info engine.TaskInfo, runs []store.Run) taskJSON {
	t := info.Task
	out := taskJSON{
		App: t.App, Name: t.Name, Description: t.Description, Enabled: t.Enabled,
		Schedule: scheduleOf(t.Schedule), ScheduleText: describe(t), Next: utc(info.Next),
		Running: info.Running, Queued: info.Queued, LastStatus: string(info.LastStatus),
		Failures: info.Failures, DisabledReason: info.DisabledReason, LoadError: info.LoadError,
		AppLoadError: info.AppLoadError, Custom: t.Custom, Tags: nonNil(slices.Clone(t.Tags)), After: nonNil(slices.Clone(t.After)),
		Recent: make([]recentJSON, 0, len(runs)),
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		out.Recent = append(out.Recent, recentJSON{ID: r.ID, Status: string(r.Status), DurationMs: runjson.Duration(r, s.eng.Now()).Milliseconds(), Start: r.StartTime.UTC()})
	}
	if out.LastStatus == "" {
		for _, r := range runs { // newest first
			if r.Status != store.StatusRunning {
				out.LastStatus = string(r.Status)
				break
			}
		}
	}
	return out
}

func (s *Server) taskDetail(ctx context.Context, info engine.TaskInfo) (*taskDetailJSON, error) {
	t := info.Task
	runs, err := s.recent(ctx, t)
	if err != nil {
		return nil, err
	}
	next, err := s.eng.NextTimes(t.App, t.Name, 5)
	if err != nil {
		return nil, err
	}
	d := &taskDetailJSON{
		taskJSON:    s.taskJSON(info, runs),
		Overridden:  nonNil(slices.Clone(t.Overridden)),
		NextTimes:   make([]time.Time, 0, len(next)),
		Environment: t.Environment,
		Module:      s.modulePath(t),
		Concurrency: string(t.Concurrency),
		Misfire:     string(t.Misfire),
		Termination: terminationJSON{
			MaxRuntimeMs: t.MaxRuntime.Milliseconds(), KillOnTimeout: t.KillOnTimeout,
			MaxFailures: t.MaxFailures, HardLimitMs: t.HardLimit.Milliseconds(),
		},
		Limits:          limitsJSON{Memory: t.Limits.Memory, Output: t.Limits.Output, Logs: t.LogLimit},
		MisfireWindowMs: t.MisfireWindow.Milliseconds(),
		Retention:       retentionJSON{Keep: t.Retention.Keep, MaxAgeMs: t.Retention.MaxAge.Milliseconds()},
	}
	if d.Environment == nil {
		d.Environment = map[string]string{}
	}
	for _, n := range next {
		d.NextTimes = append(d.NextTimes, n.UTC())
	}
	if t.Retry.Max > 0 {
		d.Retry = &retryJSON{Max: t.Retry.Max, BackoffMs: t.Retry.Backoff.Milliseconds()}
	}
	if len(runs) > 0 {
		rj := s.runJSON(runs[0])
		d.LastRun = &rj
	}
	return d, nil
}

// modulePath is a task's module relative to its app folder.
func (s *Server) modulePath(t app.Task) string {
	if info, ok := s.eng.App(t.App); ok && info.Dir != "" && t.Module != "" {
		if rel, err := filepath.Rel(info.Dir, t.Module); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(t.Module)
}

// taskStatuses are the values of GET /tasks?status=.
var taskStatuses = []string{"enabled", "disabled", "running", "failing", "error"}

// taskQuery is what GET /tasks asks for.
type taskQuery struct {
	app, tag, status, q string
	order               engine.TaskOrder
	desc                bool
	after               string
	limit               int
}

// taskQueryParams are the parameters of GET /tasks.
var taskQueryParams = []string{"app", "tag", "status", "q", "sort", "after", "limit"}

func parseTaskQuery(raw string) (taskQuery, error) {
	q, err := parseQuery(raw, taskQueryParams...)
	if err != nil {
		return taskQuery{}, err
	}
	tq := taskQuery{app: q.str("app"), tag: q.str("tag"), status: q.str("status"), q: strings.TrimSpace(q.str("q")), after: q.str("after")}
	tq.limit = int(q.int("limit", engine.DefaultTaskPage, 1, store.MaxLimit))
	if err := q.errOrNil(); err != nil {
		return taskQuery{}, err
	}
	if tq.status != "" && !slices.Contains(taskStatuses, tq.status) {
		return taskQuery{}, errorf(http.StatusBadRequest, "status", "status must be one of %s, not %q", strings.Join(taskStatuses, ", "), tq.status)
	}
	sort := q.str("sort")
	tq.order = engine.TaskOrder(strings.TrimPrefix(sort, "-"))
	tq.desc = strings.HasPrefix(sort, "-")
	if sort != "" && !slices.Contains(engine.TaskOrders, tq.order) {
		return taskQuery{}, errorf(http.StatusBadRequest, "sort", "sort must be one of name, next, status, failures, duration, each with an optional - to reverse it, not %q", sort)
	}
	return tq, nil
}

// filters reports whether tq selects fewer than every task.
func (tq taskQuery) filters() bool {
	return tq.app != "" || tq.tag != "" || tq.status != "" || tq.q != ""
}

// containsFold reports whether sub is within s, ignoring case. A window
// is compared only when its first byte could match: a search runs over
// every task.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	first := lowerASCII(sub[0])
	for i := 0; i+len(sub) <= len(s); i++ {
		if (lowerASCII(s[i]) == first || s[i] >= 0x80) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// matchesText reports whether a task's app, name, "app/name",
// description or a tag contains text, ignoring case.
func matchesText(t *app.Task, text string) bool {
	if containsFold(t.App, text) || containsFold(t.Name, text) || containsFold(t.Description, text) {
		return true
	}
	if a, n, ok := strings.Cut(text, "/"); ok && len(t.App) >= len(a) && len(t.Name) >= len(n) &&
		strings.EqualFold(t.App[len(t.App)-len(a):], a) && strings.EqualFold(t.Name[:len(n)], n) {
		return true
	}
	return slices.ContainsFunc(t.Tags, func(tag string) bool { return containsFold(tag, text) })
}

func (tq taskQuery) matches(info *engine.TaskInfo) bool {
	t := &info.Task
	if tq.app != "" && t.App != tq.app || tq.tag != "" && !slices.Contains(t.Tags, tq.tag) {
		return false
	}
	if tq.q != "" && !matchesText(t, tq.q) {
		return false
	}
	switch tq.status {
	case "enabled": // and able to run, as the summary counts them
		return t.Enabled && !broken(info)
	case "disabled":
		return !t.Enabled && !broken(info)
	case "running":
		return info.Running > 0
	case "failing":
		return info.Failures > 0
	case "error":
		return broken(info)
	}
	return true
}

// broken reports a task that cannot run as it is: it or its app has
// errors.
func broken(info *engine.TaskInfo) bool { return info.LoadError != "" || info.AppLoadError != "" }

// keep returns the TaskQuery.Keep of the tasks that tq selects and p may
// see; nil (every task, the cheap listing) when that is all of them.
func (tq taskQuery) keep(p *principal) func(*engine.TaskInfo) bool {
	if p.apps == nil && !tq.filters() {
		return nil
	}
	return func(info *engine.TaskInfo) bool { return p.sees(info.Task.App) && tq.matches(info) }
}

// taskPageJSON is a page of GET /tasks.
type taskPageJSON struct {
	Tasks []taskJSON `json:"tasks"`
	Total int        `json:"total"`
	Next  *string    `json:"next"`
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	tq, err := parseTaskQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	page, err := s.eng.TaskPage(engine.TaskQuery{
		Keep: tq.keep(principalFrom(r.Context())), Order: tq.order, Desc: tq.desc, After: tq.after, Limit: tq.limit,
	})
	if errors.Is(err, engine.ErrInvalidCursor) {
		return errorf(http.StatusBadRequest, "after", "after must be the next of a page of tasks, not %q", tq.after)
	}
	if err != nil {
		return err
	}
	refs := make([]store.TaskRef, len(page.Tasks))
	for i, info := range page.Tasks {
		refs[i] = store.TaskRef{App: info.Task.App, Task: info.Task.Name}
	}
	runs, err := s.st.Runs.RecentRuns(r.Context(), refs, recentRuns)
	if err != nil {
		return err
	}
	byTask := make(map[store.TaskRef][]store.Run, len(refs))
	for i := 0; i < len(runs); {
		j, ref := i+1, store.TaskRef{App: runs[i].App, Task: runs[i].Task}
		for j < len(runs) && runs[j].App == ref.App && runs[j].Task == ref.Task {
			j++
		}
		byTask[ref] = runs[i:j]
		i = j
	}
	out := taskPageJSON{Tasks: make([]taskJSON, 0, len(page.Tasks)), Total: page.Total}
	for i, info := range page.Tasks {
		out.Tasks = append(out.Tasks, s.taskJSON(info, byTask[refs[i]]))
	}
	if page.Next != "" {
		out.Next = &page.Next
	}
	return writeJSON(w, http.StatusOK, out)
}

// visibleTask returns the task the path names, if the principal may see
// it; otherwise a 404.
func (s *Server) visibleTask(r *http.Request) (engine.TaskInfo, error) {
	appName, task := chi.URLParam(r, "app"), chi.URLParam(r, "task")
	if !principalFrom(r.Context()).sees(appName) {
		return engine.TaskInfo{}, notFound("task")
	}
	info, ok := s.eng.Task(appName, task)
	if !ok {
		return engine.TaskInfo{}, notFound("task")
	}
	return info, nil
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	info, err := s.visibleTask(r)
	if err != nil {
		return err
	}
	return s.writeTaskDetail(w, r, http.StatusOK, info.Task.App, info.Task.Name)
}

func (s *Server) writeTaskDetail(w http.ResponseWriter, r *http.Request, status int, appName, task string) error {
	info, ok := s.eng.Task(appName, task)
	if !ok {
		return notFound("task")
	}
	d, err := s.taskDetail(r.Context(), info)
	if err != nil {
		return err
	}
	return writeJSON(w, status, d)
}

// envName is a valid environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseSchedule reads a schedule as the API takes it: a cron expression as
// a string ("" for none), {cron, timezone} or {at}. It is checked with the
// task's key (422 naming field when bad).
func parseSchedule(raw json.RawMessage, key, field string) (app.ScheduleSpec, error) {
	var spec app.ScheduleSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return spec, errorf(http.StatusBadRequest, field, "%s must be a cron expression, {\"cron\", \"timezone\"} or {\"at\"}: %v", field, err)
	}
	if spec.IsZero() {
		return spec, nil
	}
	if _, err := schedule.Parse(schedule.Spec{Cron: spec.Cron, Timezone: spec.Timezone, At: spec.At}, key); err != nil {
		return spec, errorf(http.StatusUnprocessableEntity, field, "%v", err)
	}
	return spec, nil
}

func checkEnvironment(env map[string]string) error {
	for k := range env {
		if !envName.MatchString(k) {
			return errorf(http.StatusUnprocessableEntity, "environment", "%q is not a variable name: use letters, digits and _, not starting with a digit", k)
		}
	}
	return nil
}

var jsonNull = []byte("null")

func (s *Server) patchTask(w http.ResponseWriter, r *http.Request) error {
	info, err := s.visibleTask(r)
	if err != nil {
		return err
	}
	var body struct {
		Enabled     json.RawMessage `json:"enabled"`
		Schedule    json.RawMessage `json:"schedule"`
		Environment json.RawMessage `json:"environment"`
		Termination json.RawMessage `json:"termination"`
		Limits      json.RawMessage `json:"limits"`
		Retry       json.RawMessage `json:"retry"`
		Concurrency json.RawMessage `json:"concurrency"`
		Misfire     json.RawMessage `json:"misfire"`
		Retention   json.RawMessage `json:"retention"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	var u engine.TaskUpdate
	// The other fields are checked by the engine, as tasks.yaml's are.
	for name, v := range map[string]json.RawMessage{"termination": body.Termination, "limits": body.Limits,
		"retry": body.Retry, "concurrency": body.Concurrency, "misfire": body.Misfire, "retention": body.Retention} {
		if v != nil {
			if u.Fields == nil {
				u.Fields = make(map[string]json.RawMessage)
			}
			u.Fields[name] = v
		}
	}
	if body.Enabled != nil {
		var on bool
		if bytes.Equal(body.Enabled, jsonNull) || json.Unmarshal(body.Enabled, &on) != nil {
			return errorf(http.StatusBadRequest, "enabled", "enabled must be true or false")
		}
		u.Enabled = &on
	}
	switch {
	case body.Schedule == nil:
	case bytes.Equal(body.Schedule, jsonNull):
		u.ResetSchedule = true
	default:
		spec, err := parseSchedule(body.Schedule, info.Task.Key(), "schedule")
		if err != nil {
			return err
		}
		if u.Schedule, err = json.Marshal(spec); err != nil {
			return err
		}
	}
	switch {
	case body.Environment == nil:
	case bytes.Equal(body.Environment, jsonNull):
		u.ResetEnvironment = true
	default:
		if err := json.Unmarshal(body.Environment, &u.Environment); err != nil {
			return errorf(http.StatusBadRequest, "environment", "environment must be an object of strings")
		}
		if u.Environment == nil {
			u.Environment = map[string]string{}
		}
		if err := checkEnvironment(u.Environment); err != nil {
			return err
		}
	}
	if u.Enabled == nil && body.Schedule == nil && body.Environment == nil && u.Fields == nil {
		return errorf(http.StatusBadRequest, "", "the body changes nothing: give enabled, schedule, environment, termination, limits, retry, concurrency, misfire or retention")
	}
	if err := s.eng.UpdateTask(withActor(r), info.Task.App, info.Task.Name, u); err != nil {
		return err
	}
	s.auditTask(r, ActionTaskUpdate, &info)
	return s.writeTaskDetail(w, r, http.StatusOK, info.Task.App, info.Task.Name)
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		App         string            `json:"app"`
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Schedule    json.RawMessage   `json:"schedule"`
		Module      string            `json:"module"`
		Environment map[string]string `json:"environment"`
		Enabled     *bool             `json:"enabled"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	switch {
	case body.App == "":
		return errorf(http.StatusBadRequest, "app", "app is required")
	case body.Name == "":
		return errorf(http.StatusBadRequest, "name", "name is required")
	}
	if err := app.ValidName(body.Name); err != nil {
		return errorf(http.StatusBadRequest, "name", "%v", err)
	}
	if _, ok := s.eng.App(body.App); !ok || !principalFrom(r.Context()).sees(body.App) {
		return notFound("app")
	}
	spec := app.TaskSpec{Name: body.Name, Description: body.Description, Module: body.Module, Environment: body.Environment, Enabled: body.Enabled}
	if body.Schedule != nil && !bytes.Equal(body.Schedule, jsonNull) {
		sched, err := parseSchedule(body.Schedule, body.App+"/"+body.Name, "schedule")
		if err != nil {
			return err
		}
		if !sched.IsZero() {
			spec.Schedule = &sched
		}
	}
	if err := checkEnvironment(body.Environment); err != nil {
		return err
	}
	if err := s.eng.CreateTask(withActor(r), body.App, spec); err != nil {
		return err
	}
	if info, ok := s.eng.Task(body.App, body.Name); ok {
		s.audit(r, ActionTaskCreate, body.App, info.Task.Key(), nil, taskAudit(info))
	}
	return s.writeTaskDetail(w, r, http.StatusCreated, body.App, body.Name)
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) error {
	info, err := s.visibleTask(r)
	if err != nil {
		return err
	}
	if err := s.eng.DeleteTask(withActor(r), info.Task.App, info.Task.Name); err != nil {
		return err
	}
	s.audit(r, ActionTaskDelete, info.Task.App, info.Task.Key(), taskAudit(info), nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) triggerTask(w http.ResponseWriter, r *http.Request) error {
	info, err := s.visibleTask(r)
	if err != nil {
		return err
	}
	var body struct {
		Input json.RawMessage `json:"input"`
	}
	if err := decodeBody(w, r, &body, true); err != nil {
		return err
	}
	id, err := s.eng.Trigger(withActor(r), info.Task.App, info.Task.Name, body.Input, principalFrom(r.Context()).user())
	if err != nil {
		return err
	}
	s.audit(r, ActionTaskTrigger, info.Task.App, info.Task.Key(), nil, map[string]any{"run": id, "input": rawOrNull(body.Input)})
	run, err := s.st.Runs.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, s.runJSON(*run))
}

func (s *Server) enableTask(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		info, err := s.visibleTask(r)
		if err != nil {
			return err
		}
		if err := s.eng.SetEnabled(withActor(r), info.Task.App, info.Task.Name, on); err != nil {
			return err
		}
		action := ActionTaskDisable
		if on {
			action = ActionTaskEnable
		}
		s.auditTask(r, action, &info)
		info, ok := s.eng.Task(info.Task.App, info.Task.Name)
		if !ok {
			return notFound("task")
		}
		runs, err := s.recent(r.Context(), info.Task)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, s.taskJSON(info, runs))
	}
}

// summary counts what the principal may see, for the UI's count strip.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	var out struct {
		TasksEnabled  int `json:"tasksEnabled"`
		TasksDisabled int `json:"tasksDisabled"`
		TasksBroken   int `json:"tasksBroken"`
		Running       int `json:"running"`
		Queued        int `json:"queued"`
		Failures24h   int `json:"failures24h"`
	}
	s.eng.TaskKeys(func(info *engine.TaskInfo) bool {
		if !p.sees(info.Task.App) {
			return false
		}
		switch {
		case broken(info):
			out.TasksBroken++
		case info.Task.Enabled:
			out.TasksEnabled++
		default:
			out.TasksDisabled++
		}
		out.Running += info.Running
		out.Queued += info.Queued
		return false
	})
	failed, err := s.st.Runs.ListRuns(r.Context(), store.RunFilter{
		Apps: p.scope(), Statuses: failedStatuses, Since: s.eng.Now().Add(-24 * time.Hour), Limit: store.MaxLimit,
	})
	if err != nil {
		return err
	}
	out.Failures24h = len(failed)
	return writeJSON(w, http.StatusOK, out)
}

// failedStatuses are the statuses of runs that failed.
var failedStatuses = []store.Status{store.StatusFailed, store.StatusTimedOut, store.StatusOutOfMemory, store.StatusTrapped}

// taskAuditJSON is a task as the audit log records it: what a change to
// its override can change.
type taskAuditJSON struct {
	Enabled     bool              `json:"enabled"`
	Schedule    *scheduleJSON     `json:"schedule"`
	Environment map[string]string `json:"environment"`
}

func taskAudit(info engine.TaskInfo) taskAuditJSON {
	return taskAuditJSON{Enabled: info.Task.Enabled, Schedule: scheduleOf(info.Task.Schedule), Environment: nonNilMap(info.Task.Environment)}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// auditTask records a change to a task, before being *before and after
// the task as it is now.
func (s *Server) auditTask(r *http.Request, action string, before *engine.TaskInfo) {
	var after any
	if now, ok := s.eng.Task(before.Task.App, before.Task.Name); ok {
		after = taskAudit(now)
	}
	s.audit(r, action, before.Task.App, before.Task.Key(), taskAudit(*before), after)
}

// maxBulk is the most tasks a bulk switch names one by one.
const maxBulk = 10_000

// bulkEnable switches many tasks on or off: those named, or every task a
// filter of GET /tasks selects (of the apps the principal sees).
func (s *Server) bulkEnable(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Tasks  []string `json:"tasks"`
			Filter *struct {
				App    string `json:"app"`
				Tag    string `json:"tag"`
				Status string `json:"status"`
				Q      string `json:"q"`
			} `json:"filter"`
		}
		if err := decodeBody(w, r, &body, false); err != nil {
			return err
		}
		p := principalFrom(r.Context())
		var keys []string
		switch {
		case body.Filter != nil && body.Tasks != nil:
			return errorf(http.StatusBadRequest, "", "give tasks or filter, not both")
		case body.Filter != nil:
			tq := taskQuery{app: body.Filter.App, tag: body.Filter.Tag, status: body.Filter.Status, q: strings.TrimSpace(body.Filter.Q)}
			if tq.status != "" && !slices.Contains(taskStatuses, tq.status) {
				return errorf(http.StatusBadRequest, "filter.status", "status must be one of %s, not %q", strings.Join(taskStatuses, ", "), tq.status)
			}
			keep := tq.keep(p)
			keys = s.eng.TaskKeys(func(info *engine.TaskInfo) bool { return info.Task.Enabled != on && (keep == nil || keep(info)) })
		case len(body.Tasks) > maxBulk:
			return errorf(http.StatusBadRequest, "tasks", "at most %d tasks at once, not %d", maxBulk, len(body.Tasks))
		case body.Tasks != nil:
			for _, key := range body.Tasks {
				a, t, ok := strings.Cut(key, "/")
				if !ok || t == "" {
					return errorf(http.StatusBadRequest, "tasks", "%q is not app/task", key)
				}
				if _, found := s.eng.Task(a, t); !found || !p.sees(a) {
					return errorf(http.StatusNotFound, "tasks", "no task %s", key)
				}
				keys = append(keys, key)
			}
		default:
			return errorf(http.StatusBadRequest, "", "give tasks (a list of app/task) or filter (as GET /tasks takes it)")
		}
		before := make(map[string]engine.TaskInfo, len(keys))
		for _, key := range keys {
			a, t, _ := strings.Cut(key, "/")
			if info, ok := s.eng.Task(a, t); ok {
				before[key] = info
			}
		}
		changed, err := s.eng.SetEnabledMany(withActor(r), keys, on)
		action := ActionTaskDisable
		if on {
			action = ActionTaskEnable
		}
		for _, key := range changed {
			info := before[key]
			s.auditTask(r, action, &info)
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, struct {
			Changed []string `json:"changed"`
		}{nonNil(changed)})
	}
}
