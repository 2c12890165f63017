package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// pageKeys reads every page of q, limit at a time, and returns the keys in
// order and the totals the pages reported.
func pageKeys(t *testing.T, e *Engine, q TaskQuery) (keys []string, totals []int) {
	t.Helper()
	for range 100 {
		page, err := e.TaskPage(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range page.Tasks {
			keys = append(keys, info.Task.Key())
		}
		totals = append(totals, page.Total)
		if page.Next == "" {
			return keys, totals
		}
		q.After = page.Next
	}
	t.Fatal("no last page")
	return nil, nil
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestTaskPage(t *testing.T) {
	b := newBundle(t, Config{},
		testApp{name: "a", tasks: `tasks:
  - name: late
    schedule: "0 23 * * *"
  - name: soon
    schedule: "5 10 * * *"
  - name: never
  - name: broken
    schedule: "61 * * * *"
`, modules: map[string][]byte{"late": wasmtest.Hello(), "soon": wasmtest.Hello(), "never": wasmtest.Unreachable(), "broken": wasmtest.Hello()}},
		testApp{name: "a-b", tasks: "tasks:\n  - name: job\n    schedule: \"30 10 * * *\"\n", modules: map[string][]byte{"job": wasmtest.Hello()}},
		testApp{name: "b", tasks: "tasks:\n  - name: job\n", modules: map[string][]byte{"job": wasmtest.Hello()}},
	)
	b.start()
	e := b.engine

	byName := []string{"a/broken", "a/late", "a/never", "a/soon", "a-b/job", "b/job"}
	for _, limit := range []int{1, 2, 4, 6, 50} {
		keys, totals := pageKeys(t, e, TaskQuery{Limit: limit})
		if !slices.Equal(keys, byName) {
			t.Errorf("by name, %d a page: %v", limit, keys)
		}
		for _, n := range totals {
			if n != len(byName) {
				t.Errorf("by name, %d a page: totals %v", limit, totals)
				break
			}
		}
	}
	if keys, _ := pageKeys(t, e, TaskQuery{Limit: 4, Desc: true}); !slices.Equal(keys, reversed(byName)) {
		t.Errorf("by name reversed: %v", keys)
	}
	onlyA := func(info *TaskInfo) bool { return info.Task.App == "a" }
	if keys, totals := pageKeys(t, e, TaskQuery{Keep: onlyA, Limit: 3}); !slices.Equal(keys, byName[:4]) || !slices.Equal(totals, []int{4, 4}) {
		t.Errorf("app a: %v, totals %v", keys, totals)
	}
	// Soonest first; the tasks that will not fire by themselves last,
	// by name, in either direction.
	if keys, _ := pageKeys(t, e, TaskQuery{Order: OrderNext, Limit: 2}); !slices.Equal(keys, []string{"a/soon", "a-b/job", "a/late", "a/broken", "a/never", "b/job"}) {
		t.Errorf("by next: %v", keys)
	}
	if keys, _ := pageKeys(t, e, TaskQuery{Order: OrderNext, Desc: true, Limit: 5}); !slices.Equal(keys, []string{"a/late", "a-b/job", "a/soon", "a/broken", "a/never", "b/job"}) {
		t.Errorf("by next, latest first: %v", keys)
	}

	// A failed run puts its task first by status (after the broken one)
	// and by failures.
	if r := b.trigger("a", "never", nil); r.Status != store.StatusTrapped {
		t.Fatalf("run of never: %s", r.Status)
	}
	b.trigger("b", "job", nil)
	if keys, _ := pageKeys(t, e, TaskQuery{Order: OrderStatus}); !slices.Equal(keys, []string{"a/broken", "a/never", "b/job", "a/late", "a/soon", "a-b/job"}) {
		t.Errorf("by status: %v", keys)
	}
	if keys, _ := pageKeys(t, e, TaskQuery{Order: OrderFailures, Limit: 1}); keys[0] != "a/never" {
		t.Errorf("by failures: %v", keys)
	}
	if keys, _ := pageKeys(t, e, TaskQuery{Order: OrderDuration}); !slices.Equal(keys[2:], []string{"a/broken", "a/late", "a/soon", "a-b/job"}) {
		t.Errorf("by duration, the tasks that never ran last: %v", keys)
	}

	// A cursor is a place, not an offset: a task added before it does not
	// shift the next page.
	first, err := e.TaskPage(TaskQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	writeApp(t, b.home, testApp{name: "0", tasks: "tasks:\n  - name: first\n", modules: map[string][]byte{"first": wasmtest.Hello()}})
	if err := e.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	second, err := e.TaskPage(TaskQuery{Limit: 3, After: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Tasks) != 3 || second.Tasks[0].Task.Key() != "a/soon" || second.Total != 7 {
		t.Errorf("the page after %q once a task was added: %d tasks from %s, total %d", first.Next, len(second.Tasks), second.Tasks[0].Task.Key(), second.Total)
	}

	for _, bad := range []string{"x", "1:nokey", "one:a/b"} {
		if _, err := e.TaskPage(TaskQuery{After: bad}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("After %q: %v", bad, err)
		}
	}
	if _, err := e.TaskPage(TaskQuery{Order: "size"}); err == nil || !strings.Contains(err.Error(), "size") {
		t.Errorf("unknown order: %v", err)
	}
}

// FuzzTaskCursor checks that a cursor reads back as it was written, and
// that anything else is refused as ErrInvalidCursor.
func FuzzTaskCursor(f *testing.F) {
	for _, s := range []string{"0:a/b", "-9223372036854775808:a/b", "9223372036854775807:a-b/c", "", ":", "1:", "x:a/b", "1:a:b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := parseTaskCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if !strings.Contains(pos.key, "/") || !strings.HasSuffix(s, ":"+pos.key) {
			t.Fatalf("%q read as %+v", s, pos)
		}
	})
}
