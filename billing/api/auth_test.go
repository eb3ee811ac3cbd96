package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestAccess checks every route against every kind of credential: admin
// keys see everything; a tenant read key reads its own tenant only (other
// tenants 404, admin operations 403); an enrollment token sends usage and
// reads its tenants' policies; anything else is 401.
func TestAccess(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	cl := e.cluster("cl-1", acme.ID)
	acmeKey := e.readKey(acme.ID).Key
	e.billJanuary(cl.EnrollmentToken, acme.ID)
	acmeInv := ledger.InvoiceID(acme.ID, acme.CreatedAt)
	globexInv := ledger.InvoiceID(globex.ID, globex.CreatedAt)

	const (
		admin   = "admin"
		admin2  = "admin2"
		tenant  = "tenant"
		cluster = "cluster"
		none    = "none"
		bogus   = "bogus"
	)
	keys := map[string]string{admin: adminKey, admin2: adminKey2, tenant: acmeKey, cluster: cl.EnrollmentToken, none: "", bogus: "abk_not-a-key"}
	a, g := "/api/v1/tenants/"+acme.ID, "/api/v1/tenants/"+globex.ID
	tests := []struct {
		method, path string
		want         map[string]int // by credential; missing: 401 for none/bogus
	}{
		{"GET", "/api/v1/whoami", map[string]int{admin: 200, tenant: 200, cluster: 200}},
		{"GET", "/api/v1/cluster", map[string]int{admin: 200, tenant: 403, cluster: 403}},
		{"GET", "/api/v1/tenants", map[string]int{admin: 200, admin2: 200, tenant: 200, cluster: 403}},
		{"GET", a, map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", g, map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", a + "/audit", map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", g + "/audit", map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", a + "/usage", map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", g + "/usage", map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", a + "/payments", map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", g + "/payments", map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", a + "/policy", map[string]int{admin: 200, tenant: 200, cluster: 200}},
		{"GET", g + "/policy", map[string]int{admin: 200, tenant: 404, cluster: 404}},
		{"GET", a + "/keys", map[string]int{admin: 200, tenant: 403, cluster: 403}},
		{"GET", "/api/v1/invoices", map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", "/api/v1/invoices?tenant_id=" + globex.ID, map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", "/api/v1/invoices/" + acmeInv, map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", "/api/v1/invoices/" + globexInv, map[string]int{admin: 200, tenant: 404, cluster: 403}},
		{"GET", "/api/v1/invoices/" + acmeInv + "?format=html", map[string]int{admin: 200, tenant: 200, cluster: 403}},
		{"GET", "/api/v1/payment/pricing", map[string]int{admin: 200, tenant: 200, cluster: 200}},
		{"GET", "/api/v1/policy/public-key", map[string]int{admin: 200, tenant: 200, cluster: 200}},
		{"GET", "/api/v1/clusters/cl-1", map[string]int{admin: 200, tenant: 403, cluster: 200}},
		// Writes: tenant keys and tokens are refused before the body is read.
		{"POST", "/api/v1/tenants", map[string]int{tenant: 403, cluster: 403}},
		{"PATCH", a, map[string]int{tenant: 403, cluster: 403}},
		{"DELETE", a, map[string]int{tenant: 403, cluster: 403}},
		{"POST", a + "/suspend", map[string]int{tenant: 403, cluster: 403}},
		{"POST", a + "/resume", map[string]int{tenant: 403, cluster: 403}},
		{"POST", a + "/keys", map[string]int{tenant: 403, cluster: 403}},
		{"DELETE", a + "/keys/key_x", map[string]int{tenant: 403, cluster: 403}},
		{"DELETE", a + "/agent-keys/0123456789abcdef", map[string]int{admin: 200, tenant: 403, cluster: 403}},
		{"POST", "/api/v1/clusters", map[string]int{tenant: 403, cluster: 403}},
		{"POST", "/api/v1/usage", map[string]int{admin: 403, tenant: 403}},
		{"POST", "/api/v1/clusters/cl-1/nodes", map[string]int{admin: 403, tenant: 403, cluster: 400}},
		{"POST", "/api/v1/invoices/" + acmeInv + "/finalize", map[string]int{tenant: 403, cluster: 403}},
		{"POST", "/api/v1/invoices/" + acmeInv + "/void", map[string]int{tenant: 403, cluster: 403}},
		{"POST", "/api/v1/invoices/" + acmeInv + "/uncollectible", map[string]int{tenant: 403, cluster: 403}},
		{"POST", "/api/v1/invoices/" + acmeInv + "/payments", map[string]int{tenant: 403, cluster: 403}},
		{"GET", "/metrics", map[string]int{admin: 200, tenant: 403, cluster: 403}},
		{"GET", "/health", map[string]int{none: 200, bogus: 200}},
		{"GET", "/api/v1/cluster/self", map[string]int{none: 200, bogus: 200}},
	}
	for _, tc := range tests {
		for cred, key := range keys {
			want, ok := tc.want[cred]
			if !ok {
				switch cred {
				case none, bogus:
					want = 401
				default:
					continue
				}
			}
			r := e.do(tc.method, tc.path, key, nil)
			if r.status != want {
				t.Errorf("%s %s with %s = %d %s, want %d", tc.method, tc.path, cred, r.status, r.body, want)
			}
			if want == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s: 401 without WWW-Authenticate", tc.method, tc.path, cred)
			}
		}
	}

	// A tenant key lists only its own tenant and invoices.
	var page ledger.TenantPage
	e.want(200, "GET", "/api/v1/tenants", acmeKey, nil, &page)
	if page.Total != 1 || len(page.Tenants) != 1 || page.Tenants[0].ID != acme.ID {
		t.Fatalf("tenant key lists %+v", page)
	}
	var list invoicesBody
	e.want(200, "GET", "/api/v1/invoices", acmeKey, nil, &list)
	if len(list.Invoices) != 1 || list.Invoices[0].Tenant != acme.ID {
		t.Fatalf("tenant key lists invoices %+v", list.Invoices)
	}
	var who whoamiBody
	e.want(200, "GET", "/api/v1/whoami", acmeKey, nil, &who)
	if who.Kind != "tenant" || who.TenantID != acme.ID {
		t.Fatalf("whoami = %+v", who)
	}
}

