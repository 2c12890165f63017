package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cronbox/cronbox/engine/store"
)

// ErrInvalidCursor reports a TaskQuery.After that no TaskPage returned.
var ErrInvalidCursor = errors.New("invalid cursor")

// TaskOrder is an order of TaskPage. Each puts the tasks that most need
// a look first; ties go by app, then task.
type TaskOrder string

// The orders of TaskPage.
const (
	// OrderName is by app, then task (the default).
	OrderName TaskOrder = "name"
	// OrderNext is by next fire time, soonest first; tasks that will not
	// fire by themselves come last.
	OrderNext TaskOrder = "next"
	// OrderStatus is by how the last run ended, worst first: tasks that
	// cannot run (load errors), then failures of any kind, interrupted,
	// cancelled, skipped, succeeded; tasks without a run since the
	// engine started come last.
	OrderStatus TaskOrder = "status"
	// OrderFailures is by consecutive failures, most first.
	OrderFailures TaskOrder = "failures"
	// OrderDuration is by the duration of the last run, longest first;
	// tasks without a run since the engine started come last.
	OrderDuration TaskOrder = "duration"
)

// TaskOrders are the orders TaskPage knows.
var TaskOrders = []TaskOrder{OrderName, OrderNext, OrderStatus, OrderFailures, OrderDuration}

// DefaultTaskPage is the page size of TaskPage when TaskQuery.Limit is 0.
const DefaultTaskPage = 50

// TaskQuery asks TaskPage for a page of tasks.
type TaskQuery struct {
	// Keep, if not nil, selects the tasks listed, as for TaskKeys: it
	// sees a snapshot of each task with the engine locked, must be quick
	// and must not call the engine. Nil lists every task, and is much
	// cheaper over many tasks.
	Keep func(*TaskInfo) bool
	// Order is the order of the listing; "" is OrderName.
	Order TaskOrder
	// Desc reverses the order (tasks without a value still come last).
	Desc bool
	// After is TaskPage.Next of the page before; "" starts at the top. A
	// cursor is a position in the order, not an offset: tasks added,
	// removed or moved before it do not shift the pages after it.
	After string
	// Limit is the most tasks of a page; DefaultTaskPage if 0 or less.
	Limit int
}

// TaskPage is a page of a listing of tasks.
type TaskPage struct {
	// Tasks are the page's tasks, in order.
	Tasks []TaskInfo
	// Total counts the tasks that Keep selects, on every page.
	Total int
	// Next is the cursor of the next page, "" on the last one.
	Next string
}

// taskPos is a task's position in an order: its rank, then its key.
type taskPos struct {
	rank int64
	key  string
	ts   *taskState
}

// noRank is the rank of a task without a value, after every other.
const noRank = math.MaxInt64

// statusRank orders last statuses, worst first.
var statusRank = map[store.Status]int64{
	store.StatusFailed: 1, store.StatusTimedOut: 1, store.StatusOutOfMemory: 1, store.StatusTrapped: 1,
	store.StatusInterrupted: 2, store.StatusCancelled: 3, store.StatusSkipped: 4, store.StatusSucceeded: 5,
}

// rank returns ts's rank in order o, ascending, and false for a task
// without a value.
func (o TaskOrder) rank(ts *taskState) (int64, bool) {
	switch o {
	case OrderNext:
		if ts.heapIdx < 0 {
			return 0, false
		}
		return ts.next.UnixNano(), true
	case OrderStatus:
		if ts.loadErr != "" {
			return 0, true
		}
		r, ok := statusRank[ts.lastStatus]
		return r, ok
	case OrderFailures:
		return -int64(ts.failures), true
	case OrderDuration:
		if ts.lastStatus == "" {
			return 0, false
		}
		return -int64(ts.lastDuration), true
	}
	return 0, true
}

