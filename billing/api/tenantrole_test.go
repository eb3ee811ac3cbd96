package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// tenantKey creates a billing key of role for tenant with the admin key.
func (e *env) tenantKey(tenant, role string) keyOut {
	e.t.Helper()
	var k keyOut
	e.want(201, "POST", "/api/v1/tenants/"+tenant+"/keys", adminKey, map[string]string{"name": role + " key", "role": role}, &k)
	if k.Role != role || k.Tenant != tenant || k.Key == "" {
		e.t.Fatalf("created key %+v, want role %s of %s with its secret", k, role, tenant)
	}
	return k
}

// ownedCluster registers a cluster with a tenant key of tenant.
func (e *env) ownedCluster(id, tenant, key string) clusterOut {
	e.t.Helper()
	var out clusterOut
	e.want(201, "POST", "/api/v1/clusters", key, map[string]any{"cluster_id": id, "tenants": []string{tenant}}, &out)
	if out.Owner != tenant || out.EnrollmentToken == "" {
		e.t.Fatalf("registered %+v, want a cluster owned by %s with its token", out, tenant)
	}
	return out
}

// billJanuary reports one request of tenant through a cluster's token,
// moves the clock to February and drafts January's invoices, so every
// tenant has one; it returns the new time.
func (e *env) billJanuary(token, tenant string) time.Time {
	e.t.Helper()
	e.want(200, "POST", "/api/v1/usage", token, map[string]any{"records": []any{
		usageRecord("n1", 1, tenant, e.clock.Now().Truncate(time.Hour), 1),
	}}, nil)
	feb := time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC)
	e.clock.Set(feb)
	e.closeDrafts(feb)
	return feb
}

// The credentials of the tenant role matrix.
const (
	credAdmin     = "admin"
	credOwn       = "own tenant key"
	credOther     = "other tenant's key"
	credRead      = "own read key"
	credRevoked   = "revoked tenant key"
	credMalformed = "malformed key"
	credCluster   = "cluster token"
)

// served is the expectation of a request the credential may make: it
// passes authentication and authorization (whatever the handler then
// answers: 2xx, or 400/409 for the state the matrix leaves things in),
// never 401, 403, 404 or a 5xx.
const served = -1

// pageNotFound expects the checkout page's 404 for an unknown intent: an
// HTML page, so no JSON message to check (TestCheckoutNotFound checks it).
const pageNotFound = -2

