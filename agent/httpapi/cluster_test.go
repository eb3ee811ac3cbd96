package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

func TestClusterEndpoints(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, "GET", "/api/v1/cluster/self", "", "")
	var self jsonapi.StartingBody
	if err := json.Unmarshal(r.Body, &self); err != nil || self != (jsonapi.StartingBody{NodeID: testNode, RaftAddr: e.store.Addr(), HTTPAddr: testHTTP}) {
		t.Fatalf("self = %s (%v)", r.Body, err)
	}

	r = e.must(200, "GET", "/api/v1/cluster", adminKey, "")
	var c jsonapi.ClusterBody
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatal(err)
	}
	if c.NodeID != testNode || c.LeaderID != testNode || c.State != "Leader" || c.Term == 0 || c.AppliedIndex == 0 || c.CommitIndex == 0 {
		t.Fatalf("cluster = %s", r.Body)
	}
	if c.Leader == nil || *c.Leader != (jsonapi.LeaderOut{ID: testNode, RaftAddr: e.store.Addr(), HTTPAddr: testHTTP}) {
		t.Fatalf("leader = %+v", c.Leader)
	}
	if len(c.Members) != 1 || c.Members[0] != (jsonapi.MemberOut{ID: testNode, RaftAddr: e.store.Addr(), HTTPAddr: testHTTP, Voter: true, Leader: true}) {
		t.Fatalf("members = %+v", c.Members)
	}
	for _, field := range []string{`"node_id"`, `"leader_id"`, `"leader"`, `"state"`, `"term"`, `"commit_index"`, `"applied_index"`, `"members"`} {
		if !strings.Contains(string(r.Body), field) {
			t.Fatalf("cluster answer lacks %s: %s", field, r.Body)
		}
	}

	// Join a member that does not exist yet (it stays a non-voter that
	// never catches up, which the single-node quorum does not need), then
	// remove it.
	e.must(200, "POST", "/api/v1/cluster/members", adminKey, `{"node_id":"n2","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}`)
	members := func() map[string]jsonapi.MemberOut {
		var c jsonapi.ClusterBody
		if err := json.Unmarshal(e.must(200, "GET", "/api/v1/cluster", adminKey, "").Body, &c); err != nil {
			t.Fatal(err)
		}
		out := map[string]jsonapi.MemberOut{}
		for _, m := range c.Members {
			out[m.ID] = m
		}
		return out
	}
	if m, ok := members()["n2"]; !ok || m.RaftAddr != "127.0.0.1:1" || m.HTTPAddr != "127.0.0.1:2" || m.Voter {
		t.Fatalf("after join, n2 = %+v (present %v)", m, ok)
	}
	e.must(204, "DELETE", "/api/v1/cluster/members/n2", adminKey, "")
	if _, ok := members()["n2"]; ok {
		t.Fatal("n2 still a member after remove")
	}
	// A node with raft state of its own is refused with the store's
	// explanation.
	e.faults.set(fmt.Errorf("%w: node n9 at 127.0.0.1:9 already has raft state; wipe its data directory or start it on a fresh one", store.ErrNodeHasState), false, false)
	runSteps(t, e, []step{
		{name: "join node with state", method: "POST", path: "/api/v1/cluster/members", body: `{"node_id":"n9","raft_addr":"127.0.0.1:9"}`, status: 409, code: "conflict", msg: "wipe its data directory"},
	})
	e.faults.set(nil, false, false)
	runSteps(t, e, []step{
		{name: "join bad body", method: "POST", path: "/api/v1/cluster/members", body: `{"node_id":"n3"}`, status: 400, code: "invalid_argument", msg: "raft_addr"},
		{name: "join unknown field", method: "POST", path: "/api/v1/cluster/members", body: `{"id":"n3","raft_addr":"h:1"}`, status: 400, code: "invalid_argument", msg: `unknown field "id"`},
	})
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c"} {
		e.must(201, "PUT", "/api/v1/collections/s1/documents/"+id, adminKey, `{"data":{"v":"0123456789"}}`)
	}
	e.must(201, "PUT", "/api/v1/collections/s2/documents/x", adminKey, `{"data":{}}`)
	e.must(201, "POST", "/api/v1/collections/s2/indexes", adminKey, `{"field":"v"}`)
	e.must(404, "GET", "/api/v1/collections/s2/documents/missing", adminKey, "")
	r := e.must(200, "GET", "/api/v1/stats", adminKey, "")
	var s statsBody
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatal(err)
	}
	if s.NodeID != testNode || s.Store.NodeID != testNode || s.Store.State != "Leader" || s.Store.AppliedIndex == 0 || s.Store.DBSizeBytes <= 0 {
		t.Fatalf("stats store part = %s", r.Body)
	}
	if s.Data.Tenant != "default" || s.Data.Collections != 2 || s.Data.Documents != 4 || s.Data.Indexes != 1 || s.Data.Bytes <= 30 {
		t.Fatalf("stats data part = %+v", s.Data)
	}
	if s.HTTP.RequestsTotal != 6 || s.HTTP.ClientErrors != 1 || s.HTTP.ServerErrors != 0 {
		t.Fatalf("stats http part = %+v, want 6 requests before this one, 1 client error", s.HTTP)
	}
	// The other tenant's figures are its own.
	r = e.must(200, "GET", "/api/v1/stats?consistency=linearizable", acmeKey, "")
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Data.Tenant != "acme" || s.Data.Documents != 0 {
		t.Fatalf("acme stats = %+v", s.Data)
	}
	e.must(400, "GET", "/api/v1/stats?consistency=bogus", adminKey, "")
}

