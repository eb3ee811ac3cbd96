package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// checkRemoved fails t unless nd's store knows it was removed: Stats says
// so, it is not Ready, and Propose and View (any consistency) fail with
// ErrRemoved.
func checkRemoved(t *testing.T, c *storetest.Cluster, nd *storetest.Node) {
	t.Helper()
	s := nd.Store
	c.Eventually(func() error {
		if st := s.Stats(); !st.Removed || st.State != "Shutdown" || s.Ready() {
			return fmt.Errorf("%s: Stats() = removed %v, state %s; Ready() = %v; want removed, Shutdown, not ready", nd.ID, st.Removed, st.State, s.Ready())
		}
		return nil
	})
	if b := string(mustJSON(t, s.Stats())); !strings.Contains(b, `"removed":true`) {
		t.Errorf("%s: Stats JSON = %s, want removed true", nd.ID, b)
	}
	if _, _, err := s.Propose(ctxT(t), storetest.Put("k", "x")); !errors.Is(err, store.ErrRemoved) {
		t.Errorf("%s: Propose = %v, want ErrRemoved", nd.ID, err)
	}
	for _, cons := range []store.Consistency{store.Linearizable, store.Leader, store.Stale} {
		if err := s.View(ctxT(t), cons, func(*bolt.Tx) error { return nil }); !errors.Is(err, store.ErrRemoved) {
			t.Errorf("%s: %v View = %v, want ErrRemoved", nd.ID, cons, err)
		}
	}
	if err := s.Join(ctxT(t), "other", "127.0.0.1:1", nil); !errors.Is(err, store.ErrRemoved) {
		t.Errorf("%s: Join = %v, want ErrRemoved", nd.ID, err)
	}
}

// TestRemovedNodeIsTold: the leader tells a running node it removed, which
// then stops serving; the cluster carries on without it.
func TestRemovedNodeIsTold(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	f := followers(c, leader)[0]
	if st := f.Store.Stats(); st.Removed {
		t.Fatalf("%s removed before Remove", f.ID)
	}
	if err := leader.Store.Remove(ctxT(t), f.ID); err != nil {
		t.Fatalf("Remove(%s) = %v", f.ID, err)
	}
	// The notice is sent before Remove returns.
	if !f.Store.Stats().Removed {
		t.Fatalf("%s not marked removed when Remove returned", f.ID)
	}
	checkRemoved(t, c, f)
	put(t, leader.Store, "after", "1")
	if nl := c.WaitForLeader(); nl.ID == f.ID {
		t.Fatalf("removed node %s is leader", f.ID)
	}
	for _, nd := range followers(c, leader) {
		if nd.ID == f.ID {
			continue
		}
		if v, ok, err := read(ctxT(t), nd.Store, store.Linearizable, "after"); err != nil || !ok || v != "1" {
			t.Fatalf("read on %s = %q, %v, %v", nd.ID, v, ok, err)
		}
	}
	// Closing a removed node works as usual.
	c.Stop(f.Index)
}

// TestLeaderRemovesItself: a leader asked to remove itself hands
// leadership over first, the new leader removes it, and it marks itself
// removed.
func TestLeaderRemovesItself(t *testing.T) {
	rec := &membershipEvents{}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) { cfg.OnMembership = rec.hook(cfg.NodeID) })
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	if err := leader.Store.Remove(ctxT(t), leader.ID); err != nil {
		t.Fatalf("Remove(itself) = %v", err)
	}
	if rec.has(leader.ID + ":" + store.MembershipRemoved + ":" + leader.ID) {
		t.Errorf("%s removed itself as leader instead of handing leadership over first: %v", leader.ID, rec.all())
	}
	if rec.count(":"+store.MembershipRemoved+":"+leader.ID) == 0 {
		t.Errorf("no node reported removing %s: %v", leader.ID, rec.all())
	}
	checkRemoved(t, c, leader)
	nl := c.WaitForNewLeader(leader)
	put(t, nl.Store, "after", "1")
	if _, ok := member(t, nl.Store, leader.ID); ok {
		t.Fatalf("%s still a member", leader.ID)
	}
}

// TestMembersNotRemoved: members of a healthy cluster, and a node that
// joined later, never mark themselves removed.
func TestMembersNotRemoved(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	nd := c.AddNode()
	put(t, nd.Store, "k", "v")
	// Stop the leader: members see no leader for a while and ask around.
	c.Stop(leader.Index)
	nl := c.WaitForNewLeader(leader)
	put(t, nl.Store, "k2", "v")
	waitConverged(t, c)
	for _, o := range c.Running() {
		if o.Store.Stats().Removed {
			t.Fatalf("%s marked removed", o.ID)
		}
	}
}

// TestRemovedWhileDown: a node removed while it was stopped misses the
// notice; restarted, it asks the leader and learns it is out.
func TestRemovedWhileDown(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	f := followers(c, leader)[0]
	c.Stop(f.Index)
	if err := leader.Store.Remove(ctxT(t), f.ID); err != nil {
		t.Fatalf("Remove(%s) = %v", f.ID, err)
	}
	put(t, leader.Store, "after", "1")
	c.Restart(f.Index)
	checkRemoved(t, c, f)
	if nl := c.WaitForLeader(); nl.ID != leader.ID {
		t.Logf("leader moved from %s to %s", leader.ID, nl.ID)
	}
	if _, ok := member(t, c.WaitForLeader().Store, f.ID); ok {
		t.Fatalf("%s is a member again", f.ID)
	}
}
