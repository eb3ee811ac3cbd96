package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// TestRegisterClusterWithOwnToken: a registration that brings its own id
// and enrollment token is repeatable (the repeat registers nothing new and
// answers the same); another token under the id is a conflict, and a token
// not of billing's own form is refused.
func TestRegisterClusterWithOwnToken(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	token, err := contract.NewEnrollmentToken()
	if err != nil {
		t.Fatal(err)
	}
	other, err := contract.NewEnrollmentToken()
	if err != nil {
		t.Fatal(err)
	}
	body := func(tok string) map[string]any {
		return map[string]any{"cluster_id": "cl-own", "tenants": []string{acme.ID}, "enrollment_token": tok}
	}
	for i := range 2 {
		var out clusterOut
		e.want(201, "POST", "/api/v1/clusters", adminKey, body(token), &out)
		if out.ClusterID != "cl-own" || out.EnrollmentToken != token {
			t.Fatalf("registration %d answered %+v, want cl-own with the token sent", i+1, out)
		}
	}
	var page struct {
		Entries []contract.AuditEntry `json:"entries"`
	}
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/audit", adminKey, nil, &page)
	registered := 0
	for _, en := range page.Entries {
		if en.Action == "cluster.registered" {
			registered++
		}
	}
	if registered != 1 {
		t.Fatalf("%d cluster.registered entries after a repeated registration, want 1", registered)
	}
	if r := e.do("GET", "/api/v1/whoami", token, nil); r.status != 200 || !strings.Contains(string(r.body), `"cluster_id":"cl-own"`) {
		t.Fatalf("whoami with the client's token = %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/clusters", adminKey, body(other)); r.status != http.StatusConflict {
		t.Fatalf("another token under cl-own = %d %s, want 409", r.status, r.body)
	}
	for _, bad := range []string{"aet_short", "abk_" + strings.Repeat("A", 43), token + "A", strings.Replace(token, "aet_", "aet_+", 1)[:len(token)]} {
		if r := e.do("POST", "/api/v1/clusters", adminKey, map[string]any{"tenants": []string{acme.ID}, "enrollment_token": bad}); r.status != 400 || !strings.Contains(r.errMsg(), "enrollment_token: want aet_") {
			t.Fatalf("token %q = %d %s, want 400 naming enrollment_token", bad, r.status, r.body)
		}
	}
}