// TestTenantRoleMatrix runs every route of the billing API with each kind
// of credential: the admin key; a tenant key (role tenant) of the tenant
// the request is about, and one of another tenant; a read key; a revoked
// tenant key; a malformed key; a cluster's enrollment token. A tenant key
// acts for its own tenant (its record, tier, keys, usage and invoices,
// and the clusters it registered) and sees nothing of another: another
// tenant's resources answer 404, operator routes 403.
func TestTenantRoleMatrix(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	own := e.tenantKey(acme.ID, ledger.APIKeyRoleTenant)
	other := e.tenantKey(globex.ID, ledger.APIKeyRoleTenant)
	read := e.tenantKey(acme.ID, ledger.APIKeyRoleRead)
	revoked := e.tenantKey(acme.ID, ledger.APIKeyRoleTenant)
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/"+revoked.ID, adminKey, nil, nil)
	ownCl := e.ownedCluster("own-cl", acme.ID, own.Key)
	e.ownedCluster("gx-cl", globex.ID, other.Key)
	admCl := e.cluster("adm-cl", acme.ID) // serves acme, owned by no tenant
	feb := e.billJanuary(admCl.EnrollmentToken, acme.ID)
	acmeInv := ledger.InvoiceID(acme.ID, acme.CreatedAt)
	globexInv := ledger.InvoiceID(globex.ID, globex.CreatedAt)

	creds := map[string]string{
		credAdmin: adminKey, credOwn: own.Key, credOther: other.Key, credRead: read.Key,
		credRevoked: revoked.Key, credMalformed: "abk_not-a-key", credCluster: admCl.EnrollmentToken,
	}
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
	// freshTenant is a tenant the request may change for good.
	freshTenant := func() string { return e.tenant(fresh("t"), "free").ID }
	a := "/api/v1/tenants/" + acme.ID

	type req struct {
		path string
		body any
	}
	fixed := func(path string, body any) func() req { return func() req { return req{path, body} } }
	tests := []struct {
		method, pattern string
		// make returns the request, per credential: routes that change
		// something get a resource of their own each time.
		make func() req
		// want is by credential; missing means 401 for the revoked and
		// malformed keys and 403 for every other credential.
		want map[string]int
	}{
		{"GET", "/health", fixed("/health", nil), all(200)},
		{"GET", "/readyz", fixed("/readyz", nil), all(200)},
		{"GET", "/metrics", fixed("/metrics", nil), map[string]int{credAdmin: 200}},
		{"GET", "/api/v1/cluster/self", fixed("/api/v1/cluster/self", nil), all(200)},
		{"GET", "/api/v1/cluster", fixed("/api/v1/cluster", nil), map[string]int{credAdmin: 200}},
		{"GET", "/api/v1/whoami", fixed("/api/v1/whoami", nil), keys(200, credAdmin, credOwn, credOther, credRead, credCluster)},

		{"POST", "/api/v1/tenants", func() req {
			return req{"/api/v1/tenants", map[string]string{"organization": "Org", "name": fresh("new"), "tier": "free", "email": "a@b.example"}}
		}, map[string]int{credAdmin: 201}},
		{"GET", "/api/v1/tenants", fixed("/api/v1/tenants", nil), keys(200, credAdmin, credOwn, credOther, credRead)},
		{"GET", "/api/v1/tenants/{id}", fixed(a, nil), mine(200)},
		{"PATCH", "/api/v1/tenants/{id}", fixed(a, map[string]string{"tier": "professional"}), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404}},
		{"DELETE", "/api/v1/tenants/{id}", func() req { return req{"/api/v1/tenants/" + freshTenant(), nil} }, map[string]int{credAdmin: 200}},
		{"POST", "/api/v1/tenants/{id}/suspend", func() req { return req{"/api/v1/tenants/" + freshTenant() + "/suspend", nil} }, map[string]int{credAdmin: 200}},
		{"POST", "/api/v1/tenants/{id}/resume", func() req {
			id := freshTenant()
			e.want(200, "POST", "/api/v1/tenants/"+id+"/suspend", adminKey, nil, nil)
			return req{"/api/v1/tenants/" + id + "/resume", nil}
		}, map[string]int{credAdmin: 200}},
		{"GET", "/api/v1/tenants/{id}/audit", fixed(a+"/audit", nil), mine(200)},
		{"GET", "/api/v1/tenants/{id}/usage", fixed(a+"/usage", nil), mine(200)},
		{"GET", "/api/v1/tenants/{id}/payments", fixed(a+"/payments", nil), mine(200)},
		{"GET", "/api/v1/tenants/{id}/policy", fixed(a+"/policy", nil), with(mine(200), credCluster, 200)},
		{"POST", "/api/v1/tenants/{id}/keys", fixed(a+"/keys", map[string]string{"name": "ci"}), map[string]int{credAdmin: 201, credOwn: 201, credOther: 404}},
		{"GET", "/api/v1/tenants/{id}/keys", fixed(a+"/keys", nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404}},
		{"DELETE", "/api/v1/tenants/{id}/keys/{key}", func() req {
			return req{a + "/keys/" + e.tenantKey(acme.ID, ledger.APIKeyRoleRead).ID, nil}
		}, map[string]int{credAdmin: 200, credOwn: 200, credOther: 404}},
		{"DELETE", "/api/v1/tenants/{id}/agent-keys/{key}", fixed(a+"/agent-keys/0123456789abcdef", nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404}},
		{"GET", "/api/v1/policy/public-key", fixed("/api/v1/policy/public-key", nil), keys(200, credAdmin, credOwn, credOther, credRead, credCluster)},

		// A tenant key registers clusters of its own tenant only: naming
		// another tenant is refused before anything is looked up.
		{"POST", "/api/v1/clusters", func() req {
			return req{"/api/v1/clusters", map[string]any{"cluster_id": fresh("cl"), "tenants": []string{acme.ID}}}
		}, map[string]int{credAdmin: 201, credOwn: 201}},
		{"GET", "/api/v1/clusters/{id}", fixed("/api/v1/clusters/"+ownCl.ClusterID, nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404, credCluster: 404}},
		{"DELETE", "/api/v1/clusters/{id}", func() req {
			return req{"/api/v1/clusters/" + e.ownedCluster(fresh("cl"), acme.ID, own.Key).ClusterID, nil}
		}, map[string]int{credAdmin: 204, credOwn: 204, credOther: 404}},
		// A new enrollment token: the admin and the owner; never the
		// cluster's own token (it could not lose itself).
		{"POST", "/api/v1/clusters/{id}/enrollment-token", fixed("/api/v1/clusters/"+ownCl.ClusterID+"/enrollment-token", nil), map[string]int{credAdmin: 201, credOwn: 201, credOther: 404}},
		{"POST", "/api/v1/clusters/{id}/nodes", fixed("/api/v1/clusters/"+admCl.ClusterID+"/nodes",
			map[string]string{"node_id": "n1", "http_addr": "127.0.0.1:7070", "raft_addr": "127.0.0.1:7071"}), map[string]int{credCluster: 200}},
		{"GET", "/api/v1/clusters/{id}/tenants", fixed("/api/v1/clusters/"+ownCl.ClusterID+"/tenants", nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404, credCluster: 404}},
		{"POST", "/api/v1/clusters/{id}/tenants/{tenant}", fixed("/api/v1/clusters/"+ownCl.ClusterID+"/tenants/"+acme.ID, nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404}},
		// The cluster serves only acme, so the removal itself is refused
		// (409) once the caller is allowed to ask.
		{"DELETE", "/api/v1/clusters/{id}/tenants/{tenant}", fixed("/api/v1/clusters/"+ownCl.ClusterID+"/tenants/"+acme.ID+"?force=true", nil), map[string]int{credAdmin: 409, credOwn: 409, credOther: 404}},
		{"GET", "/api/v1/clusters/{id}/ca", fixed("/api/v1/clusters/"+ownCl.ClusterID+"/ca", nil), map[string]int{credAdmin: 200, credOwn: 200, credOther: 404, credCluster: 404}},
		{"POST", "/api/v1/clusters/{id}/certificates", fixed("/api/v1/clusters/"+admCl.ClusterID+"/certificates", nil), map[string]int{credCluster: served}},

		{"POST", "/api/v1/usage", fixed("/api/v1/usage", map[string]any{"records": []any{
			usageRecord("n1", 2, acme.ID, feb.Add(-time.Hour), 1),
		}}), map[string]int{credCluster: 200}},

		{"GET", "/api/v1/invoices", fixed("/api/v1/invoices", nil), keys(200, credAdmin, credOwn, credOther, credRead)},
		{"GET", "/api/v1/invoices/{id}", fixed("/api/v1/invoices/"+acmeInv, nil), mine(200)},
		{"POST", "/api/v1/invoices/{id}/finalize", fixed("/api/v1/invoices/"+acmeInv+"/finalize", nil), map[string]int{credAdmin: served}},
		{"POST", "/api/v1/invoices/{id}/void", fixed("/api/v1/invoices/"+globexInv+"/void", nil), map[string]int{credAdmin: served}},
		{"POST", "/api/v1/invoices/{id}/uncollectible", fixed("/api/v1/invoices/"+acmeInv+"/uncollectible", nil), map[string]int{credAdmin: served}},
		{"POST", "/api/v1/invoices/{id}/payments", fixed("/api/v1/invoices/"+acmeInv+"/payments",
			map[string]any{"amount_cents": 1, "external_ref": "ref-1"}), map[string]int{credAdmin: served}},
		{"GET", "/api/v1/payment/pricing", fixed("/api/v1/payment/pricing", nil), keys(200, credAdmin, credOwn, credOther, credRead, credCluster)},
		// Crypto payments are not configured here: a caller allowed in
		// gets 409 (or 400/404 for what it names) from the handler. Read
		// keys read balances and history; what changes something (a
		// challenge, a wallet link, an intent, a confirmation) takes a
		// tenant key.
		{"GET", "/api/v1/payment/wallet/challenge", fixed("/api/v1/payment/wallet/challenge?chain=solana&address=x", nil), keys(served, credAdmin, credOwn, credOther)},
		{"POST", "/api/v1/payment/wallet/connect", fixed("/api/v1/payment/wallet/connect", map[string]string{"chain": "solana"}), keys(served, credAdmin, credOwn, credOther)},
		{"POST", "/api/v1/payment/wallet/disconnect", fixed("/api/v1/payment/wallet/disconnect", map[string]string{"tenant_id": acme.ID, "chain": "solana", "address": "x"}), keys(404, credAdmin, credOwn, credOther)},
		{"GET", "/api/v1/payment/balance", fixed("/api/v1/payment/balance", nil), keys(served, credAdmin, credOwn, credOther, credRead)},
		{"POST", "/api/v1/payment/create", fixed("/api/v1/payment/create", map[string]string{"invoice_id": acmeInv, "token": "USDC"}), keys(served, credAdmin, credOwn, credOther)},
		{"POST", "/api/v1/payment/confirm", fixed("/api/v1/payment/confirm", map[string]string{"intent_id": "pi_x"}), keys(served, credAdmin, credOwn, credOther)},
		{"GET", "/api/v1/payment/history", fixed("/api/v1/payment/history?tenant_id="+acme.ID, nil), mine(200)},
		// The checkout page is open (its intent id is the secret): every
		// credential, valid or not, gets the same 404 for an unknown one.
		{"GET", "/pay/{intent}", fixed("/pay/pi_0123456789abcdef0123456789abcdef", nil), all(pageNotFound)},
		{"GET", "/pay/{intent}/status", fixed("/pay/pi_0123456789abcdef0123456789abcdef/status", nil), all(404)},
		{"GET", "/pay/{intent}/qr.svg", fixed("/pay/pi_0123456789abcdef0123456789abcdef/qr.svg", nil), all(404)},
	}

	// Every route of the table is in the matrix, so a new route cannot
	// be added without saying who may call it.
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.method+" "+tc.pattern] = true
	}
	for _, rt := range e.srv.table() {
		if !covered[rt.method+" "+rt.pattern] {
			t.Errorf("route %s %s is not in the tenant role matrix", rt.method, rt.pattern)
		}
	}

	for _, tc := range tests {
		for _, cred := range []string{credAdmin, credOwn, credOther, credRead, credRevoked, credMalformed, credCluster} {
			want, ok := tc.want[cred]
			if !ok {
				want = http.StatusForbidden
				if cred == credRevoked || cred == credMalformed {
					want = http.StatusUnauthorized
				}
			}
			rq := tc.make()
			r := e.do(tc.method, rq.path, creds[cred], rq.body)
			name := fmt.Sprintf("%s %s with the %s", tc.method, rq.path, cred)
			switch {
			case want == pageNotFound:
				if r.status != 404 {
					t.Errorf("%s = %d %s, want 404", name, r.status, r.body)
				}
			case want == served:
				if r.status == 401 || r.status == 403 || r.status == 404 || r.status >= 500 {
					t.Errorf("%s = %d %s, want it served", name, r.status, r.body)
				}
			case r.status != want:
				t.Errorf("%s = %d %s, want %d", name, r.status, r.body, want)
			case want == 401 || want == 403 || want == 404:
				// Refusals say what was wrong.
				if msg := r.errMsg(); msg == "" || want == 403 && r.errCode() != jsonapi.CodePermissionDenied {
					t.Errorf("%s = %d %s: want code and message", name, r.status, r.body)
				}
			}
		}
	}
}

