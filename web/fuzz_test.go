package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/engine/store"
)

// patchBody is the shape of PATCH /tasks/{app}/{task}, for decoding tests.
type patchBody struct {
	Enabled     *bool             `json:"enabled"`
	Schedule    any               `json:"schedule"`
	Environment map[string]string `json:"environment"`
	Input       []int             `json:"input"`
}

// FuzzDecodeBody checks that any body gets a decoded value or a 4xx
// error of the documented kinds, never a panic or a 5xx.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"enabled":true}`), "application/json")
	f.Add([]byte(`{"enabled":true} x`), "application/json")
	f.Add([]byte(`{"nope":1}`), "application/json; charset=utf-8")
	f.Add([]byte(`[1,2]`), "application/json")
	f.Add([]byte(`{"input":[1,"x"]}`), "application/json")
	f.Add([]byte(`enabled=true`), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var v patchBody
		err := decodeBody(httptest.NewRecorder(), r, &v, false)
		if err == nil {
			if !isJSON(contentType) || len(bytes.TrimSpace(body)) == 0 {
				t.Fatalf("accepted %q as %q", body, contentType)
			}
			return
		}
		checkRefusal(t, err, body)
	})
}

// FuzzTaskQuery checks GET /tasks's query parsing.
func FuzzTaskQuery(f *testing.F) {
	for _, s := range []string{"", "app=hello&limit=5", "status=failing&sort=-next&after=0:a/b", "q=busy/fl&sort=duration", "sort=-", "sort=sleepy", "limit=0", "limit=99999999999999999999", "q=%zz", "x=1", "tag=a&tag=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tq, err := parseTaskQuery(raw)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if tq.limit < 1 || tq.limit > store.MaxLimit {
			t.Fatalf("%q: limit %d", raw, tq.limit)
		}
		if tq.order != "" && !slices.Contains(engine.TaskOrders, tq.order) {
			t.Fatalf("%q: order %q", raw, tq.order)
		}
		if tq.status != "" && !slices.Contains(taskStatuses, tq.status) {
			t.Fatalf("%q: status %q", raw, tq.status)
		}
	})
}

// FuzzRunQuery checks GET /runs's query parsing.
func FuzzRunQuery(f *testing.F) {
	for _, s := range []string{"", "status=running,failed&limit=10", "before=5", "since=2026-01-05T10:00:00Z", "since=2026-13-01", "before=-1", "status=,", "app=a&task=b", "trigger=manual,retry&q=503", "trigger=cron", "since=2026-01-05T10:00:00Z&until=2026-01-04T10:00:00Z", "after=7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		rf, _, err := parseRunQuery(raw)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field == "" && ae.Message == "" {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if rf.Limit < 1 || rf.Limit > store.MaxLimit || rf.BeforeID < 0 {
			t.Fatalf("%q: limit %d before %d", raw, rf.Limit, rf.BeforeID)
		}
		for _, s := range rf.Statuses {
			if !slices.Contains(runStatuses, s) {
				t.Fatalf("%q: status %q", raw, s)
			}
		}
	})
}

// FuzzCronQuery checks GET /cron/describe's query parsing and that what it
// accepts parses or fails with a schedule error.
func FuzzCronQuery(f *testing.F) {
	for _, s := range []string{"expr=H/5+*+*+*+*&task=a/b", "expr=0+25+*+*+*", "expr=@every+90s&n=3", "expr=*+*+*+*+*&tz=Europe/Berlin", "n=5", "expr=*&task=x", "expr=*+*+*+*+*&timezone=UTC&tz=UTC", "expr=*+*+*+*+*&timezone=UTC&tz=Europe/Berlin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cq, err := parseCronQuery(raw)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if cq.spec.Cron == "" || cq.n < 0 || cq.n > maxNextTimes {
			t.Fatalf("%q: %+v", raw, cq)
		}
		if _, err := schedule.Parse(cq.spec, cq.key); err != nil && !errors.Is(err, schedule.ErrInvalid) {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}

// checkRefusal fails a fuzz test unless err, the refusal of body, is an
// API error of a client's mistake (400, 413 or 415) with a message.
func checkRefusal(t *testing.T, err error, body []byte) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not an apiError", err, err)
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
	default:
		t.Fatalf("status %d for %q: %v", ae.Status, body, ae)
	}
	if ae.Message == "" {
		t.Fatal("error without a message")
	}
}
