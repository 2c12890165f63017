package engine

import "container/heap"

// fireHeap orders the scheduled tasks by their next fire time.
type fireHeap []*taskState

func (h fireHeap) Len() int { return len(h) }
func (h fireHeap) Less(i, j int) bool {
	if !h[i].next.Equal(h[j].next) {
		return h[i].next.Before(h[j].next)
	}
	return h[i].key < h[j].key
}
func (h fireHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

// Push implements heap.Interface.
func (h *fireHeap) Push(x any) {
	ts := x.(*taskState)
	ts.heapIdx = len(*h)
	*h = append(*h, ts)
}

// Pop implements heap.Interface.
func (h *fireHeap) Pop() any {
	old := *h
	ts := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ts.heapIdx = -1
	return ts
}

// add puts ts in the heap if its next time is set.
func (h *fireHeap) add(ts *taskState) {
	if ts.heapIdx >= 0 || ts.next.IsZero() {
		return
	}
	heap.Push(h, ts)
}

// remove takes ts out of the heap if it is there.
func (h *fireHeap) remove(ts *taskState) {
	if ts.heapIdx < 0 {
		return
	}
	heap.Remove(h, ts.heapIdx)
}

// peek returns the task that fires first, or nil.
func (h fireHeap) peek() *taskState {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
