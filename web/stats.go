package web

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// pointJSON is a run as a chart draws it.
type pointJSON struct {
	ID         int64      `json:"id"`
	App        string     `json:"app"`
	Task       string     `json:"task"`
	Status     string     `json:"status"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end"`
	DurationMs int64      `json:"durationMs"`
}

func pointsJSON(ps []store.RunPoint) []pointJSON {
	out := make([]pointJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, pointJSON{ID: p.ID, App: p.App, Task: p.Task, Status: string(p.Status),
			Start: p.Start.UTC(), End: utc(p.End), DurationMs: p.Duration.Milliseconds()})
	}
	return out
}

// taskStatsJSON is GET /tasks/{app}/{task}/stats.
type taskStatsJSON struct {
	Runs  []pointJSON `json:"runs"`
	P50Ms int64       `json:"p50Ms"`
	P95Ms int64       `json:"p95Ms"`
	Days  []dayJSON   `json:"days"`
}

type dayJSON struct {
	Day       string `json:"day"` // 2006-01-02, UTC
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
}

// stats returns the store's statistics, or a 501 without them.
func (s *Server) stats() (store.Stats, error) {
	if s.st.Stats == nil {
		return nil, errorf(http.StatusNotImplemented, "", "this server keeps no statistics")
	}
	return s.st.Stats, nil
}

func (s *Server) taskStats(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "runs", "days")
	if err != nil {
		return err
	}
	n := q.int("runs", store.DefaultStatsRuns, 1, store.MaxLimit)
	days := q.int("days", 14, 1, 366)
	if err := q.errOrNil(); err != nil {
		return err
	}
	info, err := s.visibleTask(r)
	if err != nil {
		return err
	}
	st, err := s.stats()
	if err != nil {
		return err
	}
	today := s.eng.Now().UTC().Truncate(24 * time.Hour)
	ts, err := st.TaskStats(r.Context(), info.Task.App, info.Task.Name, store.TaskStatsQuery{
		Runs: int(n), Since: today.AddDate(0, 0, -int(days-1)),
	})
	if err != nil {
		return err
	}
	out := taskStatsJSON{Runs: pointsJSON(ts.Runs), P50Ms: ts.P50.Milliseconds(), P95Ms: ts.P95.Milliseconds(), Days: []dayJSON{}}
	for _, d := range ts.Days {
		out.Days = append(out.Days, dayJSON{Day: d.Day.Format(time.DateOnly), Succeeded: d.Succeeded, Failed: d.Failed})
	}
	return writeJSON(w, http.StatusOK, out)
}

// overviewJSON is GET /overview.
type overviewJSON struct {
	Now           time.Time     `json:"now"`
	Since         time.Time     `json:"since"`
	TimelineSince time.Time     `json:"timelineSince"`
	Hours         []hourJSON    `json:"hours"`
	Timeline      []pointJSON   `json:"timeline"`
	Failing       []failingJSON `json:"failing"`
	Slowest       []slowJSON    `json:"slowest"`
	Late          []lateJSON    `json:"late"`
}

type hourJSON struct {
	Hour   time.Time `json:"hour"`
	Status string    `json:"status"`
	Runs   int       `json:"runs"`
}

type failingJSON struct {
	App      string    `json:"app"`
	Task     string    `json:"task"`
	Run      int64     `json:"run"`
	Status   string    `json:"status"`
	Start    time.Time `json:"start"`
	Cause    string    `json:"cause"`
	Failures int       `json:"failures"`
}

type slowJSON struct {
	App    string `json:"app"`
	Task   string `json:"task"`
	Runs   int    `json:"runs"`
	MeanMs int64  `json:"meanMs"`
	MaxMs  int64  `json:"maxMs"`
	MaxRun int64  `json:"maxRun"`
}

type lateJSON struct {
	App        string `json:"app"`
	Task       string `json:"task"`
	Scheduled  int    `json:"scheduled"`
	Late       int    `json:"late"`
	MaxDelayMs int64  `json:"maxDelayMs"`
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "hours", "timeline", "top")
	if err != nil {
		return err
	}
	hours := q.int("hours", 24, 1, 24*31)
	timeline := q.int("timeline", 3, 1, 48)
	top := q.int("top", 10, 1, 100)
	if err := q.errOrNil(); err != nil {
		return err
	}
	st, err := s.stats()
	if err != nil {
		return err
	}
	now := s.eng.Now().UTC()
	// Whole hours, so that the first bar counts a whole hour.
	since := now.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	tlSince := now.Add(-time.Duration(timeline) * time.Hour)
	o, err := st.Overview(r.Context(), store.OverviewQuery{
		Apps: principalFrom(r.Context()).scope(), Since: since, TimelineSince: tlSince, Top: int(top),
	})
	if err != nil {
		return err
	}
	out := overviewJSON{Now: now, Since: since, TimelineSince: tlSince, Hours: []hourJSON{}, Timeline: pointsJSON(o.Timeline),
		Failing: []failingJSON{}, Slowest: []slowJSON{}, Late: []lateJSON{}}
	for _, h := range o.Hours {
		out.Hours = append(out.Hours, hourJSON{Hour: h.Hour, Status: string(h.Status), Runs: h.Runs})
	}
	for _, f := range o.Failing {
		out.Failing = append(out.Failing, failingJSON{App: f.App, Task: f.Task, Run: f.RunID, Status: string(f.Status),
			Start: f.Start, Cause: f.Cause, Failures: f.Failures})
	}
	for _, x := range o.Slowest {
		out.Slowest = append(out.Slowest, slowJSON{App: x.App, Task: x.Task, Runs: x.Runs, MeanMs: x.Mean.Milliseconds(),
			MaxMs: x.Max.Milliseconds(), MaxRun: x.MaxRunID})
	}
	for _, l := range o.Late {
		out.Late = append(out.Late, lateJSON{App: l.App, Task: l.Task, Scheduled: l.Scheduled, Late: l.Late, MaxDelayMs: l.MaxDelay.Milliseconds()})
	}
	return writeJSON(w, http.StatusOK, out)
}

// writeLogText writes a run's log lines as text, a line each: time,
// level and message, a message's further lines indented by a tab.
func (s *Server) writeLogText(w http.ResponseWriter, r *http.Request, run *store.Run) error {
	lines, err := s.st.Runs.RunLogs(r.Context(), run.ID, 0, store.MaxLimit)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="run-`+strconv.FormatInt(run.ID, 10)+`.log"`)
	bw := bufio.NewWriter(w)
	var after int64
	for {
		for _, l := range lines {
			bw.WriteString(l.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			bw.WriteString(" " + strings.ToUpper(l.Level) + " ")
			bw.WriteString(strings.ReplaceAll(strings.TrimRight(l.Message, "\n"), "\n", "\n\t"))
			bw.WriteByte('\n')
			after = l.Seq
		}
		if len(lines) < store.MaxLimit {
			break
		}
		if lines, err = s.st.Runs.RunLogs(r.Context(), run.ID, after, store.MaxLimit); err != nil {
			// The answer has begun: it can only be cut short.
			panic(http.ErrAbortHandler)
		}
	}
	return bw.Flush()
}
