package agent

import (
	"errors"
	"testing"

	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/tier"
)

func starterPolicy(t *testing.T, tenant string, version uint64) contract.Policy {
	t.Helper()
	tr, ok := tier.Defaults().Get("starter")
	if !ok {
		t.Fatal("no starter tier")
	}
	return contract.Policy{Tenant: tenant, Tier: tr.Name, Status: contract.StatusActive, Limits: tr.Limits, Included: contract.Included(tr.Included), QuotaAction: contract.QuotaAction(tr.QuotaAction), Version: version}
}

func TestGovernor(t *testing.T) {
	g := newGovernor(quietLogger())
	if _, err := g.Enforcer("t1"); !errors.Is(err, policy.ErrNoPolicy) {
		t.Fatalf("Enforcer without a policy = %v, want ErrNoPolicy", err)
	}
	g.setNodes(3)
	p := starterPolicy(t, "t1", 1)
	p.RevokedAgentKeys = []string{"k1"}
	g.onPolicy(p)
	e, err := g.Enforcer("t1")
	if err != nil || e.Policy().Version != 1 {
		t.Fatalf("Enforcer = %v, %v", e, err)
	}
	if !g.has("t1") || g.has("t2") || len(g.revoked("t1")) != 1 || g.revoked("t2") != nil {
		t.Fatalf("has/revoked wrong: %v %v", g.revoked("t1"), g.revoked("t2"))
	}

	// A new policy updates the same enforcer.
	p2 := starterPolicy(t, "t1", 2)
	p2.Status = contract.StatusSuspended
	g.onPolicy(p2)
	if e2, _ := g.Enforcer("t1"); e2 != e || e2.Policy().Status != contract.StatusSuspended || len(g.revoked("t1")) != 0 {
		t.Fatalf("after a new policy: same enforcer %v, policy %+v", e2 == e, e2.Policy())
	}
	if d := e.Write(); d.Allow || d.Status != 402 {
		t.Fatalf("suspended write = %+v", d)
	}

	// A policy the enforcer refuses keeps the previous one.
	bad := starterPolicy(t, "t1", 3)
	bad.QuotaAction = "explode"
	g.onPolicy(bad)
	if e3, _ := g.Enforcer("t1"); e3.Policy().Version != 2 {
		t.Fatalf("bad policy installed: %+v", e3.Policy())
	}
	// ...and one refused for a new tenant leaves it without an enforcer.
	bad.Tenant = "t2"
	g.onPolicy(bad)
	if _, err := g.Enforcer("t2"); !errors.Is(err, policy.ErrNoPolicy) {
		t.Fatalf("bad first policy: %v", err)
	}

	// Live node changes reach every enforcer; n < 1 counts as 1.
	g.setNodes(0)
	if g.liveNodes() != 1 {
		t.Fatalf("liveNodes = %d", g.liveNodes())
	}
	g.setNodes(2)
	if g.liveNodes() != 2 {
		t.Fatalf("liveNodes = %d", g.liveNodes())
	}
}
