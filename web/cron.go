package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/schedule"
)

// maxNextTimes is the most fire times GET /cron/describe lists.
const maxNextTimes = 100

// cronQuery is what GET /cron/describe asks for.
type cronQuery struct {
	spec schedule.Spec
	key  string
	n    int
}

func parseCronQuery(raw string) (cronQuery, error) {
	q, err := parseQuery(raw, "expr", "tz", "timezone", "task", "n")
	if err != nil {
		return cronQuery{}, err
	}
	// tz, or timezone as tasks.yaml names it: either, or both alike.
	tz, timezone := q.str("tz"), q.str("timezone")
	if tz != "" && timezone != "" && tz != timezone {
		return cronQuery{}, errorf(http.StatusBadRequest, "timezone", "tz %q and timezone %q differ; give one", tz, timezone)
	}
	if tz == "" {
		tz = timezone
	}
	cq := cronQuery{spec: schedule.Spec{Cron: strings.TrimSpace(q.str("expr")), Timezone: tz}, key: q.str("task")}
	cq.n = int(q.int("n", 5, 0, maxNextTimes))
	if err := q.errOrNil(); err != nil {
		return cronQuery{}, err
	}
	if cq.spec.Cron == "" {
		return cronQuery{}, errorf(http.StatusBadRequest, "expr", "expr is required: a cron expression such as \"H/15 * * * *\"")
	}
	if cq.key != "" {
		a, t, ok := strings.Cut(cq.key, "/")
		if !ok || app.ValidName(a) != nil || app.ValidName(t) != nil {
			return cronQuery{}, errorf(http.StatusBadRequest, "task", "task must be APP/TASK, not %q", cq.key)
		}
	}
	return cq, nil
}

// describeCron explains a cron expression in words and lists its next
// fire times; H takes the values of the task given.
func (s *Server) describeCron(w http.ResponseWriter, r *http.Request) error {
	cq, err := parseCronQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	sched, err := schedule.Parse(cq.spec, cq.key)
	if err != nil {
		return scheduleError(err)
	}
	desc, err := schedule.Describe(cq.spec, cq.key)
	if err != nil {
		return scheduleError(err)
	}
	out := struct {
		Description string      `json:"description"`
		Next        []time.Time `json:"next"`
	}{Description: desc, Next: []time.Time{}}
	for _, t := range schedule.NextN(sched, s.eng.Now(), cq.n) {
		out.Next = append(out.Next, t.UTC())
	}
	return writeJSON(w, http.StatusOK, out)
}

// scheduleError is a 400 about the query parameter that is wrong.
func scheduleError(err error) error {
	field := "expr"
	var pe *schedule.ParseError
	if errors.As(err, &pe) && pe.Field == "timezone" {
		field = "tz"
	}
	return errorf(http.StatusBadRequest, field, "%v", err)
}
