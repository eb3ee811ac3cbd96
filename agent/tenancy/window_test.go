package tenancy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// windowCluster is a real 3-node store running the tenancy state machine,
// with each node's Authenticator wired as the agent wires it (generation,
// lease) and each node's latest policy as its OnPolicy saw it.
type windowCluster struct {
	c     *storetest.Cluster
	sms   []*StateMachine
	mu    sync.Mutex
	seen  []map[string]contract.Policy // per node: tenant → latest policy applied
	auths []*Authenticator
}

func newWindowCluster(t *testing.T) *windowCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	w := &windowCluster{}
	for i := range 3 {
		sm := NewStateMachine()
		w.seen = append(w.seen, map[string]contract.Policy{})
		sm.OnPolicy(func(p contract.Policy) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.seen[i][p.Tenant] = p
		})
		w.sms = append(w.sms, sm)
	}
	w.c = storetest.NewCluster(t, 3, storetest.WithStateMachine(func(i int) store.StateMachine { return w.sms[i] }))
	w.c.WaitForLeader()
	for i, s := range w.c.Stores() {
		a := NewAuthenticator(s, nil)
		a.UseGeneration(w.sms[i].KeyGeneration)
		a.UseLease(Lease)
		w.auths = append(w.auths, a)
	}
	return w
}

// TestRevokeWindow: when Keys.Revoke returns, through whichever node
// (followers forward to the leader), no node accepts the key — not even
// once. Before the revocation waited for every member, followers (and the
// follower that answered) accepted the key for the milliseconds they took
// to apply the entry.
func TestRevokeWindow(t *testing.T) {
	w := newWindowCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	defer cancel()
	nodes := w.c.Stores()
	for round := range 30 {
		via := nodes[round%len(nodes)]
		keys := NewKeys(via, via)
		k, token, err := keys.Create(ctx, "acme", "read", "")
		if err != nil {
			t.Fatalf("round %d: Create = %v", round, err)
		}
		for i, a := range w.auths {
			if _, err := a.Authenticate(request(token)); err != nil {
				t.Fatalf("round %d: node %d refused a new key: %v", round, i, err)
			}
		}
		if _, err := keys.Revoke(ctx, k.ID); err != nil {
			t.Fatalf("round %d: Revoke = %v", round, err)
		}
		for i, a := range w.auths {
			_, err := a.Authenticate(request(token))
			if !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("round %d: node %d right after Revoke (through node %s) returned: %v, want revoked", round, i, via.NodeID(), err)
			}
		}
	}
}

// TestRevokeWithMemberDown: a member that cannot confirm (stopped) does not
// block a revocation beyond the lease, and once restarted it refuses the
// key: its authenticator catches up before trusting its state.
func TestRevokeWithMemberDown(t *testing.T) {
	w := newWindowCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	defer cancel()
	leader := w.c.Leader()
	keys := NewKeys(leader, leader)
	k, token, err := keys.Create(ctx, "acme", "read", "")
	if err != nil {
		t.Fatal(err)
	}
	down := -1
	for i, s := range w.c.Stores() {
		if _, err := w.auths[i].Authenticate(request(token)); err != nil {
			t.Fatalf("node %d refused a new key: %v", i, err)
		}
		if s != leader && down < 0 {
			down = i
		}
	}
	w.c.Stop(down)
	if _, err := keys.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("Revoke with node %d down = %v", down, err)
	}
	nd := w.c.Restart(down)
	a := NewAuthenticator(nd.Store, nil)
	a.UseGeneration(w.sms[down].KeyGeneration)
	a.UseLease(Lease)
	_, err = a.Authenticate(request(token))
	if !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("restarted node %d: Authenticate = %v, want revoked", down, err)
	}
}

// TestSuspendWindow: when PolicyStore.Save of a suspension returns, every
// node's OnPolicy has the suspended policy (so every node's quota
// enforcement refuses the tenant's writes), and the same for the
// resumption that follows.
func TestSuspendWindow(t *testing.T) {
	w := newWindowCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	defer cancel()
	nodes := w.c.Stores()
	for v := uint64(1); v <= 20; v++ {
		via := nodes[int(v)%len(nodes)]
		p := testPolicy("acme", v, contract.Block)
		if v%2 == 1 {
			p.Status = contract.StatusSuspended
		}
		if err := NewPolicyStore(via, via).Save(ctx, "acme", sign(t, p)); err != nil {
			t.Fatalf("Save(version %d) = %v", v, err)
		}
		w.mu.Lock()
		for i := range nodes {
			if got := w.seen[i]["acme"]; got.Version != v || got.Status != p.Status {
				w.mu.Unlock()
				t.Fatalf("right after Save(version %d, %s) through node %s returned, node %d holds version %d %s", v, p.Status, via.NodeID(), i, got.Version, got.Status)
			}
		}
		w.mu.Unlock()
	}
}
