package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/runjson"
)

// logJSON is one log line of a run.
type logJSON struct {
	Seq     int64           `json:"seq"`
	Time    time.Time       `json:"time"`
	Level   string          `json:"level"`
	Message string          `json:"message"`
	Attrs   json.RawMessage `json:"attrs"`
}

// runDetailJSON is a run with its input, result, output and first logs.
type runDetailJSON struct {
	runjson.Run
	Input       json.RawMessage `json:"input"`
	Result      json.RawMessage `json:"result"`
	Output      string          `json:"output"`
	Logs        []logJSON       `json:"logs"`
	LogsDropped int64           `json:"logsDropped"`
	Usage       *usageJSON      `json:"usage"`
}

// runJSON is r as the API shows it in a listing, with its progress if
// this node runs it.
func (s *Server) runJSON(r store.Run) runjson.Run {
	var live *runjson.Live
	if r.Status == store.StatusRunning {
		if d, ok := s.eng.Run(r.ID); ok {
			live = &runjson.Live{Progress: d.Progress, Message: d.ProgressMessage, Overdue: d.Overdue}
		}
	}
	return runjson.Of(r, s.eng.Now(), live, s.cfg.Cluster.clustered())
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

func logsJSON(lines []store.LogLine) []logJSON {
	out := make([]logJSON, 0, len(lines))
	for _, l := range lines {
		out = append(out, logJSON{Seq: l.Seq, Time: l.Time.UTC(), Level: l.Level, Message: l.Message})
	}
	return out
}

// runStatuses are the statuses GET /runs?status= takes.
var runStatuses = []store.Status{
	store.StatusRunning, store.StatusSucceeded, store.StatusFailed, store.StatusTimedOut, store.StatusOutOfMemory,
	store.StatusTrapped, store.StatusCancelled, store.StatusInterrupted, store.StatusSkipped,
}

// parseRunQuery reads GET /runs's query into a filter; the principal's
// scope is applied by the caller.
func parseRunQuery(raw string) (store.RunFilter, string, error) {
	q, err := parseQuery(raw, "app", "task", "status", "trigger", "node", "since", "until", "q", "before", "after", "limit")
	if err != nil {
		return store.RunFilter{}, "", err
	}
	f := store.RunFilter{Task: q.str("task"), Since: q.time("since"), Until: q.time("until"), Node: q.str("node"), Text: strings.TrimSpace(q.str("q"))}
	f.BeforeID = q.int("before", 0, 1, 1<<62)
	f.AfterID = q.int("after", 0, 1, 1<<62)
	f.Limit = int(q.int("limit", store.DefaultLimit, 1, store.MaxLimit))
	if err := q.errOrNil(); err != nil {
		return store.RunFilter{}, "", err
	}
	if st := q.str("status"); st != "" {
		for _, part := range strings.Split(st, ",") {
			s := store.Status(strings.TrimSpace(part))
			if !slices.Contains(runStatuses, s) {
				return store.RunFilter{}, "", errorf(http.StatusBadRequest, "status", "status %q is not one of running, succeeded, failed, timed_out, out_of_memory, trapped, cancelled, interrupted, skipped", s)
			}
			if !slices.Contains(f.Statuses, s) {
				f.Statuses = append(f.Statuses, s)
			}
		}
	}
	if tr := q.str("trigger"); tr != "" {
		for _, part := range strings.Split(tr, ",") {
			t := store.Trigger(strings.TrimSpace(part))
			if !t.Valid() {
				return store.RunFilter{}, "", errorf(http.StatusBadRequest, "trigger", "trigger %q is not one of schedule, catch-up, manual, retry, dependency", t)
			}
			if !slices.Contains(f.Triggers, t) {
				f.Triggers = append(f.Triggers, t)
			}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return store.RunFilter{}, "", errorf(http.StatusBadRequest, "until", "until must be after since")
	}
	return f, q.str("app"), nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	f, appName, err := parseRunQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	f.Apps = p.scope()
	if appName != "" {
		f.Apps = []string{}
		if p.sees(appName) {
			f.Apps = []string{appName}
		}
	}
	runs, err := s.st.Runs.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Runs []runjson.Run `json:"runs"`
		Next *string       `json:"next"`
	}{Runs: make([]runjson.Run, 0, len(runs))}
	for _, run := range runs {
		out.Runs = append(out.Runs, s.runJSON(run))
	}
	if len(runs) > 0 && len(runs) == f.Limit {
		next := strconv.FormatInt(runs[len(runs)-1].ID, 10)
		out.Next = &next
	}
	return writeJSON(w, http.StatusOK, out)
}

// visibleRun returns the run the path names, if the principal may see it;
// otherwise a 404 (or 400 for an ID that is not one).
func (s *Server) visibleRun(r *http.Request) (*store.Run, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, errorf(http.StatusBadRequest, "id", "a run ID is a positive whole number, not %q", chi.URLParam(r, "id"))
	}
	run, err := s.st.Runs.GetRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !principalFrom(r.Context()).sees(run.App) {
		return nil, notFound("run")
	}
	return run, err
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	run, err := s.visibleRun(r)
	if err != nil {
		return err
	}
	logs, err := s.st.Runs.RunLogs(r.Context(), run.ID, 0, store.MaxLimit)
	if err != nil {
		return err
	}
	usage, err := s.runUsage(r.Context(), run)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, runDetailJSON{
		Run: s.runJSON(*run), Input: rawOrNull(run.Input), Result: rawOrNull(run.Result),
		Output: run.Output, Logs: logsJSON(logs), LogsDropped: run.LogsDropped, Usage: usage,
	})
}