// parseTaskCursor reads a TaskPage.Next: "<rank>:<app>/<task>".
func parseTaskCursor(s string) (taskPos, error) {
	r, key, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(r, 10, 64)
	if !ok || err != nil || !strings.Contains(key, "/") {
		return taskPos{}, fmt.Errorf("%w %q", ErrInvalidCursor, s)
	}
	return taskPos{rank: n, key: key}, nil
}

// compareKeys orders "app/task" keys by app, then task ("a/x" before
// "a-b/x").
func compareKeys(a, b string) int {
	aApp, aTask, _ := strings.Cut(a, "/")
	bApp, bTask, _ := strings.Cut(b, "/")
	return cmp.Or(cmp.Compare(aApp, bApp), cmp.Compare(aTask, bTask))
}

// TaskPage returns a page of the tasks q selects, in q's order, and how
// many there are. An After that is not a cursor returns an error wrapping
// ErrInvalidCursor.
func (e *Engine) TaskPage(q TaskQuery) (TaskPage, error) {
	if q.Order == "" {
		q.Order = OrderName
	}
	if !slices.Contains(TaskOrders, q.Order) {
		return TaskPage{}, fmt.Errorf("listing tasks: unknown order %q", q.Order)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultTaskPage
	}
	var after *taskPos
	if q.After != "" {
		pos, err := parseTaskCursor(q.After)
		if err != nil {
			return TaskPage{}, fmt.Errorf("listing tasks: %w", err)
		}
		after = &pos
	}
	dir := 1 // of the tie-break by name
	if q.Order == OrderName && q.Desc {
		dir = -1
	}
	compare := func(a, b taskPos) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), dir*compareKeys(a.key, b.key))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName == nil {
		e.byName = make([]string, 0, len(e.tasks))
		for key := range e.tasks {
			e.byName = append(e.byName, key)
		}
		slices.SortFunc(e.byName, compareKeys)
	}
	var info TaskInfo // one for all: Keep's pointer makes it escape
	kept := func(ts *taskState) bool {
		if q.Keep == nil {
			return true
		}
		info = e.taskInfoLocked(ts)
		return q.Keep(&info)
	}
	var page TaskPage
	if q.Order == OrderName && !q.Desc {
		// The kept order: no sort, and without Keep no look at the
		// tasks before the page either.
		start := 0
		if after != nil {
			start, _ = slices.BinarySearchFunc(e.byName, after.key, compareKeys)
			if start < len(e.byName) && e.byName[start] == after.key {
				start++
			}
		}
		if q.Keep == nil {
			page.Total = len(e.byName)
		} else {
			for _, key := range e.byName[:start] {
				if kept(e.tasks[key]) {
					page.Total++
				}
			}
		}
		for _, key := range e.byName[start:] {
			ts := e.tasks[key]
			if !kept(ts) {
				continue
			}
			if q.Keep != nil {
				page.Total++
			}
			if len(page.Tasks) < q.Limit {
				page.Tasks = append(page.Tasks, e.taskInfoLocked(ts))
			} else if page.Next == "" {
				page.Next = "0:" + page.Tasks[len(page.Tasks)-1].Task.Key()
				if q.Keep == nil {
					break
				}
			}
		}
		return page, nil
	}

	all := make([]taskPos, 0, len(e.tasks))
	for _, key := range e.byName {
		ts := e.tasks[key]
		if !kept(ts) {
			continue
		}
		r, ok := q.Order.rank(ts)
		switch {
		case !ok:
			r = noRank
		case q.Desc && q.Order != OrderName:
			r = -r
		}
		all = append(all, taskPos{rank: r, key: key, ts: ts})
	}
	slices.SortStableFunc(all, compare)
	page.Total = len(all)
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(all, *after, compare)
		if start < len(all) && compare(all[start], *after) == 0 {
			start++
		}
	}
	end := min(start+q.Limit, len(all))
	for _, p := range all[start:end] {
		page.Tasks = append(page.Tasks, e.taskInfoLocked(p.ts))
	}
	if end < len(all) {
		last := all[end-1]
		page.Next = strconv.FormatInt(last.rank, 10) + ":" + last.key
	}
	return page, nil
}
