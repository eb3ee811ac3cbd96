package api

import "testing"

func TestDeregisterCluster(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	cl := e.cluster("cl-1", acme.ID)
	e.want(200, "GET", "/api/v1/clusters/cl-1", cl.EnrollmentToken, nil, nil)

	e.want(403, "DELETE", "/api/v1/clusters/cl-1", cl.EnrollmentToken, nil, nil) // a cluster cannot end itself
	e.want(204, "DELETE", "/api/v1/clusters/cl-1", adminKey, nil, nil)
	// The token no longer authenticates; the admin still sees the record.
	e.want(401, "GET", "/api/v1/clusters/cl-1", cl.EnrollmentToken, nil, nil)
	e.want(401, "GET", "/api/v1/tenants/"+acme.ID+"/policy", cl.EnrollmentToken, nil, nil)
	e.want(200, "GET", "/api/v1/clusters/cl-1", adminKey, nil, nil)
	e.want(204, "DELETE", "/api/v1/clusters/cl-1", adminKey, nil, nil) // again: harmless
	e.want(404, "DELETE", "/api/v1/clusters/cl-9", adminKey, nil, nil)
	if r := e.do("POST", "/api/v1/clusters", adminKey, map[string]any{"cluster_id": "cl-1", "tenants": []string{acme.ID}}); r.status != 409 {
		t.Fatalf("registering a deregistered id again = %d %s, want 409", r.status, r.body)
	}
}