func (s *Server) runLogs(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "after", "limit", "format")
	if err != nil {
		return err
	}
	after := q.int("after", 0, 0, 1<<62)
	limit := q.int("limit", store.DefaultLimit, 1, store.MaxLimit)
	if err := q.errOrNil(); err != nil {
		return err
	}
	format := q.str("format")
	if format != "" && format != "json" && format != "text" {
		return errorf(http.StatusBadRequest, "format", "format %q is not one of json, text", format)
	}
	run, err := s.visibleRun(r)
	if err != nil {
		return err
	}
	if format == "text" {
		// Every line: a download of the whole log.
		return s.writeLogText(w, r, run)
	}
	logs, err := s.st.Runs.RunLogs(r.Context(), run.ID, after, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Logs []logJSON `json:"logs"`
	}{logsJSON(logs)})
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.visibleRun(r)
	if err != nil {
		return err
	}
	if run.Status != store.StatusRunning {
		return errorf(http.StatusConflict, "", "run %d is not running: its status is %s", run.ID, run.Status)
	}
	if err := s.eng.Cancel(withActor(r), run.ID); err != nil {
		switch {
		case errors.Is(err, engine.ErrNotFound) && s.cfg.Cluster.Cancels != nil:
			// Another node runs it: that node cancels it.
			if err := s.cfg.Cluster.Cancels.RequestCancel(r.Context(), run.ID); err != nil {
				return err
			}
		case errors.Is(err, engine.ErrNotFound):
			return errorf(http.StatusConflict, "", "run %d is not running", run.ID)
		default:
			return err
		}
	}
	s.audit(r, ActionRunCancel, run.App, strconv.FormatInt(run.ID, 10), map[string]any{"task": run.App + "/" + run.Task, "status": run.Status}, nil)
	if again, err := s.st.Runs.GetRun(r.Context(), run.ID); err == nil {
		run = again
	}
	return writeJSON(w, http.StatusAccepted, s.runJSON(*run))
}

// runAgain triggers a run's task again with the run's input.
func (s *Server) runAgain(w http.ResponseWriter, r *http.Request) error {
	run, err := s.visibleRun(r)
	if err != nil {
		return err
	}
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	id, err := s.eng.Trigger(withActor(r), run.App, run.Task, run.Input, principalFrom(r.Context()).user())
	if err != nil {
		return err
	}
	s.audit(r, ActionTaskTrigger, run.App, run.App+"/"+run.Task, nil, map[string]any{"run": id, "input": rawOrNull(run.Input), "again": run.ID})
	again, err := s.st.Runs.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, s.runJSON(*again))
}
