package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestClusterTenantRoutes: a registered cluster could not serve a second
// tenant; admins now add and remove tenants, and the cluster's token
// follows at once (whoami, policy).
func TestClusterTenantRoutes(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "free")
	cl := e.cluster("c1", acme.ID)
	base := "/api/v1/clusters/c1/tenants"

	var who whoamiBody
	e.want(200, "GET", "/api/v1/whoami", cl.EnrollmentToken, nil, &who)
	if !slices.Equal(who.Tenants, []string{acme.ID}) {
		t.Fatalf("whoami before = %+v", who)
	}
	e.want(404, "GET", "/api/v1/tenants/"+globex.ID+"/policy", cl.EnrollmentToken, nil, nil)

	var out clusterTenantsOut
	e.want(200, "POST", base+"/"+globex.ID, adminKey, nil, &out)
	want := []string{acme.ID, globex.ID}
	slices.Sort(want)
	if !slices.Equal(out.Tenants, want) || out.Unchanged {
		t.Fatalf("add = %+v, want %v", out, want)
	}
	e.want(200, "POST", base+"/"+globex.ID, adminKey, nil, &out)
	if !out.Unchanged {
		t.Fatalf("adding again = %+v, want unchanged", out)
	}
	e.want(200, "GET", "/api/v1/whoami", cl.EnrollmentToken, nil, &who)
	if !slices.Equal(who.Tenants, want) {
		t.Fatalf("whoami after add = %+v", who)
	}
	e.want(200, "GET", "/api/v1/tenants/"+globex.ID+"/policy", cl.EnrollmentToken, nil, nil)
	e.want(200, "GET", base, cl.EnrollmentToken, nil, &out)
	if !slices.Equal(out.Tenants, want) {
		t.Fatalf("list = %+v", out)
	}
	e.want(200, "GET", base, adminKey, nil, &out)

	// Only the billing admin changes the tenants; another cluster's token
	// sees nothing.
	other := e.cluster("c2", globex.ID)
	e.want(403, "POST", base+"/"+globex.ID, cl.EnrollmentToken, nil, nil)
	e.want(404, "GET", base, other.EnrollmentToken, nil, nil)
	e.want(404, "POST", "/api/v1/clusters/nope/tenants/"+globex.ID, adminKey, nil, nil)
	e.want(404, "POST", base+"/tn_nope", adminKey, nil, nil)

	// Removal refuses without force and names what to do.
	r := e.do("DELETE", base+"/"+globex.ID, adminKey, nil)
	if r.status != 409 || r.errCode() != jsonapi.CodeConflict || !strings.Contains(r.errMsg(), "ask the cluster") || !strings.Contains(r.errMsg(), "force") {
		t.Fatalf("remove without force = %d %s", r.status, r.body)
	}
	e.want(400, "DELETE", base+"/"+globex.ID+"?force=maybe", adminKey, nil, nil)
	e.want(400, "DELETE", base+"/"+globex.ID+"?forced=true", adminKey, nil, nil)
	e.want(200, "DELETE", base+"/"+globex.ID+"?force=true", adminKey, nil, &out)
	if !slices.Equal(out.Tenants, []string{acme.ID}) {
		t.Fatalf("after remove = %+v", out)
	}
	e.want(200, "GET", "/api/v1/whoami", cl.EnrollmentToken, nil, &who)
	if !slices.Equal(who.Tenants, []string{acme.ID}) {
		t.Fatalf("whoami after remove = %+v", who)
	}
	e.want(404, "GET", "/api/v1/tenants/"+globex.ID+"/policy", cl.EnrollmentToken, nil, nil)
	if r := e.do("DELETE", base+"/"+acme.ID+"?force=true", adminKey, nil); r.status != 409 || !strings.Contains(r.errMsg(), "at least one tenant") {
		t.Fatalf("removing the last tenant = %d %s", r.status, r.body)
	}
	// The tenant's trail says what happened.
	var a auditBody
	e.want(200, "GET", "/api/v1/tenants/"+globex.ID+"/audit", adminKey, nil, &a)
	var actions []string
	for _, en := range a.Entries {
		actions = append(actions, en.Action)
	}
	if s := strings.Join(actions, ","); !strings.Contains(s, "cluster.tenant_added") || !strings.Contains(s, "cluster.tenant_removed") {
		t.Fatalf("globex audit = %s", s)
	}
}
