package app

import (
	"slices"
	"strings"
)

// link adds to each task's Errors and Warnings the problems that involve
// other tasks: every After name must be a task in tasks, and the After
// graph must have no cycle (each task in one gets an error naming a cycle
// through it). A name in deleted (a task an override deleted) gives a
// warning rather than an error; so does, for a valid task, a dependency
// that has errors or is disabled. The names in tasks must be unique.
func link(tasks []Task, deleted map[string]bool) {
	index := make(map[string]int, len(tasks))
	for i := range tasks {
		index[tasks[i].Name] = i
	}
	succ := make([][]int, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		for j, name := range t.After {
			if k, ok := index[name]; ok {
				succ[i] = append(succ[i], k)
				continue
			}
			if deleted[name] {
				t.Warnings = append(t.Warnings, t.afterProblem(j, "task %q was deleted by an override, so it no longer triggers this task", name))
			} else {
				t.Errors = append(t.Errors, t.afterProblem(j, "no task %q in this app", name))
			}
		}
	}
	name := func(v int) string { return tasks[v].Name }
	for _, c := range cycles(succ) {
		t := &tasks[c.v]
		j := slices.Index(t.After, tasks[c.next].Name)
		if c.start >= 0 {
			t.Errors = append(t.Errors, t.afterProblem(j, "dependency cycle: %s", cycleString(c.path, c.start, name)))
		} else {
			t.Errors = append(t.Errors, t.afterProblem(j, "part of a dependency cycle of %d tasks, such as %s", c.size, cycleString(c.path, 0, name)))
		}
	}
	// Now that every task's errors are known: warn valid tasks about
	// triggers that will not fire.
	for i := range tasks {
		t := &tasks[i]
		if !t.Valid() {
			continue
		}
		for j, name := range t.After {
			k, ok := index[name]
			if !ok {
				continue
			}
			switch dep := &tasks[k]; {
			case !dep.Valid():
				t.Warnings = append(t.Warnings, t.afterProblem(j, "task %q has errors and will not run, so it will not trigger this task", name))
			case !dep.Enabled:
				t.Warnings = append(t.Warnings, t.afterProblem(j, "task %q is disabled, so it will not trigger this task", name))
			}
		}
	}
}

// cycleString writes the cycle path, from its vertex at index start, as
// "a → b → c → a", leaving out the middle of a long one.
func cycleString(path []int, start int, name func(int) string) string {
	const most = 10
	n := len(path)
	shown := n
	if n > most {
		shown = most - 1
	}
	parts := make([]string, 0, shown+2)
	for i := range shown {
		parts = append(parts, name(path[(start+i)%n]))
	}
	if shown < n {
		parts = append(parts, "…")
	}
	return strings.Join(append(parts, name(path[start])), " → ")
}

// maxCycleSearch is the size of the largest strongly connected component
// for which cycles finds a cycle through each vertex. Above it, one cycle
// stands for the whole component, keeping the time linear.
const maxCycleSearch = 64

// cycle is a vertex on a cycle of the graph, and a cycle to report for it.
type cycle struct {
	v     int
	next  int   // v's successor towards the cycle
	path  []int // a simple cycle, shared by the vertexes of a large component
	start int   // the index of v in path, or -1 when v is not on it
	size  int   // how many vertexes the strongly connected component has
}

// cycles returns every vertex of the graph succ that lies on a cycle,
// with a shortest cycle through it; in a strongly connected component of
// more than maxCycleSearch vertexes, with a shortest cycle through the
// component's first vertex instead, which may or may not pass through it.
func cycles(succ [][]int) []cycle {
	var out []cycle
	for _, comp := range components(succ) {
		root := comp[0]
		if len(comp) == 1 && !slices.Contains(succ[root], root) {
			continue
		}
		in := make(map[int]bool, len(comp))
		for _, v := range comp {
			in[v] = true
		}
		if len(comp) <= maxCycleSearch {
			for _, v := range comp {
				path := shortestCycle(v, succ, in)
				out = append(out, cycle{v: v, next: path[1%len(path)], path: path, size: len(comp)})
			}
			continue
		}
		path := shortestCycle(root, succ, in)
		at := make(map[int]int, len(path))
		for i, v := range path {
			at[v] = i
		}
		for _, v := range comp {
			if i, ok := at[v]; ok {
				out = append(out, cycle{v: v, next: path[(i+1)%len(path)], path: path, start: i, size: len(comp)})
				continue
			}
			next := succ[v][slices.IndexFunc(succ[v], func(w int) bool { return in[w] })]
			out = append(out, cycle{v: v, next: next, path: path, start: -1, size: len(comp)})
		}
	}
	return out
}

// shortestCycle returns a shortest cycle through v, starting with v,
// within the vertexes in, which must hold one.
func shortestCycle(v int, succ [][]int, in map[int]bool) []int {
	prev := map[int]int{v: v}
	queue := []int{v}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, w := range succ[u] {
			if w == v {
				var path []int
				for ; u != v; u = prev[u] {
					path = append(path, u)
				}
				path = append(path, v)
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[w]; !seen && in[w] {
				prev[w] = u
				queue = append(queue, w)
			}
		}
	}
	panic("app: shortestCycle called for a vertex on no cycle")
}

// components returns the strongly connected components of the graph succ
// (Tarjan's algorithm), each with its vertexes in discovery order.
func components(succ [][]int) [][]int {
	const unvisited = -1
	index := make([]int, len(succ))
	low := make([]int, len(succ))
	onStack := make([]bool, len(succ))
	for i := range index {
		index[i] = unvisited
	}
	var stack []int
	var out [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range succ[v] {
			switch {
			case index[w] == unvisited:
				visit(w)
				low[v] = min(low[v], low[w])
			case onStack[w]:
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		i := len(stack) - 1
		for stack[i] != v {
			i--
		}
		comp := slices.Clone(stack[i:])
		for _, w := range comp {
			onStack[w] = false
		}
		stack = stack[:i]
		out = append(out, comp)
	}
	for v := range succ {
		if index[v] == unvisited {
			visit(v)
		}
	}
	return out
}
