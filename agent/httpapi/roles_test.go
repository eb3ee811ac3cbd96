package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// roleCase is one route class of the roles matrix: the least tenant role it
// needs (auth.RoleNone: no tenant key, whatever its role, only the cluster
// admin key) and a request of it.
type roleCase struct {
	class  string
	need   auth.Role
	method string
	path   string
	body   string
	// setup runs before each attempt with the cluster admin's help (a
	// tenant key of role admin of tenant alpha), so a refused attempt and an
	// allowed one meet the same state.
	setup func(t *testing.T, e *managedEnv)
}

// TestRolesMatrix sends a request of every route class with tenant keys
// of each role (read, readwrite, admin) and checks who is refused: reading
// documents needs read, writing documents readwrite, the tenant's
// collections, indexes and keys admin, and the cluster's membership,
// metrics and data keys the cluster admin key. Refusals are 403
// permission_denied naming the role needed. Before the fix a readwrite key
// could drop a collection and create and drop indexes.
func TestRolesMatrix(t *testing.T) {
	e := newManagedEnv(t, func(c *Config) { c.DataKeys = &fakeDataKeys{} })
	seed := func(t *testing.T, e *managedEnv) {
		t.Helper()
		if r := e.do("PUT", "/api/v1/collections/c/documents/d", alphaAdmin, `{"data":{"x":1}}`); r.Status != 200 && r.Status != 201 {
			t.Fatalf("seed: %d %s", r.Status, r.Body)
		}
	}
	withIndex := func(t *testing.T, e *managedEnv) {
		t.Helper()
		seed(t, e)
		if r := e.do("POST", "/api/v1/collections/c/indexes", alphaAdmin, `{"field":"x"}`); r.Status != 201 && r.Status != 409 {
			t.Fatalf("create index: %d %s", r.Status, r.Body)
		}
	}
	noIndex := func(t *testing.T, e *managedEnv) {
		t.Helper()
		seed(t, e)
		if r := e.do("DELETE", "/api/v1/collections/c/indexes/x", alphaAdmin, ""); r.Status != 204 && r.Status != 404 {
			t.Fatalf("drop index: %d %s", r.Status, r.Body)
		}
	}
	cases := []roleCase{
		{class: "document get", need: auth.RoleRead, method: "GET", path: "/api/v1/collections/c/documents/d", setup: seed},
		{class: "document list", need: auth.RoleRead, method: "GET", path: "/api/v1/collections/c/documents", setup: seed},
		{class: "query", need: auth.RoleRead, method: "POST", path: "/api/v1/collections/c/query", body: `{}`, setup: seed},
		{class: "collection list", need: auth.RoleRead, method: "GET", path: "/api/v1/collections", setup: seed},
		{class: "index list", need: auth.RoleRead, method: "GET", path: "/api/v1/collections/c/indexes", setup: seed},
		{class: "cluster (tenant view)", need: auth.RoleRead, method: "GET", path: "/api/v1/cluster"},
		{class: "stats (tenant view)", need: auth.RoleRead, method: "GET", path: "/api/v1/stats"},
		{class: "document put", need: auth.RoleReadWrite, method: "PUT", path: "/api/v1/collections/c/documents/d", body: `{"data":{"x":2}}`, setup: seed},
		{class: "document create", need: auth.RoleReadWrite, method: "POST", path: "/api/v1/collections/c/documents", body: `{"data":{"x":3}}`},
		{class: "document delete", need: auth.RoleReadWrite, method: "DELETE", path: "/api/v1/collections/c/documents/d", setup: seed},
		{class: "batch", need: auth.RoleReadWrite, method: "POST", path: "/api/v1/batch", body: `{"operations":[{"op":"put","collection":"c","id":"b","data":{}}]}`},
		{class: "collection create", need: auth.RoleReadWrite, method: "PUT", path: "/api/v1/collections/fresh"},
		{class: "collection drop", need: auth.RoleAdmin, method: "DELETE", path: "/api/v1/collections/c", setup: seed},
		{class: "index create", need: auth.RoleAdmin, method: "POST", path: "/api/v1/collections/c/indexes", body: `{"field":"x"}`, setup: noIndex},
		{class: "index drop", need: auth.RoleAdmin, method: "DELETE", path: "/api/v1/collections/c/indexes/x", setup: withIndex},
		{class: "key list", need: auth.RoleAdmin, method: "GET", path: "/api/v1/keys"},
		{class: "key create", need: auth.RoleAdmin, method: "POST", path: "/api/v1/keys", body: `{"role":"read"}`},
		{class: "member join", need: auth.RoleNone, method: "POST", path: "/api/v1/cluster/members", body: `{"node_id":"n9","raft_addr":"127.0.0.1:1"}`},
		{class: "member remove", need: auth.RoleNone, method: "DELETE", path: "/api/v1/cluster/members/n9"},
		{class: "metrics", need: auth.RoleNone, method: "GET", path: "/metrics"},
		{class: "data keys", need: auth.RoleNone, method: "GET", path: "/api/v1/admin/data-keys"},
		{class: "data key rotation", need: auth.RoleNone, method: "POST", path: "/api/v1/admin/data-keys/rotate", body: `{}`},
	}
	keys := []struct {
		key  string
		role auth.Role
	}{{alphaRead, auth.RoleRead}, {alphaRW, auth.RoleReadWrite}, {alphaAdmin, auth.RoleAdmin}}
	for _, c := range cases {
		for _, k := range keys {
			t.Run(fmt.Sprintf("%s/%s", c.class, k.role), func(t *testing.T) {
				if c.setup != nil {
					c.setup(t, e)
				}
				r := e.do(c.method, c.path, k.key, c.body)
				allowed := c.need != auth.RoleNone && k.role.Allows(c.need)
				if allowed {
					if r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized || r.Status >= 500 {
						t.Fatalf("%s %s with a %s key = %d %s, want it served", c.method, c.path, k.role, r.Status, r.Body)
					}
					return
				}
				if r.Status != http.StatusForbidden {
					t.Fatalf("%s %s with a %s key = %d %s, want 403", c.method, c.path, k.role, r.Status, r.Body)
				}
				code, msg := r.ErrCode(t)
				want := "cluster admin key"
				if c.need != auth.RoleNone {
					want = "needs role " + c.need.String()
				}
				if code != jsonapi.CodePermissionDenied || !strings.Contains(msg, want) {
					t.Fatalf("%s %s with a %s key: %s %q, want permission_denied saying %q", c.method, c.path, k.role, code, msg, want)
				}
			})
		}
	}
}

