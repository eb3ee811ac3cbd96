// Package policy keeps an agent's tenant policies: it fetches each
// tenant's signed policy from the billing service, verifies it, refreshes
// it periodically and keeps the last good one in a Store, so quotas and
// suspensions are enforced through a billing outage and across restarts.
//
// # Trust model
//
// Policies are ed25519-signed by billing (contract.SignPolicy); the Fetcher
// applies only a policy whose signature verifies with the trusted key and
// whose tenant is the one asked for. The key is trusted in one of two ways:
//
//   - pinned: Config.PublicKey is set (the operator copied it from
//     `GET /api/v1/policy/public-key` or billing's config). Nothing else is
//     ever trusted; a policy signed with another key is rejected. Policies
//     loaded from the Store are verified with it too.
//   - trust on first use: otherwise the key is fetched from billing, over
//     the same connection and enrollment token as the policies, the first
//     time billing answers, and pinned for the Fetcher's life. On restart,
//     when the Store already holds policies, the fetched key must have the
//     key id those policies were signed with (contract.KeyID, 64 bits of
//     SHA-256), so a billing endpoint swapped after enrollment cannot push
//     policies signed with its own key. Policies loaded from the Store are
//     then re-verified with the fetched key. Until billing first answers,
//     stored policies are served as stored: the Store is the agent's own
//     replicated state, written only with verified policies.
//
// # Ordering
//
// A policy whose version is lower, or whose issued_at is earlier, than the
// one held is rejected (ErrStale) and logged: a replayed or rolled-back
// answer never replaces a newer policy. A policy equal to the one held is
// a no-op.
//
// # Errors and outages
//
// Fetch failures are logged and retried at the next refresh; the last
// good policy keeps being served. When no policy was ever obtained for a
// tenant, Policy returns ErrNoPolicy and the agent refuses that tenant's
// writes with it.
package policy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/audit"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRefresh = 30 * time.Second
)

// ErrNoPolicy means no policy was ever obtained for the tenant (neither
// fetched from billing nor loaded from the Store): the agent must refuse
// its writes.
var ErrNoPolicy = errors.New("no policy has been obtained from billing for this tenant yet; writes are refused until the agent reaches billing")

// ErrStale is returned for a policy older than the one held.
var ErrStale = errors.New("policy is older than the one held")

// ErrKeyMismatch is returned when billing's key is not the one the held
// policies were signed with (trust on first use after a restart).
var ErrKeyMismatch = errors.New("billing's policy key is not the key the stored policies were signed with")

// Store keeps the last good signed policy per tenant. The agent backs it
// with its replicated store; it must be safe for concurrent use.
type Store interface {
	// Save records sp as tenant's last good policy.
	Save(ctx context.Context, tenant string, sp contract.SignedPolicy) error
	// Load returns tenant's saved policy; ok is false when there is none.
	Load(ctx context.Context, tenant string) (sp contract.SignedPolicy, ok bool, err error)
}

// Config configures a Fetcher.
type Config struct {
	// BillingURL is the billing service's base URL (several replicas
	// separated by commas). Required unless Client is set.
	BillingURL string
	// EnrollmentToken is the cluster's enrollment token, sent as bearer
	// key. Required unless Client is set.
	EnrollmentToken string
	// Client, when set, is used instead of one built from BillingURL and
	// EnrollmentToken.
	Client *client.Client
	// Tenants are the tenants whose policies are kept; SetTenants changes
	// them.
	Tenants []string
	// PublicKey pins billing's policy key; nil trusts the key billing
	// serves on first contact (see the package doc).
	PublicKey ed25519.PublicKey
	// Refresh is the mean interval between refreshes (DefaultRefresh when
	// zero); each wait is drawn uniformly from Refresh ± Jitter so the
	// nodes of a cluster do not refresh in step.
	Refresh time.Duration
	// Jitter defaults to Refresh/5; it must be smaller than Refresh.
	Jitter time.Duration
	// Store keeps the last good policies. Required.
	Store Store
	// OnChange, when set, is called with each policy applied (loaded at
	// Open or newly fetched), outside any lock, one call at a time.
	OnChange func(contract.Policy)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Audit records each rejected policy (ActionRejected: the tenant,
	// what was rejected and why); a rejection repeating the previous one
	// of its tenant is not recorded again. Nil records nothing.
	Audit audit.Auditor
}

// ActionRejected is the audit action of a rejected policy.
const ActionRejected = "policy.rejected"

// held is the policy applied for a tenant.
type held struct {
	pol contract.Policy
	sp  contract.SignedPolicy
}

// Fetcher fetches, verifies and keeps tenant policies. Its methods are
// safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *client.Client
	log    *slog.Logger

	refreshMu sync.Mutex // serializes refreshes and OnChange calls

	mu       sync.Mutex // guards the fields below
	pub      ed25519.PublicKey
	wantKey  string // key id of the stored policies (trust on first use)
	tenants  []string
	policies map[string]held
	lastOK   time.Time
	lastErr  error
	rejected int64
	// lastReject is the last rejection recorded per tenant.
	lastReject map[string]string

	cancel context.CancelFunc
	done   chan struct{}
}