// all expects status for every credential, valid or not (open routes).
func all(status int) map[string]int {
	return keys(status, credAdmin, credOwn, credOther, credRead, credRevoked, credMalformed, credCluster)
}

// keys expects status for each of creds.
func keys(status int, creds ...string) map[string]int {
	m := map[string]int{}
	for _, c := range creds {
		m[c] = status
	}
	return m
}

// mine expects status for the admin and acme's keys (tenant and read)
// and 404 for another tenant's key: a read of acme's own data.
func mine(status int) map[string]int {
	return map[string]int{credAdmin: status, credOwn: status, credRead: status, credOther: 404}
}

// with returns m with cred expecting status.
func with(m map[string]int, cred string, status int) map[string]int {
	m[cred] = status
	return m
}

// TestTenantKeyLimits: what a tenant key may do for its own tenant stops
// where another tenant, or a stronger key, begins; the refusals say so.
func TestTenantKeyLimits(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	own := e.tenantKey(acme.ID, ledger.APIKeyRoleTenant)
	cl := e.ownedCluster("own-cl", acme.ID, own.Key)
	gx := e.cluster("gx-cl", globex.ID)

	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"register for another tenant", "POST", "/api/v1/clusters", map[string]any{"tenants": []string{globex.ID}}, 403, `a tenant key registers clusters of its own tenant "` + acme.ID + `" only`},
		{"register a shared cluster", "POST", "/api/v1/clusters", map[string]any{"tenants": []string{acme.ID, globex.ID}}, 403, "of its own tenant"},
		{"add another tenant to its cluster", "POST", "/api/v1/clusters/" + cl.ClusterID + "/tenants/" + globex.ID, nil, 403, "adds or removes the tenant of its own tenant"},
		{"add itself to another's cluster", "POST", "/api/v1/clusters/" + gx.ClusterID + "/tenants/" + acme.ID, nil, 404, `cluster "gx-cl" not found`},
		{"deregister another's cluster", "DELETE", "/api/v1/clusters/" + gx.ClusterID, nil, 404, `cluster "gx-cl" not found`},
		{"unknown cluster", "GET", "/api/v1/clusters/nope", nil, 404, `cluster "nope" not found`},
		{"mint a tenant key", "POST", "/api/v1/tenants/" + acme.ID + "/keys", map[string]string{"role": "tenant"}, 403, "a tenant key creates read keys only"},
		{"unknown role", "POST", "/api/v1/tenants/" + acme.ID + "/keys", map[string]string{"role": "admin"}, 400, `role: "admin" is not offered`},
		{"create a tenant", "POST", "/api/v1/tenants", map[string]string{"name": "x"}, 403, "needs an admin key; the request used a tenant key"},
		{"suspend itself", "POST", "/api/v1/tenants/" + acme.ID + "/suspend", nil, 403, "needs an admin key"},
		{"another tenant's tier", "PATCH", "/api/v1/tenants/" + globex.ID, map[string]string{"tier": "free"}, 404, `tenant "` + globex.ID + `" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, own.Key, tt.body)
			if r.status != tt.status || !strings.Contains(r.errMsg(), tt.msg) {
				t.Fatalf("%s %s = %d %s, want %d mentioning %q", tt.method, tt.path, r.status, r.body, tt.status, tt.msg)
			}
		})
	}

	// What it may do: change its own tier, create a read key, scale and
	// deregister its own cluster; whoami names the role.
	var who whoamiBody
	e.want(200, "GET", "/api/v1/whoami", own.Key, nil, &who)
	if who.Kind != "tenant" || who.Role != ledger.APIKeyRoleTenant || who.TenantID != acme.ID {
		t.Fatalf("whoami = %+v", who)
	}
	var upd tenantUpdateOut
	e.want(200, "PATCH", "/api/v1/tenants/"+acme.ID, own.Key, map[string]string{"tier": "professional"}, &upd)
	if upd.Tenant == nil || upd.Tenant.Tier != "professional" {
		t.Fatalf("own tier change = %+v", upd)
	}
	var k keyOut
	e.want(201, "POST", "/api/v1/tenants/"+acme.ID+"/keys", own.Key, map[string]string{"name": "dashboard"}, &k)
	if k.Role != ledger.APIKeyRoleRead || k.CreatedBy != "tenant:"+acme.ID+":key:"+own.ID {
		t.Fatalf("created %+v, want a read key created by the tenant key", k.APIKey)
	}
	var list keysBody
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/keys", own.Key, nil, &list)
	for _, lk := range list.Keys {
		if lk.Last4 == "" || strings.Contains(string(e.do("GET", "/api/v1/tenants/"+acme.ID+"/keys", own.Key, nil).body), own.Key) {
			t.Fatalf("key list shows a secret or no last4: %+v", lk)
		}
	}
	var got clusterOut
	e.want(200, "GET", "/api/v1/clusters/"+cl.ClusterID, own.Key, nil, &got)
	if got.Owner != acme.ID || got.EnrollmentToken != "" {
		t.Fatalf("own cluster = %+v", got)
	}
	if r := e.do("GET", "/api/v1/clusters/"+cl.ClusterID+"/ca", own.Key, nil); r.status != 200 || !strings.Contains(string(r.body), "BEGIN CERTIFICATE") {
		t.Fatalf("own cluster's CA = %d %s", r.status, r.body)
	}
	e.want(204, "DELETE", "/api/v1/clusters/"+cl.ClusterID, own.Key, nil, nil)
	// An admin makes a cluster the tenant's own, which its key then
	// manages; an owner the cluster would not serve is refused.
	var ded clusterOut
	e.want(201, "POST", "/api/v1/clusters", adminKey, map[string]any{"cluster_id": "dedicated", "tenants": []string{acme.ID}, "owner_tenant": acme.ID}, &ded)
	if ded.Owner != acme.ID {
		t.Fatalf("admin registration with owner_tenant = %+v", ded)
	}
	e.want(200, "GET", "/api/v1/clusters/dedicated", own.Key, nil, nil)
	if r := e.do("POST", "/api/v1/clusters", adminKey, map[string]any{"tenants": []string{globex.ID}, "owner_tenant": acme.ID}); r.status != 400 || !strings.Contains(r.errMsg(), "owner_tenant") {
		t.Fatalf("owner_tenant not among tenants = %d %s", r.status, r.body)
	}
	// Revoked, the key is refused everywhere with 401.
	e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/keys/"+own.ID, adminKey, nil, nil)
	if r := e.do("GET", "/api/v1/tenants/"+acme.ID, own.Key, nil); r.status != 401 || !strings.Contains(r.errMsg(), "was revoked") {
		t.Fatalf("revoked key = %d %s", r.status, r.body)
	}
}