func TestTenantKeys(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "free")
	k := e.readKey(acme.ID)
	if !strings.HasPrefix(k.Key, tenantKeyPrefix) || k.Role != ledger.APIKeyRoleRead || k.Tenant != acme.ID || !strings.HasPrefix(k.CreatedBy, "admin:") ||
		!strings.HasPrefix(k.ID, "bk_") || k.Name != "ci" || k.Last4 != k.Key[len(k.Key)-4:] {
		t.Fatalf("created key = %+v", k)
	}
	var keys keysBody
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/keys", adminKey, nil, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].ID != k.ID {
		t.Fatalf("keys = %+v", keys)
	}
	sum := sha256.Sum256([]byte(k.Key))
	if r := e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/keys", adminKey, nil, nil); strings.Contains(string(r.body), k.Key) ||
		strings.Contains(string(r.body), hex.EncodeToString(sum[:])) || strings.Contains(string(r.body), "sha256") {
		t.Fatalf("key listing shows the key or its hash: %s", r.body)
	}
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID, k.Key, nil, nil)

	e.want(400, "POST", "/api/v1/tenants/"+acme.ID+"/keys", adminKey, map[string]string{"role": "admin"}, nil)
	e.want(404, "POST", "/api/v1/tenants/tn_nope/keys", adminKey, nil, nil)
	e.want(404, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/key_nope", adminKey, nil, nil)

	var revoked ledger.APIKey
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/"+k.ID, adminKey, nil, &revoked)
	if revoked.RevokedAt.IsZero() {
		t.Fatalf("revoked key = %+v", revoked)
	}
	if r := e.do("GET", "/api/v1/tenants/"+acme.ID, k.Key, nil); r.status != 401 || !strings.Contains(r.errMsg(), "revoked") {
		t.Fatalf("revoked key = %d %s, want 401 revoked", r.status, r.body)
	}
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/"+k.ID, adminKey, nil, nil) // idempotent

	// Both are on the tenant's audit trail, by the admin who asked; the
	// tenant's policy (agent keys) is untouched.
	var audit auditBody
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/audit", adminKey, nil, &audit)
	var keyActions []string
	for _, a := range audit.Entries {
		if a.Entity == "api_key" {
			if a.EntityID != k.ID || a.Actor != k.CreatedBy || a.Details["last4"] != k.Last4 {
				t.Errorf("audit entry %+v", a)
			}
			keyActions = append(keyActions, a.Action)
		}
	}
	if strings.Join(keyActions, ",") != "api_key.created,api_key.revoked" {
		t.Fatalf("api key audit actions = %v", keyActions)
	}
	var sp contract.SignedPolicy
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/policy", adminKey, nil, &sp)
	if !strings.Contains(string(sp.Payload), `"revoked_keys":[]`) {
		t.Fatalf("policy after revoking a billing key = %s", sp.Payload)
	}

	// No keys for deleted tenants.
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID, adminKey, nil, nil)
	e.want(409, "POST", "/api/v1/tenants/"+acme.ID+"/keys", adminKey, nil, nil)
}

func TestAuthorizationHeader(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "Basic abc", "Bearer ", "Bearer wrong-key"} {
		r := e.doHeader("GET", "/api/v1/tenants", h)
		if r.status != 401 || r.errCode() != jsonapi.CodeUnauthenticated {
			t.Errorf("Authorization %q = %d %s, want 401", h, r.status, r.body)
		}
	}
	if r := e.doHeader("GET", "/api/v1/tenants", "bearer "+adminKey); r.status != 200 {
		t.Fatalf("lowercase scheme = %d", r.status)
	}
}
