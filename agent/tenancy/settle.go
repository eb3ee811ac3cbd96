package tenancy

import (
	"context"
	"time"
)

// Lease is how long a node trusts its own applied state to authenticate
// tenant keys after a catch-up round confirmed it current (see
// Authenticator.UseLease). It is also the longest a revocation waits for a
// member that does not confirm it applied it (see settle): past Lease,
// such a member catches up before it accepts any tenant key.
const Lease = time.Second

// leaseMargin is added to Lease when settle waits it out, for clock rate
// differences between nodes and the time between a proposal's commit and
// its return.
const leaseMargin = 100 * time.Millisecond

// Settler reports when a committed entry is applied on every member of the
// cluster; *store.Store implements it (the "applied index of every member"
// primitive, asked over the internal RPC).
type Settler interface {
	AwaitApplied(ctx context.Context, index uint64) (pending []string, err error)
}

// settle returns once the entry at index, proposed through p and committed
// by committed at the latest, is in force on every node: each member
// confirmed it applied it, or Lease plus a margin passed since committed.
// A member that did not confirm by then (stopped, partitioned, slow) has
// not had a catch-up round since before the commit within its lease, so
// its Authenticator runs one — which applies the entry — before it accepts
// another tenant key. settle fails only with ctx's error. A p that is not
// a Settler (a one-node store in tests) settles at once: its Propose
// returned after applying.
func settle(ctx context.Context, p Proposer, index uint64, committed time.Time) error {
	s, ok := p.(Settler)
	if !ok {
		return nil
	}
	sctx, cancel := context.WithDeadline(ctx, committed.Add(Lease+leaseMargin))
	defer cancel()
	if _, err := s.AwaitApplied(sctx, index); err == nil {
		return nil
	}
	// Some member did not confirm (or the store could not ask): wait the
	// lease out.
	<-sctx.Done()
	return ctx.Err()
}
