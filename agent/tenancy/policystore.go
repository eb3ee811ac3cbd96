package tenancy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/store"
)

// PolicyStore is the policy.Store of a managed agent: the last good
// policies live in the replicated state, so every node has them, they
// survive restarts, and Limits reads them inside Apply.
type PolicyStore struct {
	p     Proposer
	v     Viewer
	audit audit.Auditor
}

var _ policy.Store = (*PolicyStore)(nil)

// NewPolicyStore returns a policy.Store that saves through p (a SetPolicy
// command) and loads through v (this node's state, read stale). It does no
// I/O.
func NewPolicyStore(p Proposer, v Viewer) *PolicyStore {
	return &PolicyStore{p: p, v: v, audit: audit.Nop{}}
}

// ActionPolicyApply is the audit action of a policy this node saved.
const ActionPolicyApply = "policy.apply"

// WithAudit makes s record each policy it saves (ActionPolicyApply: the
// tenant, the policy's version, status, tier and quota action, and the id
// of billing's signing key as actor) in a, and returns s.
func (s *PolicyStore) WithAudit(a audit.Auditor) *PolicyStore {
	if a != nil {
		s.audit = a
	}
	return s
}

// Save proposes sp as tenant's policy, unless this node already holds a
// policy of that tenant with the same or a higher version (then it does
// nothing: the state machine would keep the stored one anyway). A saved
// policy is in force on every node when Save returns (see settle). sp must
// carry a payload whose tenant is tenant; its signature is not checked here
// (the policy.Fetcher verified it). Errors: the payload's, the store's
// (Propose), or the state machine's (*Error).
func (s *PolicyStore) Save(ctx context.Context, tenant string, sp contract.SignedPolicy) error {
	p, err := decodePayload(sp.Payload)
	if err != nil {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, err)
	}
	if p.Tenant != tenant {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, invalidf("the signed policy is for tenant %q", clip(p.Tenant)))
	}
	var held bool
	var cur uint64
	err = s.v.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		_, cp, ok, err := LoadPolicy(tx, tenant)
		held, cur = ok, cp.Version
		return err
	})
	if err != nil {
		return fmt.Errorf("save policy of tenant %s: read stored policy: %w", tenant, err)
	}
	if held && cur >= p.Version {
		return nil
	}
	cmd, err := EncodeCommand(SetPolicy{Tenant: tenant, Signed: sp, Policy: p})
	if err != nil {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, err)
	}
	res, idx, err := s.p.Propose(ctx, cmd)
	if err != nil {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, err)
	}
	committed := time.Now()
	r, err := DecodeResult(res)
	if err != nil {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, err)
	}
	if r.Error() == nil && !r.Unchanged {
		// A suspension or a revoked key holds on every node once Save
		// returns (every node's StateMachine hands applied policies to
		// OnPolicy).
		if err := settle(ctx, s.p, idx, committed); err != nil {
			return fmt.Errorf("save policy of tenant %s: committed, but not yet confirmed by every node: %w", tenant, err)
		}
	}
	outcome := audit.OutcomeOK
	if r.Error() != nil {
		outcome = audit.OutcomeError
	}
	aerr := s.audit.Append(ctx, audit.Event{
		Actor: audit.Actor{Kind: "billing", KeyID: sp.KeyID}, Action: ActionPolicyApply, Target: "tenant:" + tenant, Outcome: outcome,
		Detail: map[string]string{
			"version": strconv.FormatUint(p.Version, 10), "status": string(p.Status), "tier": p.Tier,
			"quota_action": string(p.QuotaAction), "revoked_keys": strconv.Itoa(len(p.RevokedAgentKeys)),
		},
	})
	if err := r.Error(); err != nil {
		return fmt.Errorf("save policy of tenant %s: %w", tenant, err)
	}
	if aerr != nil {
		return fmt.Errorf("save policy of tenant %s: saved, but not recorded in the audit log: %w", tenant, aerr)
	}
	return nil
}

// Load returns tenant's policy as this node last applied it (a stale read:
// it works without a leader, which is what enforcement through an outage
// needs).
func (s *PolicyStore) Load(ctx context.Context, tenant string) (contract.SignedPolicy, bool, error) {
	var sp contract.SignedPolicy
	var ok bool
	err := s.v.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		var err error
		sp, _, ok, err = LoadPolicy(tx, tenant)
		return err
	})
	if err != nil {
		return contract.SignedPolicy{}, false, fmt.Errorf("load policy of tenant %s: %w", tenant, err)
	}
	return sp, ok, nil
}
