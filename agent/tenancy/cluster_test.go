package tenancy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// TestClusterRevocation runs the state machine on a real 3-node store: a
// key created through the leader authenticates on every node once that node
// applied it, and a revocation refuses it on each node as soon as that node
// applied the RevokeKey entry. Policies replicate the same way.
func TestClusterRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := storetest.NewCluster(t, 3, storetest.WithStateMachine(func(int) store.StateMachine { return NewStateMachine() }))
	ctx, cancel := context.WithTimeout(context.Background(), storetest.WaitTimeout)
	defer cancel()
	leader := c.Leader()

	keys := NewKeys(leader, leader)
	k, token, err := keys.Create(ctx, "acme", "read", "")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	nodes := c.Stores()
	auths := make([]*Authenticator, len(nodes))
	for i, s := range nodes {
		auths[i] = NewAuthenticator(s, nil)
	}
	want := auth.Principal{Tenant: "acme", Role: auth.RoleRead, KeyID: k.ID}
	for _, a := range auths {
		c.Eventually(func() error {
			p, err := a.Authenticate(request(token))
			if err != nil || p != want {
				return errors.New("node has not applied the key yet")
			}
			return nil
		})
	}

	cmd, err := EncodeCommand(RevokeKey{ID: k.ID, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	res, index, err := leader.Propose(ctx, cmd)
	if err != nil {
		t.Fatalf("Propose(revoke) = %v", err)
	}
	if r, err := DecodeResult(res); err != nil || r.Err != nil {
		t.Fatalf("revoke result = %+v, %v", r, err)
	}
	for i, s := range nodes {
		if err := s.WaitForApplied(ctx, index); err != nil {
			t.Fatalf("node %d WaitForApplied = %v", i, err)
		}
		if _, err := auths[i].Authenticate(request(token)); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("node %d accepted a key it applied the revocation of: %v", i, err)
		}
	}

	// A policy saved through one node's policy store reaches every node;
	// an older one saved through a node that has it is not proposed.
	counted := &countingProposer{p: leader}
	if err := NewPolicyStore(counted, leader).Save(ctx, "acme", sign(t, testPolicy("acme", 3, contract.Block))); err != nil {
		t.Fatalf("Save = %v", err)
	}
	for _, s := range nodes {
		ps := NewPolicyStore(counted, s)
		c.Eventually(func() error {
			_, ok, err := ps.Load(ctx, "acme")
			if err != nil || !ok {
				return errors.New("policy not applied yet")
			}
			return nil
		})
		if err := ps.Save(ctx, "acme", sign(t, testPolicy("acme", 2, contract.Block))); err != nil {
			t.Fatalf("Save(older) = %v", err)
		}
	}
	if counted.n != 1 {
		t.Fatalf("%d proposals, want 1 (older policies are skipped)", counted.n)
	}
}

type countingProposer struct {
	p Proposer
	n int
}

func (c *countingProposer) Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	c.n++
	return c.p.Propose(ctx, cmd)
}