func TestMetricsLabels(t *testing.T) {
	e := newEnv(t)
	const secretID = "doc-id-7f3a9"
	const secretColl = "coll-secret-q"
	e.must(201, "PUT", "/api/v1/collections/"+secretColl+"/documents/"+secretID, adminKey, `{"data":{}}`)
	e.must(200, "GET", "/api/v1/collections/"+secretColl+"/documents/"+secretID, adminKey, "")
	e.must(404, "GET", "/api/v1/no/such/"+secretID, adminKey, "")
	e.must(401, "GET", "/api/v1/collections/"+secretColl+"/documents/"+secretID, wrongKey, "")
	body := string(e.must(200, "GET", "/metrics", adminKey, "").Body)
	for _, leak := range []string{secretID, secretColl, adminKey, wrongKey} {
		if strings.Contains(body, leak) {
			t.Fatalf("metrics expose %q", leak)
		}
	}
	for _, want := range []string{
		`aerolith_http_requests_total{code="201",method="PUT",route="/api/v1/collections/{c}/documents/{id}"} 1`,
		`aerolith_http_requests_total{code="200",method="GET",route="/api/v1/collections/{c}/documents/{id}"} 1`,
		`aerolith_http_requests_total{code="401",method="GET",route="/api/v1/collections/{c}/documents/{id}"} 1`,
		`aerolith_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`aerolith_http_request_duration_seconds_bucket{code="201",method="PUT",route="/api/v1/collections/{c}/documents/{id}",le="+Inf"} 1`,
		`aerolith_http_requests_in_flight`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	// Store metrics share the registry.
	if !strings.Contains(body, "aerolith_store_proposals_total") {
		t.Fatalf("metrics lack the store's metrics:\n%s", body)
	}
}

// TestOverHTTP runs requests through a real HTTP server and client, where
// MaxBytesReader and connection handling behave as in production.
func TestOverHTTP(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	ctx := context.Background()
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := do("PUT", "/api/v1/collections/h/documents/1", `{"data":{"a":1}}`)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("PUT = %d", res.StatusCode)
	}
	res = do("POST", "/api/v1/collections/h/documents", `{"data":{"k":"`+strings.Repeat("y", 2*maxBody)+`"}}`)
	var b jsonapi.ErrorBody
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 || b.Error.Code != "too_large" {
		t.Fatalf("oversized POST = %d %+v", res.StatusCode, b)
	}
	res = do("GET", "/api/v1/collections/h/documents/1", "")
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("GET = %d etag %q", res.StatusCode, res.Header.Get("ETag"))
	}
}
