package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestUnknownQueryParams: every /api/v1 route refuses the query
// parameters it does not take, naming them; a misspelt tenant filter on
// the invoice list used to answer every tenant's invoices.
func TestUnknownQueryParams(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	e.cluster("c1", acme.ID)
	tests := []struct {
		method, path string
		status       int
		want         string // substring of the error message
	}{
		{"GET", "/api/v1/invoices?tenant=" + acme.ID, 400, `unknown query parameter "tenant" (did you mean tenant_id?)`},
		{"GET", "/api/v1/invoices?tenant_id=" + acme.ID + "&status=draft&consistency=stale", 200, ""},
		{"GET", "/api/v1/tenants?limit=1&sort=name", 400, `"sort"`},
		{"GET", "/api/v1/tenants?limit=1&offset=0&include_deleted=true", 200, ""},
		{"GET", "/api/v1/tenants/" + acme.ID + "/audit?after=0&limit=5", 200, ""},
		{"GET", "/api/v1/tenants/" + acme.ID + "/audit?page=2", 400, `"page"`},
		{"GET", "/api/v1/tenants/" + acme.ID + "/usage?granularity=day&from=2026-01-01", 200, ""},
		{"GET", "/api/v1/tenants/" + acme.ID + "/usage?tenant_id=x", 400, "this route takes from, to, granularity, consistency"},
		{"GET", "/api/v1/tenants/" + acme.ID + "/payments?limit=1", 400, "this route takes consistency"},
		{"GET", "/api/v1/tenants/" + acme.ID + "/keys?all=1", 400, `"all"`},
		{"GET", "/api/v1/clusters/c1?x=1", 400, `"x"`},
		{"GET", "/api/v1/payment/pricing?tier=free", 400, `"tier"`},
		{"POST", "/api/v1/tenants/" + acme.ID + "/suspend?consistency=stale", 400, "this route takes no query parameters"},
		{"GET", "/api/v1/invoices?tenant_id=%zz", 400, "malformed query string"},
		{"GET", "/api/v1/invoices?status=draft;tenant=x", 400, "malformed query string"},
	}
	for _, tt := range tests {
		r := e.do(tt.method, tt.path, adminKey, nil)
		if r.status != tt.status || (tt.want != "" && !strings.Contains(r.errMsg(), tt.want)) {
			t.Errorf("%s %s = %d %s, want %d naming %q", tt.method, tt.path, r.status, r.body, tt.status, tt.want)
		}
	}
	// A refused parameter changes nothing: the suspension above did not happen.
	if r := e.do("GET", "/api/v1/tenants/"+acme.ID, adminKey, nil); !strings.Contains(string(r.body), `"status":"active"`) {
		t.Errorf("tenant after a refused suspend = %s", r.body)
	}
	// Anonymous callers are refused before the parameters are looked at.
	if r := e.do("GET", "/api/v1/invoices?tenant=x", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous with an unknown parameter = %d, want 401", r.status)
	}
	// Probes are not checked.
	if r := e.do("GET", "/health?probe=lb", "", nil); r.status != http.StatusOK {
		t.Errorf("/health?probe=lb = %d, want 200", r.status)
	}
}
