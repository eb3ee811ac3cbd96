package tenancy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
)

func TestPolicyStoreAudit(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore(t)
	rec := &audittest.Recorder{}
	ps := NewPolicyStore(f, f).WithAudit(rec)
	for _, v := range []uint64{2, 2, 1, 5} { // the repeat and the older one are not saved
		if err := ps.Save(ctx, "acme", sign(t, testPolicy("acme", v, contract.Block))); err != nil {
			t.Fatal(err)
		}
	}
	evs := rec.Actions(ActionPolicyApply)
	if len(evs) != 2 {
		t.Fatalf("policy.apply events = %+v, want versions 2 and 5", evs)
	}
	for i, want := range []string{"2", "5"} {
		e := evs[i]
		if e.Target != "tenant:acme" || e.Outcome != audit.OutcomeOK || e.Detail["version"] != want ||
			e.Detail["status"] != "active" || e.Detail["tier"] != "starter" || e.Detail["quota_action"] != string(contract.Block) || e.Actor.Kind != "billing" {
			t.Errorf("event %d = %+v, want version %s of acme", i, e, want)
		}
	}
	// A failing audit log fails Save (the policy is saved all the same).
	rec.Err = errors.New("disk full")
	if err := ps.Save(ctx, "acme", sign(t, testPolicy("acme", 6, contract.Block))); err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Fatalf("Save with a failing audit log = %v", err)
	}
	rec.Err = nil
	sp, ok, err := ps.Load(ctx, "acme")
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if p, err := decodePayload(sp.Payload); err != nil || p.Version != 6 {
		t.Fatalf("stored version = %d (%v), want 6", p.Version, err)
	}
}
