package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/tenancy"
)

// createdKey is the answer of POST /api/v1/keys.
type createdKey struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Key       string    `json:"key"`
}

func (e *env) createKey(key, body string) createdKey {
	e.t.Helper()
	r := e.must(201, "POST", "/api/v1/keys", key, body)
	var k createdKey
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		e.t.Fatalf("created key %s: %v", r.Body, err)
	}
	if !strings.HasPrefix(k.Key, "ak_"+k.ID+"_") || k.CreatedAt.IsZero() {
		e.t.Fatalf("created key = %+v, want id, key string and creation time", k)
	}
	return k
}

// keyIDs lists the ids of a GET /api/v1/keys answer, checking that it
// shows no secret.
func keyIDs(t *testing.T, r resp) []string {
	t.Helper()
	if strings.Contains(string(r.Body), "ak_") || strings.Contains(strings.ToLower(string(r.Body)), "hash") {
		t.Fatalf("key list shows secrets: %s", r.Body)
	}
	var b struct {
		Keys []keyBody `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, k := range b.Keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func TestKeysNotManaged(t *testing.T) {
	e := newEnv(t)
	runSteps(t, e, []step{
		{name: "create", method: "POST", path: "/api/v1/keys", body: `{"tenant":"a","role":"read"}`, status: 404, code: "not_managed"},
		{name: "list", method: "GET", path: "/api/v1/keys?tenant=a", status: 404, code: "not_managed"},
		{name: "revoke", method: "DELETE", path: "/api/v1/keys/0123456789abcdef", status: 404, code: "not_managed"},
		{name: "needs admin role", method: "GET", path: "/api/v1/keys?tenant=a", key: rwKey, status: 403, code: "permission_denied"},
	})
}

func TestKeys(t *testing.T) {
	e := newManagedEnv(t)
	// The cluster admin creates a key for any tenant; it works at once.
	ci := e.createKey(adminKey, `{"tenant":"alpha","role":"readwrite","name":"ci"}`)
	if ci.Tenant != "alpha" || ci.Role != "readwrite" || ci.Name != "ci" {
		t.Fatalf("created %+v", ci)
	}
	e.must(201, "PUT", "/api/v1/collections/c/documents/d", ci.Key, `{"data":{"by":"ci"}}`)
	e.must(200, "GET", "/api/v1/collections/c/documents/d", alphaRead, "") // alpha's data indeed
	e.must(404, "GET", "/api/v1/collections/c/documents/d", betaRW, "")
	betaKey := e.createKey(adminKey, `{"tenant":"beta","role":"read"}`)

	runSteps(t, e.env, []step{
		{name: "list needs tenant", method: "GET", path: "/api/v1/keys", status: 400, code: "invalid_argument", msg: "tenant"},
		{name: "bad tenant", method: "POST", path: "/api/v1/keys", body: `{"tenant":"a/b","role":"read"}`, status: 400, code: "invalid_argument", msg: "tenant"},
		{name: "bad role", method: "POST", path: "/api/v1/keys", body: `{"tenant":"alpha","role":"root"}`, status: 400, code: "invalid_argument", msg: "role"},
		{name: "unknown field", method: "POST", path: "/api/v1/keys", body: `{"tenant":"alpha","role":"read","secret":"x"}`, status: 400, code: "invalid_argument", msg: "secret"},
		{name: "control character in name", method: "POST", path: "/api/v1/keys", body: `{"tenant":"alpha","role":"read","name":"a\u0007"}`, status: 400, code: "invalid_argument", msg: "name"},
		{name: "unknown id", method: "DELETE", path: "/api/v1/keys/0123456789abcdef", status: 404, code: "not_found"},
		{name: "malformed id", method: "DELETE", path: "/api/v1/keys/xyz", status: 400, code: "invalid_argument"},
		{name: "readwrite key", method: "POST", path: "/api/v1/keys", key: alphaRW, body: `{"role":"read"}`, status: 403, code: "permission_denied", msg: "admin"},
		// A tenant's admin key never reaches another tenant's keys, and the
		// refusals do not name it.
		{name: "tenant admin mints for another tenant", method: "POST", path: "/api/v1/keys", key: alphaAdmin, body: `{"tenant":"beta","role":"admin"}`,
			status: 403, code: "permission_denied", msg: "own tenant"},
		{name: "tenant admin lists another tenant", method: "GET", path: "/api/v1/keys?tenant=beta", key: alphaAdmin, status: 403, code: "permission_denied"},
		{name: "tenant admin revokes another tenant's key", method: "DELETE", path: "/api/v1/keys/" + betaKey.ID, key: alphaAdmin, status: 404, code: "not_found"},
		{name: "tenant admin joins a node", method: "POST", path: "/api/v1/cluster/members", key: alphaAdmin, body: `{"node_id":"x","raft_addr":"127.0.0.1:1"}`,
			status: 403, code: "permission_denied", msg: "cluster admin"},
		{name: "tenant admin removes a node", method: "DELETE", path: "/api/v1/cluster/members/" + testNode, key: alphaAdmin, status: 403, code: "permission_denied"},
	})
	for _, r := range []resp{
		e.do("POST", "/api/v1/keys", alphaAdmin, `{"tenant":"beta","role":"admin"}`),
		e.do("GET", "/api/v1/keys?tenant=beta", alphaAdmin, ""),
		e.do("DELETE", "/api/v1/keys/"+betaKey.ID, alphaAdmin, ""),
	} {
		if strings.Contains(string(r.Body), "beta") {
			t.Fatalf("refusal names the other tenant: %s", r.Body)
		}
	}
	e.must(200, "GET", "/api/v1/collections", betaKey.Key, "") // untouched

	// A tenant's admin key manages its own tenant's keys.
	own := e.createKey(alphaAdmin, `{"role":"read","name":"dashboards"}`)
	if own.Tenant != "alpha" {
		t.Fatalf("tenant admin created a key of %q", own.Tenant)
	}
	e.createKey(alphaAdmin, `{"tenant":"alpha","role":"read"}`)
	alphaIDs := keyIDs(t, e.must(200, "GET", "/api/v1/keys", alphaAdmin, ""))
	if len(alphaIDs) != 3 || alphaIDs[0] != ci.ID || alphaIDs[1] != own.ID {
		t.Fatalf("alpha's keys = %v, want ci, dashboards and one more", alphaIDs)
	}
	if ids := keyIDs(t, e.must(200, "GET", "/api/v1/keys?tenant=alpha", adminKey, "")); strings.Join(ids, ",") != strings.Join(alphaIDs, ",") {
		t.Fatalf("admin lists alpha's keys as %v, alpha's admin as %v", ids, alphaIDs)
	}
	if ids := keyIDs(t, e.must(200, "GET", "/api/v1/keys?tenant=beta", adminKey, "")); len(ids) != 1 || ids[0] != betaKey.ID {
		t.Fatalf("beta's keys = %v", ids)
	}

	// Revocation: by the tenant's admin and by the cluster admin, effective
	// on the next request.
	r := e.must(200, "DELETE", "/api/v1/keys/"+own.ID, alphaAdmin, "")
	var revoked keyBody
	if err := json.Unmarshal(r.Body, &revoked); err != nil || !revoked.Revoked || revoked.RevokedAt == nil || revoked.ID != own.ID {
		t.Fatalf("revoked = %s (%v)", r.Body, err)
	}
	if code, msg := e.do("GET", "/api/v1/collections", own.Key, "").ErrCode(t); code != "unauthenticated" || !strings.Contains(msg, "revoked") {
		t.Fatalf("revoked key answered %s %q", code, msg)
	}
	e.must(200, "DELETE", "/api/v1/keys/"+ci.ID, adminKey, "")
	e.must(401, "PUT", "/api/v1/collections/c/documents/d", ci.Key, `{"data":{}}`)
	e.must(200, "DELETE", "/api/v1/keys/"+ci.ID, adminKey, "") // idempotent
}

// notEnrolledKeys is a Keys of an agent that has not enrolled with billing.
type notEnrolledKeys struct{ *tenancy.Keys }

func (notEnrolledKeys) Create(context.Context, string, string, string) (tenancy.APIKey, string, error) {
	return tenancy.APIKey{}, "", fmt.Errorf("create key: %w", ErrNotEnrolled)
}

// TestKeysNotEnrolled: key creation before enrollment is "not ready yet"
// (503 not_ready, Retry-After), not a bad request.
func TestKeysNotEnrolled(t *testing.T) {
	e := newManagedEnvDocs(t, document.Config{}, func(c *Config) {
		c.Keys = notEnrolledKeys{tenancy.NewKeys(c.Store, c.Store)}
	})
	r := e.do("POST", "/api/v1/keys", adminKey, `{"tenant":"alpha","role":"read"}`)
	code, msg := r.ErrCode(t)
	if r.Status != 503 || code != CodeNotReady || !strings.Contains(msg, "not enrolled with billing yet") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("create key before enrollment = %d %s %q (Retry-After %q), want 503 not_ready saying not enrolled, with Retry-After",
			r.Status, code, msg, r.Header.Get("Retry-After"))
	}
}
