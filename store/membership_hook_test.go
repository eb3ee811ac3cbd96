package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aerolithdb/aerolith/store"
)

// membershipEvents records the OnMembership calls of every node.
type membershipEvents struct {
	mu     sync.Mutex
	events []string // "node:kind:member"
}

func (m *membershipEvents) hook(node string) func(store.MembershipEvent) {
	return func(ev store.MembershipEvent) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.events = append(m.events, node+":"+ev.Kind+":"+ev.Member)
	}
}

func (m *membershipEvents) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

func (m *membershipEvents) has(want string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.events, want)
}

func (m *membershipEvents) count(suffix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.events {
		if len(e) >= len(suffix) && e[len(e)-len(suffix):] == suffix {
			n++
		}
	}
	return n
}

func TestOnMembership(t *testing.T) {
	rec := &membershipEvents{}
	c := newCluster(t, 3, nil, func(i int, cfg *store.Config) { cfg.OnMembership = rec.hook(cfg.NodeID) })
	c.WaitForLeader()
	c.Eventually(func() error {
		if rec.count(":"+store.MembershipBootstrap+":n0")+rec.count(":"+store.MembershipBootstrap+":n1")+rec.count(":"+store.MembershipBootstrap+":n2") == 0 {
			return fmt.Errorf("no bootstrap event in %v", rec.all())
		}
		return nil
	})
	nd := c.AddNode()
	c.Eventually(func() error {
		for _, kind := range []string{store.MembershipJoined, store.MembershipPromoted} {
			if rec.count(":"+kind+":"+nd.ID) == 0 {
				return fmt.Errorf("no %s event for %s in %v", kind, nd.ID, rec.all())
			}
		}
		return nil
	})
	leader := c.WaitForLeader()
	if err := leader.Store.Remove(ctxT(t), nd.ID); err != nil {
		t.Fatal(err)
	}
	if !rec.has(leader.ID + ":" + store.MembershipRemoved + ":" + nd.ID) {
		t.Errorf("leader %s reported no removal of %s: %v", leader.ID, nd.ID, rec.all())
	}
	c.Eventually(func() error {
		if !rec.has(nd.ID + ":" + store.MembershipRemovedSelf + ":" + nd.ID) {
			return fmt.Errorf("removed node reported no removed_self: %v", rec.all())
		}
		return nil
	})
}
