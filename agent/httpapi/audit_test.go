package httpapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
)

// findEvent returns the events of action whose target is target ("" for
// any).
func findEvent(rec *audittest.Recorder, action, target string) []audit.Event {
	var out []audit.Event
	for _, e := range rec.Actions(action) {
		if target == "" || e.Target == target {
			out = append(out, e)
		}
	}
	return out
}

func TestAuditEvents(t *testing.T) {
	rec := &audittest.Recorder{}
	e := newManagedEnv(t, func(c *Config) { c.Audit = rec; c.Now = func() time.Time { return epoch } })

	// Key creation and revocation by the cluster admin.
	k := e.createKey(adminKey, `{"tenant":"alpha","role":"readwrite","name":"ci"}`)
	e.must(200, "DELETE", "/api/v1/keys/"+k.ID, adminKey, "")
	// The revoked key, a wrong key (many times), no key, a tenant key
	// lacking the role.
	e.must(401, "GET", "/api/v1/collections", k.Key, "")
	for range 50 {
		e.must(401, "GET", "/api/v1/collections", wrongKey, "")
	}
	e.must(401, "GET", "/api/v1/collections", "", "")
	e.must(403, "POST", "/api/v1/keys", alphaRead, `{"role":"read"}`)
	// Collection and index changes of a tenant.
	e.must(201, "PUT", "/api/v1/collections/c/documents/d", alphaRW, `{"data":{"a":1}}`)
	e.must(201, "POST", "/api/v1/collections/c/indexes", alphaAdmin, `{"field":"a"}`)
	e.must(204, "DELETE", "/api/v1/collections/c/indexes/a", alphaAdmin, "")
	e.must(204, "DELETE", "/api/v1/collections/c", alphaAdmin, "")
	e.must(201, "PUT", "/api/v1/collections/empty", alphaRW, "")
	// A write of a tenant without a policy; membership.
	e.must(503, "PUT", "/api/v1/collections/c/documents/d", noPolicyRW, `{"data":{}}`)
	e.must(204, "DELETE", "/api/v1/cluster/members/ghost", adminKey, "")

	tests := []struct {
		action, target string
		outcome        audit.Outcome
		check          func(audit.Event) error
	}{
		{ActionKeyCreate, "key:" + k.ID, audit.OutcomeOK, func(ev audit.Event) error {
			if ev.Actor.Kind != "admin" || ev.Detail["tenant"] != "alpha" || ev.Detail["role"] != "readwrite" || ev.Detail["key_id"] != k.ID {
				return fmt.Errorf("actor %+v detail %v", ev.Actor, ev.Detail)
			}
			return nil
		}},
		{ActionKeyRevoke, "key:" + k.ID, audit.OutcomeOK, nil},
		{ActionAuthFailed, "", audit.OutcomeDenied, nil},
		{ActionAuthDenied, "route:POST /api/v1/keys", audit.OutcomeDenied, func(ev audit.Event) error {
			if ev.Detail["reason"] != "insufficient_role" || ev.Actor.KeyID != "ka-r" || ev.Actor.Tenant != "alpha" {
				return fmt.Errorf("actor %+v detail %v", ev.Actor, ev.Detail)
			}
			return nil
		}},
		{ActionIndexCreate, "index:alpha/c/a", audit.OutcomeOK, nil},
		{ActionIndexDrop, "index:alpha/c/a", audit.OutcomeOK, nil},
		{ActionCollectionDrop, "collection:alpha/c", audit.OutcomeOK, func(ev audit.Event) error {
			if ev.Actor.Kind != "tenant_key" || ev.Actor.KeyID != "ka-adm" {
				return fmt.Errorf("actor %+v", ev.Actor)
			}
			return nil
		}},
		{ActionCollectionCreate, "collection:alpha/empty", audit.OutcomeOK, func(ev audit.Event) error {
			if ev.Actor.KeyID != "ka-rw" {
				return fmt.Errorf("actor %+v", ev.Actor)
			}
			return nil
		}},
		{ActionQuotaRejected, "tenant:gamma", audit.OutcomeError, func(ev audit.Event) error {
			if ev.Detail["limit"] != auditLimitNoPolicy {
				return fmt.Errorf("detail %v", ev.Detail)
			}
			return nil
		}},
		{ActionMemberRemove, "node:ghost", audit.OutcomeOK, nil},
	}
	for _, tt := range tests {
		evs := findEvent(rec, tt.action, tt.target)
		if len(evs) == 0 {
			t.Errorf("no %s event of %q in %+v", tt.action, tt.target, rec.Events())
			continue
		}
		if evs[0].Outcome != tt.outcome {
			t.Errorf("%s %s outcome = %s, want %s", tt.action, tt.target, evs[0].Outcome, tt.outcome)
		}
		if tt.check != nil {
			if err := tt.check(evs[0]); err != nil {
				t.Errorf("%s %s: %v", tt.action, tt.target, err)
			}
		}
	}

	// Failed authentications: one record per reason (the 50 wrong keys
	// coalesced), the revoked key named by its id.
	reasons := map[string]int{}
	for _, ev := range rec.Actions(ActionAuthFailed) {
		reasons[ev.Detail["reason"]]++
		if ev.Detail["reason"] == "revoked_key" && ev.Actor.KeyID != k.ID {
			t.Errorf("revoked key failure actor = %+v, want key id %s", ev.Actor, k.ID)
		}
	}
	if reasons["invalid_key"] != 1 || reasons["revoked_key"] != 1 || reasons["missing_credential"] != 1 {
		t.Errorf("auth.failed reasons = %v, want one each of invalid_key, revoked_key, missing_credential", reasons)
	}
	if err := e.srv.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var repeats []string
	for _, ev := range rec.Actions(ActionAuthFailed) {
		if r := ev.Detail["repeats"]; r != "" {
			repeats = append(repeats, ev.Detail["reason"]+"="+r)
		}
	}
	if strings.Join(repeats, ",") != "invalid_key=49" {
		t.Errorf("coalesced failures = %v, want invalid_key=49", repeats)
	}

	// No event holds a secret.
	dump := fmt.Sprintf("%+v", rec.Events())
	for _, secret := range []string{k.Key, adminKey, wrongKey, alphaRead, alphaRW} {
		if strings.Contains(dump, secret) {
			t.Errorf("audit events hold secret %q: %s", secret, dump)
		}
	}
}

func TestAuditQuotaRefusalsCoalesced(t *testing.T) {
	rec := &audittest.Recorder{}
	e := newManagedEnv(t, func(c *Config) { c.Audit = rec; c.Now = func() time.Time { return epoch } })
	for range 20 {
		e.must(503, "PUT", "/api/v1/collections/c/documents/d", noPolicyRW, `{"data":{}}`)
	}
	if got := len(rec.Actions(ActionQuotaRejected)); got != 1 {
		t.Fatalf("quota.rejected records = %d, want 1 for 20 refusals in a minute", got)
	}
}
