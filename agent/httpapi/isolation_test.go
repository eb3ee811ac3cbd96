package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// betaSecrets are strings only beta's data, names and keys contain: no
// answer to alpha may contain one.
var betaSecrets = []string{"beta", "s3cr3t-payload", "private-coll", "kb-rw", "kb-adm", "onlybeta"}

// TestTenantIsolation attacks beta's data with alpha's keys through every
// route: ids, collection names, batch operations, query filters, index
// creation, collection drops, stats, metrics, keys and error messages.
func TestTenantIsolation(t *testing.T) {
	e := newManagedEnv(t)
	const users = "/api/v1/collections/users"
	// beta's data.
	e.must(201, "PUT", users+"/documents/u1", betaRW, `{"data":{"secret":"s3cr3t-payload","owner":"beta"}}`)
	e.must(201, "PUT", "/api/v1/collections/private-coll/documents/p1", betaRW, `{"data":{"onlybeta":true}}`)
	e.must(201, "POST", users+"/indexes", betaAdmin, `{"field":"secret"}`)
	// alpha's.
	e.must(201, "PUT", users+"/documents/u2", alphaRW, `{"data":{"owner":"alpha"}}`)
	e.meter.take()

	// clean checks that an answer to alpha holds none of beta's strings,
	// apart from those alpha's request carried itself (echoed names).
	clean := func(name, request string, r resp) {
		t.Helper()
		for _, s := range betaSecrets {
			if strings.Contains(request, s) {
				continue
			}
			if strings.Contains(string(r.Body), s) || strings.Contains(strings.Join(r.Header.Values("Location"), " "), s) {
				t.Fatalf("%s: alpha's answer contains %q: %d %s", name, s, r.Status, r.Body)
			}
		}
	}
	type attempt struct {
		name, method, path, key, body string
		status                        int
	}
	attempts := []attempt{
		// Listings before alpha makes collections of beta's names.
		{"list collections", "GET", "/api/v1/collections", alphaRead, "", 200},
		// Ids: beta's id in the same collection name is not alpha's.
		{"beta's id", "GET", users + "/documents/u1", alphaRead, "", 404},
		{"beta's collection", "GET", "/api/v1/collections/private-coll/documents/p1", alphaRead, "", 404},
		{"list beta's collection", "GET", "/api/v1/collections/private-coll/documents", alphaRead, "", 200},
		{"dot-dot id (refused, never redirected)", "GET", users + "/documents/..", alphaRead, "", 400},
		{"encoded dot-dot id", "DELETE", users + "/documents/%2E%2E", alphaRW, "", 400},
		{"escaped traversal id", "GET", users + "/documents/..%2Fu1", alphaRead, "", 400},
		{"escaped traversal collection", "GET", "/api/v1/collections/..%2F..%2Ft:beta/documents/u1", alphaRead, "", 400},
		// Collection names that look like the storage layout or a tenant.
		{"tenant bucket name", "GET", "/api/v1/collections/t:beta/documents/u1", alphaRead, "", 400},
		{"collection bucket name", "PUT", "/api/v1/collections/c:users/documents/u1", alphaRW, `{"data":{}}`, 400},
		{"tenant-prefixed collection", "PUT", "/api/v1/collections/beta%2Fusers/documents/u1", alphaRW, `{"data":{}}`, 400},
		{"store namespace", "PUT", "/api/v1/collections/_store/documents/x", alphaRW, `{"data":{}}`, 400},
		{"tenant named collection", "GET", "/api/v1/collections/beta/documents/u1", alphaRead, "", 404},
		{"tenancy named collection", "PUT", "/api/v1/collections/_tenancy/documents/keys", alphaRW, `{"data":{"role":"admin"}}`, 201},
		// Writes with beta's names land in alpha's namespace.
		{"create beta's id", "POST", "/api/v1/collections/private-coll/documents", alphaRW, `{"id":"p1","data":{"owner":"alpha"}}`, 201},
		{"overwrite beta's id", "PUT", users + "/documents/u1", alphaRW, `{"data":{"owner":"alpha"}}`, 201},
		{"conditional write on alpha's own version", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"put","collection":"users","id":"u1","if_version":2,"data":{}}]}`, 412},
		// Batches naming beta's collections and ids.
		{"batch on beta's names", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"delete","collection":"private-coll","id":"p1"},{"op":"put","collection":"users","id":"u3","data":{}}]}`, 200},
		{"batch with a layout name", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"put","collection":"users","id":"ok","data":{}},{"op":"put","collection":"t:beta","id":"u1","data":{}}]}`, 400},
		{"batch with a slash id", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"delete","collection":"users","id":"../u1"}]}`, 400},
		{"batch deleting beta's doc", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"delete","collection":"private-coll","id":"p1"}]}`, 404},
		// Filters on internal or other tenants' fields.
		{"filter on beta's value", "POST", users + "/query", alphaRead, `{"filter":{"secret":"s3cr3t-payload"}}`, 200},
		{"filter on tenant fields", "POST", users + "/query", alphaRead, `{"filter":{"$or":[{"tenant":"beta"},{"_tenant":"beta"},{"t":"beta"}]}}`, 200},
		{"filter on existence", "POST", users + "/query", alphaRead, `{"filter":{"secret":{"$exists":true}}}`, 200},
		{"query beta's collection", "POST", "/api/v1/collections/private-coll/query", alphaRead, `{"filter":{"onlybeta":true}}`, 200},
		{"bad filter", "POST", users + "/query", alphaRead, `{"filter":{"$where":"beta"}}`, 400},
		// Indexes.
		{"list indexes", "GET", users + "/indexes", alphaRead, "", 200},
		{"create beta's index", "POST", users + "/indexes", alphaAdmin, `{"field":"secret"}`, 201},
		{"drop beta's index again", "DELETE", users + "/indexes/secret", alphaAdmin, "", 204},
		{"drop it once more", "DELETE", users + "/indexes/secret", alphaAdmin, "", 404},
		// Collections and stats.
		{"drop beta's collection", "DELETE", "/api/v1/collections/private-coll", alphaAdmin, "", 204},
		{"stats", "GET", "/api/v1/stats", alphaRead, "", 200},
		{"stats linearizable", "GET", "/api/v1/stats?consistency=linearizable", alphaRead, "", 200},
		// Cluster-wide and other tenants' management.
		{"metrics", "GET", "/metrics", alphaAdmin, "", 403},
		{"keys of beta", "GET", "/api/v1/keys?tenant=beta", alphaAdmin, "", 403},
		{"mint for beta", "POST", "/api/v1/keys", alphaAdmin, `{"tenant":"beta","role":"admin"}`, 403},
		{"join a node", "POST", "/api/v1/cluster/members", alphaAdmin, `{"node_id":"evil","raft_addr":"127.0.0.1:1"}`, 403},
	}
	for _, a := range attempts {
		r := e.do(a.method, a.path, a.key, a.body)
		if r.Status != a.status {
			t.Fatalf("%s: %s %s = %d %s, want %d", a.name, a.method, a.path, r.Status, r.Body, a.status)
		}
		clean(a.name, a.path+" "+a.body, r)
		if strings.Contains(a.name, "filter") || a.name == "query beta's collection" {
			if r.Status == 200 && r.JSON(t)["total"] != float64(0) {
				t.Fatalf("%s: alpha's query matched %s", a.name, r.Body)
			}
		}
	}
	for _, c := range e.meter.take() {
		if c.tenant != "alpha" {
			t.Fatalf("alpha's requests metered to %q", c.tenant)
		}
	}

	// alpha's stats are alpha's only, without cluster-wide figures.
	var st map[string]json.RawMessage
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/stats", alphaRead, "").Body, &st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st["store"]; ok {
		t.Fatalf("tenant stats show the store: %s", st["store"])
	}
	if _, ok := st["http"]; ok {
		t.Fatalf("tenant stats show node-wide requests: %s", st["http"])
	}
	var data tenantOut
	if err := json.Unmarshal(st["data"], &data); err != nil || data.Tenant != "alpha" {
		t.Fatalf("tenant stats data = %s", st["data"])
	}
	adminStats := e.must(200, "GET", "/api/v1/stats", adminKey, "").JSON(t)
	if adminStats["store"] == nil || adminStats["http"] == nil {
		t.Fatalf("cluster admin stats lack the store or request figures: %v", adminStats)
	}

	// beta's data is exactly as beta left it.
	r := e.must(200, "GET", users+"/documents/u1", betaRW, "")
	if !strings.Contains(string(r.Body), "s3cr3t-payload") || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("beta's document changed: %s", r.Body)
	}
	e.must(200, "GET", "/api/v1/collections/private-coll/documents/p1", betaRW, "")
	if ix := e.must(200, "GET", users+"/indexes", betaRW, "").JSON(t)["indexes"]; len(ix.([]any)) != 1 {
		t.Fatalf("beta's indexes = %v, want [secret]", ix)
	}
	var cols struct {
		Collections []collectionBody `json:"collections"`
	}
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/collections", betaRW, "").Body, &cols); err != nil {
		t.Fatal(err)
	}
	if len(cols.Collections) != 2 {
		t.Fatalf("beta's collections = %+v, want users and private-coll", cols.Collections)
	}
	// The tenancy state is not reachable as a collection: keys still work.
	e.must(200, "GET", "/api/v1/keys?tenant=beta", adminKey, "")

	// /metrics: the cluster admin's, with no tenant label or name in it.
	body := string(e.must(200, "GET", "/metrics", adminKey, "").Body)
	for _, leak := range []string{"tenant=", `tenant="`, "alpha", "beta", "private-coll", "s3cr3t"} {
		if strings.Contains(body, leak) {
			t.Fatalf("metrics contain %q", leak)
		}
	}

	// One tenant's quotas do not touch the other's.
	p := roomy("alpha", contract.Block)
	p.Limits.RequestsPerSecond = 1
	e.gov.set(t, p)
	e.must(200, "GET", "/api/v1/collections", alphaRead, "")
	clean("rate limited", "", e.must(429, "GET", "/api/v1/collections", alphaRead, ""))
	for range 5 {
		e.must(200, "GET", "/api/v1/collections", betaRW, "")
	}
}

func TestManagedMetricsConfig(t *testing.T) {
	_, err := New(Config{Store: &faultStore{}, Auth: mustAdminKey(t), Managed: true, MetricsNoAuth: true})
	if err == nil || !strings.Contains(err.Error(), "MetricsNoAuth") {
		t.Fatalf("New(Managed, MetricsNoAuth) = %v, want an error naming MetricsNoAuth", err)
	}
}
