package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// notificationJSON is a notification as the API shows it: where it went
// and how its delivery went, without its payload (which may name a
// secret's reference or a webhook's token-bearing URL).
type notificationJSON struct {
	ID          int64      `json:"id"`
	App         string     `json:"app"`
	Task        string     `json:"task"`
	Channel     string     `json:"channel"`
	Kind        string     `json:"kind"`
	Event       string     `json:"event"`
	RunID       *int64     `json:"runId"`
	Suppressed  int        `json:"suppressed"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"lastError"`
	Created     time.Time  `json:"created"`
	NextAttempt *time.Time `json:"nextAttempt"`
	Done        *time.Time `json:"done"`
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) error {
	if s.st.Notifications == nil {
		return errorf(http.StatusNotImplemented, "", "this server keeps no notifications")
	}
	q, err := parseQuery(r.URL.RawQuery, "app", "before", "limit")
	if err != nil {
		return err
	}
	f := store.NotificationFilter{BeforeID: q.int("before", 0, 1, 1<<62), Limit: int(q.int("limit", store.DefaultLimit, 1, store.MaxLimit))}
	if err := q.errOrNil(); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	f.Apps = p.scope()
	if a := q.str("app"); a != "" {
		f.Apps = []string{}
		if p.sees(a) {
			f.Apps = []string{a}
		}
	}
	ns, err := s.st.Notifications.ListNotifications(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Notifications []notificationJSON `json:"notifications"`
		Next          *string            `json:"next"`
	}{Notifications: make([]notificationJSON, 0, len(ns))}
	for _, n := range ns {
		j := notificationJSON{
			ID: n.ID, App: n.App, Task: n.Task, Channel: n.Channel, Kind: n.Kind, Event: n.Event,
			Suppressed: n.Suppressed, Status: string(n.Status), Attempts: n.Attempts, LastError: n.LastError,
			Created: n.Created.UTC(),
		}
		if n.RunID > 0 {
			j.RunID = &n.RunID
		}
		if !n.Next.IsZero() {
			t := n.Next.UTC()
			j.NextAttempt = &t
		}
		if !n.Done.IsZero() {
			t := n.Done.UTC()
			j.Done = &t
		}
		out.Notifications = append(out.Notifications, j)
	}
	if len(ns) > 0 && len(ns) == f.Limit {
		next := strconv.FormatInt(ns[len(ns)-1].ID, 10)
		out.Next = &next
	}
	return writeJSON(w, http.StatusOK, out)
}