// TestTenantViews checks that a tenant key of any role sees only what is
// its own on /api/v1/cluster (the client endpoints and whether the node is
// ready) and /api/v1/stats (its tenant's figures), while the cluster admin
// key sees the topology: raft addresses, terms, indexes, members and the
// store's figures. Before the fix every tenant key read the whole topology.
func TestTenantViews(t *testing.T) {
	e := newManagedEnv(t)
	e.must(201, "PUT", "/api/v1/collections/c/documents/d", alphaRW, `{"data":{"x":1}}`)
	topology := []string{"raft_addr", "applied_index", "commit_index", "term", "members", "voter", e.store.Addr()}
	for _, key := range []string{alphaRead, alphaRW, alphaAdmin} {
		r := e.must(200, "GET", "/api/v1/cluster", key, "")
		for _, s := range topology {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("tenant view of /api/v1/cluster shows %q: %s", s, r.Body)
			}
		}
		var c tenantClusterBody
		dec := json.NewDecoder(strings.NewReader(string(r.Body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("tenant view %s: %v", r.Body, err)
		}
		if c.NodeID != testNode || !c.Ready || len(c.Endpoints) != 1 || c.Endpoints[0] != (endpointOut{HTTPAddr: testHTTP, Leader: true}) {
			t.Fatalf("tenant view of /api/v1/cluster = %+v", c)
		}

		r = e.must(200, "GET", "/api/v1/stats", key, "")
		for _, s := range []string{`"store"`, `"http"`, "applied_index", "raft"} {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("tenant view of /api/v1/stats shows %s: %s", s, r.Body)
			}
		}
		var st statsBody
		if err := json.Unmarshal(r.Body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Data.Tenant != "alpha" || st.Data.Collections != 1 || st.Data.Documents != 1 {
			t.Fatalf("tenant stats = %+v, want alpha's 1 collection, 1 document", st.Data)
		}
	}
	// Another tenant's figures are its own.
	var st statsBody
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/stats", betaRW, "").Body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Data.Tenant != "beta" || st.Data.Documents != 0 {
		t.Fatalf("beta's stats = %+v", st.Data)
	}

	r := e.must(200, "GET", "/api/v1/cluster", adminKey, "")
	var c jsonapi.ClusterBody
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatal(err)
	}
	if c.AppliedIndex == 0 || len(c.Members) != 1 || c.Members[0].RaftAddr != e.store.Addr() {
		t.Fatalf("cluster admin's /api/v1/cluster = %s, want the topology", r.Body)
	}
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/stats", adminKey, "").Body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Store == nil || st.Store.AppliedIndex == 0 || st.HTTP == nil {
		t.Fatalf("cluster admin's /api/v1/stats = %+v, want the store's and the requests' figures", st)
	}
}
