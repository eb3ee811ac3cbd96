package policy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// decodeUnverified reads a stored policy's payload without a key.
func decodeUnverified(sp contract.SignedPolicy) (contract.Policy, error) {
	var p contract.Policy
	dec := json.NewDecoder(bytes.NewReader(sp.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return contract.Policy{}, fmt.Errorf("stored policy payload: %w", err)
	}
	return p, nil
}

// Refresh fetches every tenant's policy once and applies those that
// verify and are newer than the one held. It returns the failures joined
// (each names its tenant); the policies that could be applied are applied
// whatever the others did. The background loop calls it; tests and the
// agent's start-up may too.
func (f *Fetcher) Refresh(ctx context.Context) error {
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	err := f.refresh(ctx)
	f.mu.Lock()
	f.lastErr = err
	if err == nil {
		f.lastOK = time.Now()
	}
	f.mu.Unlock()
	return err
}

func (f *Fetcher) refresh(ctx context.Context) error {
	pub, err := f.key(ctx)
	if err != nil {
		f.log.Warn("cannot get billing's policy key; keeping the last good policies", "err", err)
		return err
	}
	var errs []error
	for _, tenant := range f.Tenants() {
		sp, err := f.client.Policy(ctx, tenant)
		if err != nil {
			f.log.Warn("cannot fetch policy; keeping the last good one", "tenant", tenant, "err", err)
			errs = append(errs, fmt.Errorf("policy %s: fetch: %w", tenant, err))
			continue
		}
		if err := f.accept(ctx, tenant, sp, pub); err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", tenant, err))
		}
	}
	return errors.Join(errs...)
}

// key returns the trusted key: pinned, or fetched on first contact and
// checked against the stored policies' key id. Held policies loaded
// unverified are verified when the key is first fetched.
func (f *Fetcher) key(ctx context.Context) (ed25519.PublicKey, error) {
	f.mu.Lock()
	pub, want := f.pub, f.wantKey
	f.mu.Unlock()
	if pub != nil {
		return pub, nil
	}
	pub, id, err := f.client.PublicKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy key: %w", err)
	}
	if got := contract.KeyID(pub); got != id {
		return nil, fmt.Errorf("policy key: billing says key id %s for a key whose id is %s", id, got)
	}
	if want != "" && id != want {
		return nil, fmt.Errorf("%w: billing serves key %s, stored policies are signed by %s", ErrKeyMismatch, id, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pub = pub
	for tenant, h := range f.policies {
		if _, err := contract.VerifyPolicy(h.sp, pub); err != nil {
			// Not applied any more: the held policy cannot be trusted.
			delete(f.policies, tenant)
			f.rejected++
			f.log.Error("stored policy does not verify with billing's key; dropped", "tenant", tenant, "err", err)
		}
	}
	f.log.Info("pinned billing's policy key (trust on first use)", "key_id", id)
	return pub, nil
}

// accept verifies sp and applies it when it is newer than the policy held.
func (f *Fetcher) accept(ctx context.Context, tenant string, sp contract.SignedPolicy, pub ed25519.PublicKey) error {
	p, err := contract.VerifyPolicy(sp, pub)
	if err != nil {
		f.reject(tenant, "policy from billing", err)
		return err
	}
	if p.Tenant != tenant {
		err := fmt.Errorf("%w: asked for tenant %s, got a policy for %s", contract.ErrBadSignature, tenant, p.Tenant)
		f.reject(tenant, "policy from billing", err)
		return err
	}
	f.mu.Lock()
	h, ok := f.policies[tenant]
	f.mu.Unlock()
	if ok {
		switch {
		case p.Version < h.pol.Version || p.IssuedAt.Before(h.pol.IssuedAt):
			err := fmt.Errorf("%w: got version %d issued %s, hold version %d issued %s", ErrStale,
				p.Version, p.IssuedAt.Format(time.RFC3339Nano), h.pol.Version, h.pol.IssuedAt.Format(time.RFC3339Nano))
			f.reject(tenant, "policy from billing", err)
			return err
		case p.Version == h.pol.Version && p.IssuedAt.Equal(h.pol.IssuedAt):
			return nil // unchanged
		}
	}
	// Save first: a policy applied but not saved would be lost on
	// restart; still apply it when saving fails, since it is the newest
	// verified truth, and report the failure.
	saveErr := f.cfg.Store.Save(ctx, tenant, sp)
	f.mu.Lock()
	if !slices.Contains(f.tenants, tenant) {
		f.mu.Unlock() // dropped by SetTenants meanwhile
		return saveErr
	}
	f.policies[tenant] = held{pol: p, sp: sp}
	f.mu.Unlock()
	f.log.Info("applied policy", "tenant", tenant, "version", p.Version, "status", p.Status, "tier", p.Tier)
	f.changed(p)
	if saveErr != nil {
		f.log.Error("cannot save policy; it is applied but would be lost on restart", "tenant", tenant, "err", saveErr)
		return fmt.Errorf("save: %w", saveErr)
	}
	return nil
}

// Current returns tenant's policy in force; ok is false when none was
// ever obtained.
func (f *Fetcher) Current(tenant string) (contract.Policy, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.policies[tenant]
	return h.pol, ok
}

// Policy returns tenant's policy in force, or an error wrapping
// ErrNoPolicy naming the tenant.
func (f *Fetcher) Policy(tenant string) (contract.Policy, error) {
	p, ok := f.Current(tenant)
	if !ok {
		return contract.Policy{}, fmt.Errorf("tenant %s: %w", tenant, ErrNoPolicy)
	}
	return p, nil
}

// Tenants returns the tenants whose policies are kept.
func (f *Fetcher) Tenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tenants)
}

// SetTenants replaces the tenants whose policies are kept; a dropped
// tenant's policy is forgotten (not deleted from the Store), a new one is
// fetched at the next refresh.
func (f *Fetcher) SetTenants(tenants []string) error {
	for _, t := range tenants {
		if t == "" {
			return errors.New("policy: tenants: empty tenant id")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants = slices.Clone(tenants)
	for t := range f.policies {
		if !slices.Contains(tenants, t) {
			delete(f.policies, t)
		}
	}
	return nil
}

// Status describes the last refresh.
type Status struct {
	// LastSuccess is when a refresh last succeeded for every tenant (zero
	// if never).
	LastSuccess time.Time
	// LastErr is the last refresh's error (nil when it succeeded).
	LastErr error
	// Rejected counts policies rejected since Open: bad signature, wrong
	// tenant, stale.
	Rejected int64
	// KeyID is the trusted key's id ("" before it is known).
	KeyID string
}

// Status returns the state of refreshing, for /readyz and metrics.
func (f *Fetcher) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Status{LastSuccess: f.lastOK, LastErr: f.lastErr, Rejected: f.rejected}
	if f.pub != nil {
		s.KeyID = contract.KeyID(f.pub)
	}
	return s
}
