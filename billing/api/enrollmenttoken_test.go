package api

import (
	"testing"
)

// TestIssueEnrollmentToken: a new token authenticates as the cluster
// while the earlier one still does; revoke_previous ends the earlier ones;
// a deregistered or unknown cluster gets none; bad bodies are refused.
func TestIssueEnrollmentToken(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	cl := e.cluster("c1", acme.ID)
	whoami := func(token string) int { return e.do("GET", "/api/v1/whoami", token, nil).status }

	var second clusterOut
	e.want(201, "POST", "/api/v1/clusters/c1/enrollment-token", adminKey, nil, &second)
	if second.ClusterID != "c1" || second.EnrollmentToken == "" || second.EnrollmentToken == cl.EnrollmentToken {
		t.Fatalf("issued %+v, want a new token of c1", second)
	}
	if a, b := whoami(cl.EnrollmentToken), whoami(second.EnrollmentToken); a != 200 || b != 200 {
		t.Fatalf("whoami with the first and second token = %d, %d; want 200 both", a, b)
	}
	var third clusterOut
	e.want(201, "POST", "/api/v1/clusters/c1/enrollment-token", adminKey, map[string]bool{"revoke_previous": true}, &third)
	if a, b, c := whoami(cl.EnrollmentToken), whoami(second.EnrollmentToken), whoami(third.EnrollmentToken); a != 401 || b != 401 || c != 200 {
		t.Fatalf("whoami after revoke_previous = %d, %d, %d; want 401, 401, 200", a, b, c)
	}
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
	}{
		{"unknown field", "/api/v1/clusters/c1/enrollment-token", map[string]int{"revoke": 1}, 400},
		{"wrong type", "/api/v1/clusters/c1/enrollment-token", map[string]string{"revoke_previous": "yes"}, 400},
		{"unknown cluster", "/api/v1/clusters/c9/enrollment-token", nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.want(tc.status, "POST", tc.path, adminKey, tc.body, nil)
		})
	}
	e.want(204, "DELETE", "/api/v1/clusters/c1", adminKey, nil, nil)
	e.want(409, "POST", "/api/v1/clusters/c1/enrollment-token", adminKey, nil, nil)
	if s := whoami(third.EnrollmentToken); s != 401 {
		t.Fatalf("whoami with a deregistered cluster's token = %d, want 401", s)
	}
}
