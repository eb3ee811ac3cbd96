package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/store"
)

// TestAwaitApplied checks that AwaitApplied returns only once every member
// has applied the index (asked from a follower: the node that answered a
// forwarded write), and that a stopped member is reported as pending when
// the context ends.
func TestAwaitApplied(t *testing.T) {
	c := newCluster(t, 3, nil, nil)
	leader := c.WaitForLeader()
	var follower *store.Store
	for _, nd := range followers(c, leader) {
		follower = nd.Store
		break
	}
	for i := range 20 {
		idx := put(t, follower, "k", string(rune('a'+i)))
		if pending, err := follower.AwaitApplied(ctxT(t), idx); err != nil || pending != nil {
			t.Fatalf("AwaitApplied(%d) = %v, %v; want every member", idx, pending, err)
		}
		for j, s := range c.Stores() {
			if got := s.AppliedIndex(); got < idx {
				t.Fatalf("after AwaitApplied(%d), node %d applied %d", idx, j, got)
			}
		}
	}

	// A stopped member cannot confirm: it is reported once ctx ends.
	stopped := followers(c, leader)[0]
	stoppedID := stopped.ID
	c.Stop(stopped.Index)
	idx := put(t, leader.Store, "k", "after-stop")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	pending, err := leader.Store.AwaitApplied(ctx, idx)
	if !errors.Is(err, context.DeadlineExceeded) || !slices.Equal(pending, []string{stoppedID}) {
		t.Fatalf("AwaitApplied with %s stopped = %v, %v; want [%s] and the deadline", stoppedID, pending, err, stoppedID)
	}
}
