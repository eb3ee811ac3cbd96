package store

import (
	"container/heap"
	"context"
	"sync"
)

// indexWaiters wakes goroutines waiting for the applied index to reach a
// value. Only the waiters whose index was reached are woken.
type indexWaiters struct {
	mu   sync.Mutex
	heap waiterHeap
}

type waiter struct {
	index uint64
	ch    chan struct{}
}

type waiterHeap []waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h waiterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waiterHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

// notify wakes every waiter with index <= applied.
func (w *indexWaiters) notify(applied uint64) {
	w.mu.Lock()
	for len(w.heap) > 0 && w.heap[0].index <= applied {
		close(heap.Pop(&w.heap).(waiter).ch)
	}
	w.mu.Unlock()
}

// wait blocks until current() >= index, ctx is done or stop is closed.
func (w *indexWaiters) wait(ctx context.Context, index uint64, current func() uint64, stop <-chan struct{}) error {
	if current() >= index {
		return nil
	}
	ch := make(chan struct{})
	w.mu.Lock()
	// Re-check under the lock: notify takes it after storing the index.
	if current() >= index {
		w.mu.Unlock()
		return nil
	}
	heap.Push(&w.heap, waiter{index: index, ch: ch})
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return ErrClosed
	}
}
