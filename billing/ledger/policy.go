package ledger

import (
	"bytes"
	"crypto/ed25519"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
)

func (a *applier) setSigningKey(c SetSigningKey) Result {
	if c.Seed == ([32]byte{}) {
		return Result{Err: invalidf("seed: required (32 random bytes)")}
	}
	if cur := get(a.tx, bMeta, keySigningSeed); cur != nil {
		if bytes.Equal(cur, c.Seed[:]) {
			return Result{Unchanged: true}
		}
		return Result{Err: conflictf("signing key: already set (key id %s); it cannot be replaced", contract.KeyID(ed25519.NewKeyFromSeed(cur).Public().(ed25519.PublicKey)))}
	}
	put(a.tx, bMeta, keySigningSeed, c.Seed[:])
	return Result{}
}

// SigningKey returns the policy signing key set by SetSigningKey, or
// ErrNotFound before one is set.
func SigningKey(tx *bolt.Tx) (ed25519.PrivateKey, error) {
	seed := get(tx, bMeta, keySigningSeed)
	if seed == nil {
		return nil, notFoundf("no policy signing key has been set")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, internalf("corrupt policy signing key")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// PublicKey returns the public half of the policy signing key (what agents
// verify with), or ErrNotFound before one is set.
func PublicKey(tx *bolt.Tx) (ed25519.PublicKey, error) {
	k, err := SigningKey(tx)
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// SignedPolicyFor returns tenant's current policy signed with the stored
// key: ErrNotFound for an unknown tenant or before SetSigningKey.
func SignedPolicyFor(tx *bolt.Tx, tenant string) (contract.SignedPolicy, error) {
	p, err := GetPolicy(tx, tenant)
	if err != nil {
		return contract.SignedPolicy{}, err
	}
	k, err := SigningKey(tx)
	if err != nil {
		return contract.SignedPolicy{}, err
	}
	return contract.SignPolicy(p, k)
}

// GetPolicy returns tenant's current policy, or ErrNotFound. A deleted
// tenant's policy says status deleted.
func GetPolicy(tx *bolt.Tx, tenant string) (contract.Policy, error) {
	t, e := loadTenant(tx, tenant)
	if e != nil {
		return contract.Policy{}, e
	}
	cat, e := loadCatalog(tx)
	if e != nil {
		return contract.Policy{}, e
	}
	st, e := loadCatalogState(tx)
	if e != nil {
		return contract.Policy{}, e
	}
	def, ok := cat.Get(t.Tier)
	if !ok {
		return contract.Policy{}, internalf("tenant %q: tier %q is not in the catalog", t.ID, t.Tier)
	}
	issued := t.PolicyChangedAt
	if st.SetAt.After(issued) {
		issued = st.SetAt
	}
	revoked := t.RevokedAgentKeys
	if revoked == nil {
		revoked = []string{}
	}
	// The tier's limits, allowance and action convert field for field: the
	// policy carries them as the catalog defines them.
	return contract.Policy{
		Tenant: t.ID, Tier: t.Tier, Status: contract.Status(t.Status),
		Limits: def.Limits, Included: contract.Included(def.Included),
		QuotaAction: contract.QuotaAction(def.QuotaAction), RevokedAgentKeys: revoked,
		Version: t.PolicyVersion + st.Version, IssuedAt: issued,
	}, nil
}
