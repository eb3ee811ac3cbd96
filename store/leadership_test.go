package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
)

// leaderEvents records the OnLeadership calls of one node.
type leaderEvents struct {
	mu     sync.Mutex
	events []bool
	times  []time.Time
}

func (e *leaderEvents) add(leader bool, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, leader)
	e.times = append(e.times, at)
}

func (e *leaderEvents) get() ([]bool, []time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events), slices.Clone(e.times)
}

// check verifies the calls alternate starting with true, at non-decreasing
// times, and end with last (when there are any).
func (e *leaderEvents) check(want []bool) error {
	got, times := e.get()
	if !slices.Equal(got, want) {
		return fmt.Errorf("events %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != (i%2 == 0) {
			return fmt.Errorf("events %v do not alternate from true", got)
		}
		if i > 0 && times[i].Before(times[i-1]) {
			return fmt.Errorf("event %d at %v before event %d at %v", i, times[i], i-1, times[i-1])
		}
	}
	return nil
}

func TestOnLeadership(t *testing.T) {
	recs := make([]*leaderEvents, 3)
	for i := range recs {
		recs[i] = &leaderEvents{}
	}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) { cfg.OnLeadership = recs[i].add })
	first := c.WaitForLeader()
	c.Eventually(func() error {
		for _, nd := range c.Nodes() {
			want := []bool(nil)
			if nd.ID == first.ID {
				want = []bool{true}
			}
			if err := recs[nd.Index].check(want); err != nil {
				return fmt.Errorf("node %s: %w", nd.ID, err)
			}
		}
		return nil
	})

	// A transfer: the old leader is told it lost, the new one it gained.
	if err := first.Store.LeadershipTransfer(ctxT(t)); err != nil {
		t.Fatalf("LeadershipTransfer = %v", err)
	}
	second := c.WaitForNewLeader(first)
	c.Eventually(func() error {
		if err := recs[first.Index].check([]bool{true, false}); err != nil {
			return fmt.Errorf("old leader: %w", err)
		}
		return recs[second.Index].check([]bool{true})
	})

	// Closing the leader ends its leadership: its last call is false, and
	// the next leader is told it gained.
	c.Stop(second.Index)
	if err := recs[second.Index].check([]bool{true, false}); err != nil {
		t.Fatalf("closed leader: %v", err)
	}
	third := c.WaitForNewLeader(second)
	c.Eventually(func() error {
		got, _ := recs[third.Index].get()
		if len(got) == 0 || !got[len(got)-1] {
			return fmt.Errorf("new leader %s events %v, want a final true", third.ID, got)
		}
		want := []bool{true}
		if third.ID == first.ID {
			want = []bool{true, false, true}
		}
		return recs[third.Index].check(want)
	})
}