// New validates cfg and returns a Fetcher. It does no I/O.
func New(cfg Config) (*Fetcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("policy: store: required")
	}
	c := cfg.Client
	if c == nil {
		if cfg.BillingURL == "" {
			return nil, errors.New("policy: billing url: required (set --billing-url)")
		}
		if cfg.EnrollmentToken == "" {
			return nil, errors.New("policy: enrollment token: required (set --enrollment-token)")
		}
		var err error
		if c, err = client.New(client.Config{URL: cfg.BillingURL, Key: cfg.EnrollmentToken}); err != nil {
			return nil, fmt.Errorf("policy: billing url: %w", err)
		}
	}
	if cfg.PublicKey != nil && len(cfg.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("policy: public key: want %d bytes of ed25519 key, got %d", ed25519.PublicKeySize, len(cfg.PublicKey))
	}
	if cfg.Refresh < 0 {
		return nil, fmt.Errorf("policy: refresh: must be positive (got %s)", cfg.Refresh)
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = cfg.Refresh / 5
	}
	if cfg.Jitter < 0 || cfg.Jitter >= cfg.Refresh {
		return nil, fmt.Errorf("policy: jitter: must be at least 0 and below refresh %s (got %s)", cfg.Refresh, cfg.Jitter)
	}
	for _, t := range cfg.Tenants {
		if t == "" {
			return nil, errors.New("policy: tenants: empty tenant id")
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Fetcher{
		cfg: cfg, client: c, log: log.With("component", "policy"),
		pub: cfg.PublicKey, tenants: slices.Clone(cfg.Tenants), policies: make(map[string]held),
	}, nil
}

// Open loads the stored policies and starts refreshing in the background,
// the first refresh at once. It fails only when the Store cannot be read;
// billing being unreachable is not an error (see Err).
func (f *Fetcher) Open(ctx context.Context) error {
	if err := f.load(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.done = make(chan struct{})
	go f.loop(ctx)
	return nil
}

// Close stops refreshing and waits for the refresh in flight.
func (f *Fetcher) Close() error {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
	return nil
}

func (f *Fetcher) loop(ctx context.Context) {
	defer close(f.done)
	for {
		_ = f.Refresh(ctx) // logged inside
		t := time.NewTimer(f.next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// next draws the wait before the next refresh: Refresh ± Jitter.
func (f *Fetcher) next() time.Duration {
	j := f.cfg.Jitter
	if j <= 0 {
		return f.cfg.Refresh
	}
	return f.cfg.Refresh - j + rand.N(2*j+1)
}

// load reads every tenant's stored policy.
func (f *Fetcher) load(ctx context.Context) error {
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	for _, tenant := range f.Tenants() {
		sp, ok, err := f.cfg.Store.Load(ctx, tenant)
		if err != nil {
			return fmt.Errorf("policy: load %s: %w", tenant, err)
		}
		if !ok {
			continue
		}
		p, err := f.decodeStored(tenant, sp)
		if err != nil {
			f.reject(tenant, "stored policy", err)
			continue
		}
		f.mu.Lock()
		f.policies[tenant] = held{pol: p, sp: sp}
		if f.wantKey == "" {
			f.wantKey = sp.KeyID
		}
		f.mu.Unlock()
		f.log.Info("loaded stored policy", "tenant", tenant, "version", p.Version, "status", p.Status, "tier", p.Tier)
		f.changed(p)
	}
	return nil
}

// decodeStored turns a stored policy back into a Policy: verified when a
// key is pinned, else read as stored (see the package doc).
func (f *Fetcher) decodeStored(tenant string, sp contract.SignedPolicy) (contract.Policy, error) {
	var p contract.Policy
	var err error
	if f.cfg.PublicKey != nil {
		p, err = contract.VerifyPolicy(sp, f.cfg.PublicKey)
	} else {
		p, err = decodeUnverified(sp)
	}
	if err != nil {
		return contract.Policy{}, err
	}
	if p.Tenant != tenant {
		return contract.Policy{}, fmt.Errorf("policy is for tenant %q", p.Tenant)
	}
	return p, nil
}

func (f *Fetcher) changed(p contract.Policy) {
	if f.cfg.OnChange != nil {
		f.cfg.OnChange(p)
	}
}

func (f *Fetcher) reject(tenant, what string, err error) {
	why := what + ": " + err.Error()
	f.mu.Lock()
	f.rejected++
	repeat := f.lastReject[tenant] == why
	if f.lastReject == nil {
		f.lastReject = map[string]string{}
	}
	f.lastReject[tenant] = why
	f.mu.Unlock()
	f.log.Warn("rejected "+what+"; keeping the last good policy", "tenant", tenant, "err", err)
	if repeat || f.cfg.Audit == nil {
		return
	}
	aerr := f.cfg.Audit.Append(context.Background(), audit.Event{
		Actor: audit.Actor{Kind: "system"}, Action: ActionRejected, Target: "tenant:" + tenant, Outcome: audit.OutcomeDenied,
		Detail: map[string]string{"what": what, "reason": err.Error()},
	})
	if aerr != nil {
		f.log.Warn("audit record failed", "action", ActionRejected, "tenant", tenant, "err", aerr)
	}
}
