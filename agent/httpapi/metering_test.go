package httpapi

import (
	"errors"
	"testing"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/store"
)

// TestMeteringRule checks what each route is metered as: one Record per
// admitted request answered below 500, with ingress = request body bytes
// and egress = response body bytes; nothing for refused, unauthenticated,
// failed or cluster admin requests.
func TestMeteringRule(t *testing.T) {
	e := newManagedEnv(t)
	const (
		coll = "/api/v1/collections/users"
		doc  = coll + "/documents/u1"
	)
	none := meter.Usage{}
	tests := []struct {
		name         string
		method, path string
		key, body    string
		headers      []string
		status       int
		metered      bool
		want         meter.Usage // counts only; bytes are checked apart
	}{
		{"put", "PUT", doc, alphaRW, `{"data":{"name":"ada"}}`, nil, 201, true, usageOf(0, 1, 0)},
		{"create", "POST", coll + "/documents", alphaRW, `{"id":"u2","data":{"name":"bob"}}`, nil, 201, true, usageOf(0, 1, 0)},
		{"get", "GET", doc, alphaRead, "", nil, 200, true, usageOf(1, 0, 0)},
		{"get not modified", "GET", doc, alphaRead, "", []string{"If-None-Match", `"1"`}, 304, true, usageOf(1, 0, 0)},
		{"head", "HEAD", doc, alphaRead, "", nil, 200, true, usageOf(1, 0, 0)},
		{"get missing", "GET", coll + "/documents/nope", alphaRead, "", nil, 404, true, usageOf(1, 0, 0)},
		{"list documents", "GET", coll + "/documents?limit=1", alphaRead, "", nil, 200, true, usageOf(1, 0, 0)},
		{"list collections", "GET", "/api/v1/collections", alphaRead, "", nil, 200, true, usageOf(1, 0, 0)},
		{"list indexes", "GET", coll + "/indexes", alphaRead, "", nil, 200, true, usageOf(1, 0, 0)},
		{"create index", "POST", coll + "/indexes", alphaAdmin, `{"field":"name"}`, nil, 201, true, usageOf(0, 1, 0)},
		{"query", "POST", coll + "/query", alphaRead, `{"filter":{"name":"ada"}}`, nil, 200, true, usageOf(0, 0, 1)},
		{"bad query", "POST", coll + "/query", alphaRead, `{"filter":{"$bogus":1}}`, nil, 400, true, usageOf(0, 0, 1)},
		{"drop index", "DELETE", coll + "/indexes/name", alphaAdmin, "", nil, 204, true, usageOf(0, 1, 0)},
		{"batch of 3", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"put","collection":"a","id":"1","data":{}},{"op":"put","collection":"b","id":"2","data":{}},{"op":"delete","collection":"a","id":"1"}]}`,
			nil, 200, true, usageOf(0, 3, 0)},
		{"failed batch of 2", "POST", "/api/v1/batch", alphaRW,
			`{"operations":[{"op":"put","collection":"a","id":"1","data":{}},{"op":"delete","collection":"a","id":"gone"}]}`,
			nil, 404, true, usageOf(0, 2, 0)},
		{"undecodable batch", "POST", "/api/v1/batch", alphaRW, `{"operations":`, nil, 400, true, usageOf(0, 1, 0)},
		{"precondition failed", "PUT", doc, alphaRW, `{"data":{}}`, []string{"If-Match", `"9"`}, 412, true, usageOf(0, 1, 0)},
		{"delete", "DELETE", doc, alphaRW, "", nil, 204, true, usageOf(0, 1, 0)},
		{"drop collection", "DELETE", "/api/v1/collections/b", alphaAdmin, "", nil, 204, true, usageOf(0, 1, 0)},
		{"stats", "GET", "/api/v1/stats", alphaRead, "", nil, 200, true, none},
		{"cluster", "GET", "/api/v1/cluster", alphaRead, "", nil, 200, true, none},
		{"role too low", "PUT", doc, alphaRead, `{"data":{}}`, nil, 403, false, none},
		{"no key", "GET", doc, "", "", nil, 401, false, none},
		{"unknown route", "GET", "/api/v1/nothing", alphaRead, "", nil, 404, false, none},
		{"cluster admin (refused on data)", "PUT", doc, adminKey, `{"data":{}}`, nil, 403, false, none},
		{"cluster admin stats", "GET", "/api/v1/stats", adminKey, "", nil, 200, false, none},
		{"other tenant", "PUT", doc, betaRW, `{"data":{}}`, nil, 201, true, usageOf(0, 1, 0)},
	}
	e.meter.take()
	for _, tt := range tests {
		r := e.do(tt.method, tt.path, tt.key, tt.body, tt.headers...)
		if r.Status != tt.status {
			t.Fatalf("%s: %s %s = %d %s, want %d", tt.name, tt.method, tt.path, r.Status, r.Body, tt.status)
		}
		calls := e.meter.take()
		if !tt.metered {
			if len(calls) != 0 {
				t.Fatalf("%s: metered %+v, want nothing", tt.name, calls)
			}
			continue
		}
		if len(calls) != 1 {
			t.Fatalf("%s: %d Records, want 1: %+v", tt.name, len(calls), calls)
		}
		got := calls[0]
		wantTenant := "alpha"
		if tt.key == betaRW {
			wantTenant = "beta"
		}
		if got.tenant != wantTenant {
			t.Fatalf("%s: metered to tenant %q, want %q", tt.name, got.tenant, wantTenant)
		}
		want := tt.want
		want.IngressBytes = uint64(len(tt.body))
		want.EgressBytes = uint64(len(r.Body))
		if tt.method == "HEAD" {
			want.EgressBytes = 0
		}
		if tt.want.Queries == 1 {
			if got.u.QueryComputeMs < 1 {
				t.Fatalf("%s: query compute ms = %d, want at least 1 (rounded up)", tt.name, got.u.QueryComputeMs)
			}
			want.QueryComputeMs = got.u.QueryComputeMs
		}
		if got.u != want {
			t.Fatalf("%s: metered %+v, want %+v", tt.name, got.u, want)
		}
	}

	// Failures of the store (503) are not metered.
	e.faults.set(store.ErrNoLeader, false, false)
	e.must(503, "GET", doc, alphaRead, "")
	e.must(503, "PUT", doc, alphaRW, `{"data":{}}`)
	e.faults.set(errors.New("disk on fire"), false, false)
	e.must(500, "POST", coll+"/query", alphaRead, `{}`)
	e.faults.set(nil, false, false)
	if calls := e.meter.take(); len(calls) != 0 {
		t.Fatalf("failed requests metered: %+v", calls)
	}
}

// TestUnmanagedUnchanged checks that without Governor and Meter a tenant
// key's request takes the plain path: nothing buffered, no headers added.
func TestUnmanagedUnchanged(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "PUT", "/api/v1/collections/c/documents/1", acmeKey, `{"data":{}}`)
	if r.Header.Get(HeaderQuotaWarning) != "" {
		t.Fatalf("unmanaged answer has %s", HeaderQuotaWarning)
	}
	// Stats show a tenant key its tenant's figures only, managed or not.
	m := e.must(200, "GET", "/api/v1/stats", acmeKey, "").JSON(t)
	if m["store"] != nil || m["http"] != nil || m["data"] == nil {
		t.Fatalf("unmanaged stats = %v, want the data part only", m)
	}
}
