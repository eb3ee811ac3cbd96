package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
)

func TestAuditEvents(t *testing.T) {
	rec := &audittest.Recorder{}
	e := newEnv(t, func(c *Config) { c.Audit = rec })
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	cl := e.cluster("cl-1", acme.ID)
	key := e.readKey(acme.ID)
	e.want(200, "PATCH", "/api/v1/tenants/"+acme.ID, adminKey, map[string]string{"tier": "professional"}, nil)
	e.want(200, "POST", "/api/v1/tenants/"+globex.ID+"/suspend", adminKey, nil, nil)
	e.want(200, "POST", "/api/v1/tenants/"+globex.ID+"/resume", adminKey, nil, nil)
	e.want(200, "POST", "/api/v1/clusters/cl-1/nodes", cl.EnrollmentToken, map[string]string{"node_id": "n1", "http_addr": "127.0.0.1:7070", "raft_addr": "127.0.0.1:7071"}, nil)
	start := e.clock.Now().Truncate(time.Hour)
	// A batch accepted in full is routine (not recorded); one with a
	// rejected record is.
	e.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, map[string]any{"records": []any{usageRecord("n1", 1, acme.ID, start, 10)}}, nil)
	e.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, map[string]any{"records": []any{usageRecord("n1", 2, globex.ID, start, 10)}}, nil)
	e.want(400, "POST", "/api/v1/usage", cl.EnrollmentToken, `{"records":[]}`, nil)
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/"+key.ID, adminKey, nil, nil)
	// Refused credentials: the revoked key, a wrong key (many times), a
	// tenant key on an admin route.
	e.want(401, "GET", "/api/v1/tenants/"+acme.ID, key.Key, nil, nil)
	for range 10 {
		e.want(401, "GET", "/api/v1/tenants", "wrong-key-0123456789", nil, nil)
	}
	other := e.readKey(globex.ID)
	e.want(403, "POST", "/api/v1/tenants", other.Key, map[string]string{"name": "x"}, nil)
	e.want(200, "DELETE", "/api/v1/tenants/"+globex.ID, adminKey, nil, nil)

	tests := []struct {
		action, target string
		outcome        audit.Outcome
		detail         map[string]string
		actorKind      string
	}{
		{"tenant.create", "tenant:" + acme.ID, audit.OutcomeOK, map[string]string{"tier": "starter"}, "admin"},
		{"tenant.update", "tenant:" + acme.ID, audit.OutcomeOK, map[string]string{"tier": "professional"}, "admin"},
		{"tenant.suspend", "tenant:" + globex.ID, audit.OutcomeOK, nil, "admin"},
		{"tenant.resume", "tenant:" + globex.ID, audit.OutcomeOK, nil, "admin"},
		{"tenant.delete", "tenant:" + globex.ID, audit.OutcomeOK, nil, "admin"},
		{"cluster.register", "cluster:cl-1", audit.OutcomeOK, map[string]string{"tenants": acme.ID}, "admin"},
		{"cluster.node_register", "node:cl-1/n1", audit.OutcomeOK, map[string]string{"raft_addr": "127.0.0.1:7071"}, "cluster"},
		{"key.create", "key:" + key.ID, audit.OutcomeOK, map[string]string{"tenant": acme.ID}, "admin"},
		{"key.revoke", "key:" + key.ID, audit.OutcomeOK, nil, "admin"},
		{"usage.ingest", "cluster:cl-1", audit.OutcomeOK, map[string]string{"rejected": "1", "accepted": "0"}, "cluster"},
		{"usage.ingest", "cluster:cl-1", audit.OutcomeError, map[string]string{"status": "Bad Request"}, "cluster"},
		{ActionAuthDenied, "route:POST /api/v1/tenants", audit.OutcomeDenied, map[string]string{"reason": "wrong_credential_kind"}, "tenant_key"},
	}
	for _, tt := range tests {
		var found bool
		for _, ev := range rec.Actions(tt.action) {
			if ev.Target != tt.target || ev.Outcome != tt.outcome || ev.Actor.Kind != tt.actorKind {
				continue
			}
			ok := true
			for k, v := range tt.detail {
				if ev.Detail[k] != v {
					ok = false
				}
			}
			found = found || ok
		}
		if !found {
			t.Errorf("no %s %q %s by %s with %v in %+v", tt.action, tt.target, tt.outcome, tt.actorKind, tt.detail, rec.Actions(tt.action))
		}
	}
	if n := len(rec.Actions("usage.ingest")); n != 2 {
		t.Errorf("usage.ingest records = %d, want 2 (the batch accepted in full is not recorded)", n)
	}
	reasons := map[string]int{}
	for _, ev := range rec.Actions(ActionAuthFailed) {
		reasons[ev.Detail["reason"]]++
	}
	if reasons["revoked_key"] != 1 || reasons["invalid_key"] != 1 {
		t.Errorf("auth.failed reasons = %v, want one revoked_key and one invalid_key (ten failures coalesced)", reasons)
	}
	if err := e.srv.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum []string
	for _, ev := range rec.Actions(ActionAuthFailed) {
		if ev.Detail["repeats"] != "" {
			sum = append(sum, ev.Detail["reason"]+"="+ev.Detail["repeats"])
		}
	}
	if strings.Join(sum, ",") != "invalid_key=9" {
		t.Errorf("coalesced = %v, want invalid_key=9", sum)
	}
	dump := fmt.Sprintf("%+v", rec.Events())
	for _, secret := range []string{adminKey, key.Key, other.Key, cl.EnrollmentToken, "wrong-key-0123456789"} {
		if strings.Contains(dump, secret) {
			t.Errorf("audit events hold a secret: %s", dump)
		}
	}
}
