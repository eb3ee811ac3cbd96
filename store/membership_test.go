package store_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// member returns the member with id as seen by s, or false.
func member(t testing.TB, s *store.Store, id string) (store.Member, bool) {
	t.Helper()
	ms, err := s.Members(ctxT(t))
	if err != nil {
		t.Fatalf("Members = %v", err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return store.Member{}, false
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestJoinRemove adds a node through its Join list, checks it replicates
// and becomes a voter, then removes it through a follower.
func TestJoinRemove(t *testing.T) {
	regs := &registries{}
	c := newCluster(t, 3, regs, nil)
	leader := c.WaitForLeader()
	put(t, leader.Store, "k", "v")
	nd := c.AddNode()
	c.Eventually(func() error {
		for _, o := range c.Running() {
			m, ok := member(t, o.Store, nd.ID)
			if !ok || !m.Voter || m.RaftAddr != nd.Addr || m.Meta["index"] != "3" {
				return fmt.Errorf("%s sees %s as %+v (present %v), want voter with meta", o.ID, nd.ID, m, ok)
			}
		}
		return nil
	})
	if n := regs.value(t, c.WaitForLeader().Index, "aerolith_store_promotions_total"); n < 1 {
		t.Errorf("promotions = %v on leader, want >= 1", n)
	}
	if v, ok, err := read(ctxT(t), nd.Store, store.Linearizable, "k"); err != nil || !ok || v != "v" {
		t.Fatalf("read on new node = %q, %v, %v", v, ok, err)
	}
	put(t, nd.Store, "from-new", "1")
	waitConverged(t, c)

	// Remove through a follower (forwarded to the leader); twice.
	leader = c.WaitForLeader()
	var via *storetest.Node
	for _, o := range followers(c, leader) {
		if o.ID != nd.ID {
			via = o
			break
		}
	}
	for range 2 {
		if err := via.Store.Remove(ctxT(t), nd.ID); err != nil {
			t.Fatalf("Remove(%s) via %s = %v", nd.ID, via.ID, err)
		}
	}
	c.Eventually(func() error {
		for _, o := range c.Running() {
			if o.ID == nd.ID {
				continue
			}
			if _, ok := member(t, o.Store, nd.ID); ok {
				return fmt.Errorf("%s still lists %s", o.ID, nd.ID)
			}
		}
		return nil
	})
	// The leader told the removed node, which stops serving.
	checkRemoved(t, c, nd)
	// The cluster keeps working without it.
	c.Stop(nd.Index)
	put(t, leader.Store, "after-remove", "1")
	for _, o := range c.Running() {
		if st := o.Store.Stats(); st.NumVoters != 3 {
			t.Errorf("%s counts %d voters after remove, want 3", o.ID, st.NumVoters)
		}
	}
}

// TestJoinIdempotent checks Join's no-op, address update and meta update
// behaviour, forwarding from a follower, and validation.
func TestJoinIdempotent(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	f := followers(c, leader)[0]
	addrA, addrB := deadAddr(t), deadAddr(t)
	if err := f.Store.Join(ctxT(t), "ghost", addrA, map[string]string{"http_addr": "x"}); err != nil {
		t.Fatalf("Join = %v", err)
	}
	check := func(addr, meta string) {
		t.Helper()
		c.Eventually(func() error {
			for _, o := range c.Running() {
				m, ok := member(t, o.Store, "ghost")
				if !ok || m.Voter || m.RaftAddr != addr || m.Meta["http_addr"] != meta {
					return fmt.Errorf("%s sees ghost as %+v (present %v), want non-voter at %s with http_addr %s", o.ID, m, ok, addr, meta)
				}
			}
			return nil
		})
	}
	check(addrA, "x")
	// Same id, address and meta: nothing new is written.
	last := leader.Store.Stats().LastLogIndex
	if err := f.Store.Join(ctxT(t), "ghost", addrA, map[string]string{"http_addr": "x"}); err != nil {
		t.Fatalf("repeated Join = %v", err)
	}
	if got := leader.Store.Stats().LastLogIndex; got != last {
		t.Fatalf("repeated Join wrote entries: last index %d -> %d", last, got)
	}
	// New meta, then new address.
	if err := leader.Store.Join(ctxT(t), "ghost", addrA, map[string]string{"http_addr": "y"}); err != nil {
		t.Fatalf("Join with new meta = %v", err)
	}
	check(addrA, "y")
	if err := f.Store.Join(ctxT(t), "ghost", addrB, map[string]string{"http_addr": "y"}); err != nil {
		t.Fatalf("Join with new address = %v", err)
	}
	check(addrB, "y")
	// A node that cannot catch up stays a non-voter; Remove drops it.
	if err := f.Store.Remove(ctxT(t), "ghost"); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	c.Eventually(func() error {
		for _, o := range c.Running() {
			if _, ok := member(t, o.Store, "ghost"); ok {
				return fmt.Errorf("%s still lists ghost", o.ID)
			}
		}
		return nil
	})
	if err := f.Store.Remove(ctxT(t), "never-was"); err != nil {
		t.Fatalf("Remove of unknown node = %v", err)
	}
	for _, tc := range []struct{ id, addr string }{
		{"", addrA},
		{"x", "0.0.0.0:7000"},
		{"x", ":7000"},
		{"x", "nohost"},
	} {
		if err := f.Store.Join(ctxT(t), tc.id, tc.addr, nil); err == nil {
			t.Errorf("Join(%q, %q) succeeded, want error", tc.id, tc.addr)
		}
	}
}

// TestNonvoterPromotion adds a node whose state machine is held behind an
// entry: it must stay a non-voter while it lags and be promoted once it
// has caught up.
func TestNonvoterPromotion(t *testing.T) {
	sms := []*gateSM{newGateSM(), newGateSM(), newGateSM(), newGateSM()}
	for _, g := range sms[:3] {
		g.open()
	}
	c := storetest.NewCluster(t, 3, storetest.WithStateMachine(func(i int) store.StateMachine { return sms[i] }))
	t.Cleanup(func() { sms[3].open() }) // before the cluster closes
	leader := c.WaitForLeader()
	if _, _, err := leader.Store.Propose(ctxT(t), []byte("block")); err != nil {
		t.Fatalf("Propose = %v", err)
	}
	put(t, leader.Store, "k", "v")
	nd := c.AddNode()
	c.Eventually(func() error {
		if !sms[3].blocked.Load() {
			return fmt.Errorf("new node not blocked yet")
		}
		m, ok := member(t, leader.Store, nd.ID)
		if !ok || m.Voter {
			return fmt.Errorf("leader sees %s as %+v (present %v), want non-voter", nd.ID, m, ok)
		}
		return nil
	})
	// While its state machine is stuck behind the leader's commit index it
	// must not be promoted; the leader keeps checking meanwhile.
	for range 3 {
		put(t, leader.Store, "k", "v")
		if m, _ := member(t, leader.Store, nd.ID); m.Voter {
			t.Fatalf("lagging node promoted to voter")
		}
	}
	sms[3].open()
	c.Eventually(func() error {
		m, ok := member(t, leader.Store, nd.ID)
		if !ok || !m.Voter {
			return fmt.Errorf("%s is %+v, want voter", nd.ID, m)
		}
		return nil
	})
	waitConverged(t, c)
}

// TestJoinRefusesNodeWithState: a node that formed a cluster of its own
// cannot be joined (directly on the leader or through a follower), while
// joining an existing member again and restarting a member still work.
func TestJoinRefusesNodeWithState(t *testing.T) {
	c := storetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	// Started alone, joining only its own address: it forms its own cluster.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := store.Config{NodeID: "solo", Dir: t.TempDir(), Listener: ln, Join: []string{ln.Addr().String()}, Logger: storetest.TestLogger()}
	storetest.FastConfig(&cfg)
	solo, err := store.New(cfg, storetest.KV{})
	if err != nil {
		t.Fatal(err)
	}
	if err := solo.Open(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { solo.Close() })
	if err := solo.WaitForLeader(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	put(t, solo, "own", "history")
	f := followers(c, leader)[0]
	for _, via := range []*storetest.Node{leader, f} {
		err := via.Store.Join(ctxT(t), "solo", solo.Addr(), nil)
		if !errors.Is(err, store.ErrNodeHasState) {
			t.Fatalf("Join(solo) via %s = %v, want ErrNodeHasState", via.ID, err)
		}
		for _, want := range []string{"solo", solo.Addr(), "wipe its data directory"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Join(solo) via %s error %q does not mention %q", via.ID, err, want)
			}
		}
	}
	if _, ok := member(t, leader.Store, "solo"); ok {
		t.Fatalf("solo was added")
	}
	if st := solo.Stats(); !st.Ready || st.LeaderID != "solo" || st.NumVoters != 1 {
		t.Fatalf("solo disturbed: %+v", st)
	}

	// An existing member (with state) joins again: a no-op.
	if err := f.Store.Join(ctxT(t), f.ID, f.Addr, map[string]string{"index": fmt.Sprint(f.Index)}); err != nil {
		t.Fatalf("Join of member %s = %v", f.ID, err)
	}
	// A restarted member rejoins and serves.
	c.Stop(f.Index)
	put(t, leader.Store, "while-down", "1")
	c.Restart(f.Index)
	put(t, f.Store, "after-restart", "1")
	data := waitConverged(t, c)
	if data["while-down"] != "1" || data["after-restart"] != "1" {
		t.Fatalf("data after restart = %v", data)
	}
	if m, ok := member(t, c.WaitForLeader().Store, f.ID); !ok || !m.Voter {
		t.Fatalf("restarted %s = %+v (present %v), want voter", f.ID, m, ok)
	}
}
