package tenancy

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/store"
)

// Keys creates, lists and revokes tenant api keys through the replicated
// store; it backs the agent's /api/v1/keys routes. Its methods are safe for
// concurrent use. Errors from the state machine are *Error values (they
// match the agent/document sentinel of their code too: document.ErrNotFound for an
// unknown id, document.ErrInvalid for a bad argument).
type Keys struct {
	p   Proposer
	v   Viewer
	now func() time.Time
}

// NewKeys returns a Keys using p and v (usually both the node's
// *store.Store) and the wall clock. It does no I/O.
func NewKeys(p Proposer, v Viewer) *Keys {
	return &Keys{p: p, v: v, now: time.Now}
}

// Create makes a key of role for tenant (NewKey), stores it through raft
// and returns it with the key string to hand to its user (shown once).
func (k *Keys) Create(ctx context.Context, tenant, role, name string) (APIKey, string, error) {
	key, token, err := NewKey(tenant, role, name, k.now())
	if err != nil {
		return APIKey{}, "", err
	}
	r, _, err := k.propose(ctx, CreateKey{Key: key})
	if err != nil {
		return APIKey{}, "", wrapf(err, "create api key")
	}
	return *r.Key, token, nil
}

// List returns tenant's keys, revoked ones included, sorted by creation
// time, read linearizably (a key just created is listed).
func (k *Keys) List(ctx context.Context, tenant string) ([]APIKey, error) {
	if err := document.ValidateTenant(tenant); err != nil {
		return nil, asInvalid(err)
	}
	var out []APIKey
	err := k.v.View(ctx, store.Linearizable, func(tx *bolt.Tx) error {
		var err error
		out, err = ListKeys(tx, tenant)
		return err
	})
	if err != nil {
		return nil, wrapf(err, "list api keys")
	}
	return out, nil
}

// Revoke revokes key id through raft and returns it once no node of the
// cluster accepts the key any more: every member confirmed it applied the
// revocation, or the Lease ran out for those that did not (see settle).
// Revoking a revoked key succeeds, keeps its first revocation time and
// waits the same way (so a retry after a timeout gives the guarantee); an
// unknown id fails with ErrNotFound. A ctx that ends while waiting returns
// its error: the revocation is committed, but not yet known everywhere.
func (k *Keys) Revoke(ctx context.Context, id string) (APIKey, error) {
	if !ValidID(id) {
		return APIKey{}, invalidf("invalid api key id %q: want %d lowercase hex digits", clip(id), IDLen)
	}
	r, idx, err := k.propose(ctx, RevokeKey{ID: id, At: k.now()})
	if err != nil {
		return APIKey{}, wrapf(err, "revoke api key")
	}
	if err := settle(ctx, k.p, idx, time.Now()); err != nil {
		return APIKey{}, wrapf(err, "revoke api key: committed, but not yet confirmed by every node")
	}
	return *r.Key, nil
}

// propose replicates c and decodes its result, returned with the index of
// its entry; a result without a key (impossible for key commands) is
// reported.
func (k *Keys) propose(ctx context.Context, c Command) (Result, uint64, error) {
	cmd, err := EncodeCommand(c)
	if err != nil {
		return Result{}, 0, err
	}
	res, idx, err := k.p.Propose(ctx, cmd)
	if err != nil {
		return Result{}, 0, err
	}
	r, err := DecodeResult(res)
	if err != nil {
		return Result{}, 0, err
	}
	if err := r.Error(); err != nil {
		return Result{}, 0, err
	}
	if r.Key == nil {
		return Result{}, 0, internalf("the state machine returned no key")
	}
	return r, idx, nil
}
