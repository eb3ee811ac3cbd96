package agent

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// governor keeps one quota.Enforcer per tenant of a managed agent, made
// from the tenant's verified policy (policy.Fetcher's OnChange) and
// rebalanced over the live nodes (setNodes). It is the httpapi Governor.
type governor struct {
	log *slog.Logger

	mu        sync.RWMutex
	enforcers map[string]*quota.Enforcer
	// revokedKeys are the key ids each tenant's latest policy revokes,
	// kept even when the enforcer refused that policy.
	revokedKeys map[string][]string
	// versions is the version of each tenant's latest policy.
	versions map[string]uint64
	nodes    int
}

var _ httpapi.Governor = (*governor)(nil)

func newGovernor(log *slog.Logger) *governor {
	return &governor{log: log, enforcers: map[string]*quota.Enforcer{}, revokedKeys: map[string][]string{}, versions: map[string]uint64{}, nodes: 1}
}

// Enforcer implements httpapi.Governor: the tenant's enforcer, or an error
// wrapping policy.ErrNoPolicy while no policy of the tenant was obtained
// (then the API serves reads and refuses writes).
func (g *governor) Enforcer(tenant string) (*quota.Enforcer, error) {
	g.mu.RLock()
	e := g.enforcers[tenant]
	g.mu.RUnlock()
	if e == nil {
		return nil, fmt.Errorf("tenant %s: %w", tenant, policy.ErrNoPolicy)
	}
	return e, nil
}

// onPolicy installs a tenant's policy: a new enforcer, or SetPolicy on the
// existing one (which keeps the tokens in use). A policy the enforcer
// refuses is logged and leaves the previous one in force. A policy older
// than the one in force is ignored: policies arrive both from this node's
// fetcher and from the replicated state as it is applied (the tenancy
// state machine's OnPolicy), in either order.
func (g *governor) onPolicy(p contract.Policy) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.versions[p.Tenant]; ok && p.Version < v {
		return
	}
	g.versions[p.Tenant] = p.Version
	g.revokedKeys[p.Tenant] = p.RevokedAgentKeys
	if e := g.enforcers[p.Tenant]; e != nil {
		if err := e.SetPolicy(p); err != nil {
			g.log.Error("policy refused by the quota enforcer; keeping the previous one", "tenant", p.Tenant, "version", p.Version, "err", err)
			return
		}
		g.log.Info("policy in force", "tenant", p.Tenant, "version", p.Version, "tier", p.Tier, "status", p.Status)
		return
	}
	e, err := quota.New(quota.Config{Policy: p, Nodes: g.nodes})
	if err != nil {
		g.log.Error("policy refused by the quota enforcer; the tenant's writes stay refused", "tenant", p.Tenant, "version", p.Version, "err", err)
		return
	}
	g.enforcers[p.Tenant] = e
	g.log.Info("policy in force", "tenant", p.Tenant, "version", p.Version, "tier", p.Tier, "status", p.Status)
}

// setNodes rebalances every tenant's cluster-wide limits over n live nodes
// (see liveness.go for how n is counted).
func (g *governor) setNodes(n int) {
	n = max(n, 1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if n == g.nodes {
		return
	}
	g.log.Info("rebalancing cluster-wide quotas", "live_nodes", n, "was", g.nodes)
	g.nodes = n
	for _, e := range g.enforcers {
		e.SetNodes(n)
	}
}

// liveNodes returns the node count the limits are shared among.
func (g *governor) liveNodes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes
}

// revoked returns the key ids the tenant's policy in force revokes (for
// the tenancy authenticator); nil without a policy.
func (g *governor) revoked(tenant string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.revokedKeys[tenant]
}

// has reports whether tenant has a policy in force.
func (g *governor) has(tenant string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.enforcers[tenant] != nil
}

// stats sums the enforcers' counters over tenants (metrics carry no
// tenant label).
func (g *governor) stats() map[quota.Key]int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := map[quota.Key]int64{}
	for _, e := range g.enforcers {
		for k, v := range e.Stats() {
			out[k] += v
		}
	}
	return out
}
