package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestSetTierUnchanged: moving a tenant to the tier it is on used to
// answer like a change; it now says nothing changed and audits nothing.
func TestSetTierUnchanged(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	path := "/api/v1/tenants/" + acme.ID
	auditLen := func() int {
		var a auditBody
		e.want(200, "GET", path+"/audit", adminKey, nil, &a)
		return len(a.Entries)
	}
	before := auditLen()
	r := e.want(200, "PATCH", path, adminKey, map[string]string{"tier": "starter"}, nil)
	var out struct {
		ledger.Tenant
		Unchanged bool `json:"unchanged"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || !out.Unchanged || out.ID != acme.ID || out.Tier != "starter" {
		t.Fatalf("same tier = %s, want the tenant with unchanged true", r.body)
	}
	if n := auditLen(); n != before {
		t.Fatalf("same tier added %d audit entries", n-before)
	}
	r = e.want(200, "PATCH", path, adminKey, map[string]string{"tier": "professional"}, nil)
	if strings.Contains(string(r.body), "unchanged") {
		t.Fatalf("a real change answered %s", r.body)
	}
	// A name patch with a tier already in force is a change.
	r = e.want(200, "PATCH", path, adminKey, map[string]string{"tier": "professional", "name": "acme-2"}, nil)
	if strings.Contains(string(r.body), "unchanged") {
		t.Fatalf("a rename answered %s", r.body)
	}
}

// TestDuplicateTenantName: a second tenant of an organization with the
// same name used to be created.
func TestDuplicateTenantName(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter") // organization "acme Inc"
	r := e.do("POST", "/api/v1/tenants", adminKey, map[string]string{
		"organization": "ACME Inc", "name": "Acme", "tier": "free", "email": "x@acme.example",
	})
	if r.status != 409 || r.errCode() != jsonapi.CodeConflict || !strings.Contains(r.errMsg(), acme.ID) {
		t.Fatalf("duplicate name = %d %s, want 409 naming %s", r.status, r.body, acme.ID)
	}
	other := e.tenant("globex", "free")
	if r := e.do("PATCH", "/api/v1/tenants/"+other.ID, adminKey, map[string]string{"organization": "acme Inc", "name": "acme"}); r.status != 409 || !strings.Contains(r.errMsg(), acme.ID) {
		t.Fatalf("rename into a duplicate = %d %s, want 409", r.status, r.body)
	}
}
