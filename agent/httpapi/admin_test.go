package httpapi

import (
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestAdminKeyData: on a managed agent the cluster admin key is refused
// (403) on every data route, with a message that says to use a tenant key,
// and keeps the cluster routes; on an unmanaged agent it reaches the data
// of tenant "default" as before.
func TestAdminKeyData(t *testing.T) {
	const (
		coll = "/api/v1/collections/c"
		doc  = coll + "/documents/d"
	)
	dataRoutes := []struct{ method, path, body string }{
		{"GET", "/api/v1/collections", ""},
		{"DELETE", coll, ""},
		{"POST", coll + "/documents", `{"data":{}}`},
		{"GET", coll + "/documents", ""},
		{"GET", doc, ""},
		{"PUT", doc, `{"data":{}}`},
		{"DELETE", doc, ""},
		{"POST", coll + "/query", `{}`},
		{"GET", coll + "/indexes", ""},
		{"POST", coll + "/indexes", `{"field":"a"}`},
		{"DELETE", coll + "/indexes/a", ""},
		{"POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"c","id":"1","data":{}}]}`},
	}

	m := newManagedEnv(t)
	for _, rt := range dataRoutes {
		r := m.do(rt.method, rt.path, adminKey, rt.body)
		code, msg := r.ErrCode(t)
		if r.Status != 403 || code != jsonapi.CodePermissionDenied || !strings.Contains(msg, "use a tenant key") || !strings.Contains(msg, "aerolith key create") {
			t.Fatalf("managed: admin key %s %s = %d %s %q, want 403 permission_denied saying to use a tenant key", rt.method, rt.path, r.Status, code, msg)
		}
	}
	if calls := m.meter.take(); len(calls) != 0 {
		t.Fatalf("refused admin requests metered: %+v", calls)
	}
	// The cluster routes stay the admin's.
	m.must(200, "GET", "/api/v1/stats", adminKey, "")
	m.must(200, "GET", "/api/v1/cluster", adminKey, "")
	m.must(200, "GET", "/metrics", adminKey, "")
	m.createKey(adminKey, `{"tenant":"alpha","role":"read"}`)
	// Tenant keys are unaffected.
	m.must(201, "PUT", doc, alphaRW, `{"data":{}}`)

	u := newEnv(t)
	u.must(201, "PUT", doc, adminKey, `{"data":{}}`)
	u.must(200, "GET", doc, adminKey, "")
}
