package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/store"
)

// step is one request of a scripted table test and what it must answer.
type step struct {
	name    string
	method  string
	path    string
	key     string
	body    string
	headers []string
	status  int
	code    string // error code for error answers
	msg     string // substring of the error message
	check   func(t *testing.T, r resp)
}

func runSteps(t *testing.T, e *env, steps []step) {
	t.Helper()
	for _, s := range steps {
		key := s.key
		if key == "" {
			key = adminKey
		} else if key == "-" {
			key = ""
		}
		r := e.do(s.method, s.path, key, s.body, s.headers...)
		if r.Status != s.status {
			t.Fatalf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, r.Status, r.Body, s.status)
		}
		if s.code != "" {
			code, msg := r.ErrCode(t)
			if code != s.code {
				t.Fatalf("%s: error code = %q (%s), want %q", s.name, code, msg, s.code)
			}
			if !strings.Contains(msg, s.msg) {
				t.Fatalf("%s: error message = %q, want it to contain %q", s.name, msg, s.msg)
			}
		}
		if s.check != nil {
			s.check(t, r)
		}
	}
}

func wantHeader(name, value string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := r.Header.Get(name); got != value {
			t.Fatalf("%s = %q, want %q", name, got, value)
		}
	}
}

func wantDoc(id string, version float64, data string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		m := r.JSON(t)
		if m["id"] != id || m["version"] != version {
			t.Fatalf("document = %s, want id %s version %v", r.Body, id, version)
		}
		got, _ := json.Marshal(m["data"])
		if string(got) != data {
			t.Fatalf("data = %s, want %s", got, data)
		}
		for _, f := range []string{"created_at", "updated_at"} {
			s, _ := m[f].(string)
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !strings.HasSuffix(s, "Z") || ts.IsZero() {
				t.Fatalf("%s = %q, want an RFC 3339 UTC timestamp", f, s)
			}
		}
		if len(m) != 5 {
			t.Fatalf("document has fields %v, want exactly id, data, version, created_at, updated_at", m)
		}
	}
}

func TestDocuments(t *testing.T) {
	e := newEnv(t)
	const base = "/api/v1/collections/users/documents"
	runSteps(t, e, []step{
		{name: "create with id", method: "POST", path: base, body: `{"id":"u1","data":{"name":"ada","age":36}}`, status: 201,
			check: func(t *testing.T, r resp) {
				wantDoc("u1", 1, `{"age":36,"name":"ada"}`)(t, r)
				wantHeader("ETag", `"1"`)(t, r)
				wantHeader("Location", base+"/u1")(t, r)
			}},
		{name: "create existing id", method: "POST", path: base, body: `{"id":"u1","data":{}}`, status: 409, code: "conflict"},
		{name: "create generated id", method: "POST", path: base, body: `{"data":{"name":"bob"}}`, status: 201,
			check: func(t *testing.T, r resp) {
				if id, _ := r.JSON(t)["id"].(string); len(id) < 10 {
					t.Fatalf("generated id %q", id)
				}
			}},
		{name: "get", method: "GET", path: base + "/u1", key: readKey, status: 200,
			check: func(t *testing.T, r resp) {
				wantDoc("u1", 1, `{"age":36,"name":"ada"}`)(t, r)
				wantHeader("ETag", `"1"`)(t, r)
			}},
		{name: "get not modified", method: "GET", path: base + "/u1", headers: []string{"If-None-Match", `"1"`}, status: 304},
		{name: "get missing", method: "GET", path: base + "/nope", status: 404, code: "not_found"},
		{name: "put creates", method: "PUT", path: base + "/u2", key: rwKey, body: `{"data":{"name":"cy"}}`, status: 201,
			check: func(t *testing.T, r resp) {
				wantDoc("u2", 1, `{"name":"cy"}`)(t, r)
				wantHeader("ETag", `"1"`)(t, r)
			}},
		{name: "put updates", method: "PUT", path: base + "/u2", body: `{"data":{"name":"cy","n":2}}`, status: 200,
			check: func(t *testing.T, r resp) {
				wantDoc("u2", 2, `{"n":2,"name":"cy"}`)(t, r)
				wantHeader("ETag", `"2"`)(t, r)
			}},
		{name: "put if-match stale", method: "PUT", path: base + "/u2", body: `{"data":{}}`, headers: []string{"If-Match", "1"}, status: 412, code: "precondition_failed"},
		{name: "put if-match bare", method: "PUT", path: base + "/u2", body: `{"data":{"n":3}}`, headers: []string{"If-Match", "2"}, status: 200, check: wantHeader("ETag", `"3"`)},
		{name: "put if-match quoted", method: "PUT", path: base + "/u2", body: `{"data":{"n":4}}`, headers: []string{"If-Match", `"3"`}, status: 200, check: wantDoc("u2", 4, `{"n":4}`)},
		{name: "put if-match missing doc", method: "PUT", path: base + "/u9", body: `{"data":{}}`, headers: []string{"If-Match", `"1"`}, status: 412, code: "precondition_failed"},
		{name: "put if-match junk", method: "PUT", path: base + "/u2", body: `{"data":{}}`, headers: []string{"If-Match", "abc"}, status: 400, code: "invalid_argument", msg: "If-Match"},
		{name: "put if-match weak", method: "PUT", path: base + "/u2", body: `{"data":{}}`, headers: []string{"If-Match", `W/"4"`}, status: 400, code: "invalid_argument", msg: "weak"},
		{name: "put if-none-match existing", method: "PUT", path: base + "/u2", body: `{"data":{}}`, headers: []string{"If-None-Match", "*"}, status: 412, code: "precondition_failed", msg: `document "u2" already exists`},
		{name: "put with id in body", method: "PUT", path: base + "/u2", body: `{"id":"u2","data":{}}`, status: 400, code: "invalid_argument", msg: `unknown field "id"`},
		{name: "put not object", method: "PUT", path: base + "/u2", body: `{"data":[1,2]}`, status: 400, code: "invalid_argument", msg: "data: must be a JSON object"},
		{name: "delete if-match stale", method: "DELETE", path: base + "/u2", headers: []string{"If-Match", `"1"`}, status: 412, code: "precondition_failed"},
		{name: "delete", method: "DELETE", path: base + "/u2", headers: []string{"If-Match", `"4"`}, status: 204,
			check: func(t *testing.T, r resp) {
				if len(r.Body) != 0 {
					t.Fatalf("204 with body %q", r.Body)
				}
			}},
		{name: "get deleted", method: "GET", path: base + "/u2", status: 404, code: "not_found"},
		{name: "delete missing", method: "DELETE", path: base + "/u2", status: 404, code: "not_found"},
		{name: "put recreates at version 1", method: "PUT", path: base + "/u2", body: `{"data":{"again":true}}`, status: 201, check: wantDoc("u2", 1, `{"again":true}`)},
		{name: "bad collection name", method: "POST", path: "/api/v1/collections/_bad$/documents", body: `{"data":{}}`, status: 400, code: "invalid_argument"},
		{name: "unknown field", method: "POST", path: base, body: `{"data":{},"ttl":5}`, status: 400, code: "invalid_argument", msg: `unknown field "ttl"`},
		{name: "bad json", method: "POST", path: base, body: `{"data":`, status: 400, code: "invalid_argument", msg: "JSON ends early"},
	})
}

func TestListQueryAndConsistency(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.must(201, "PUT", fmt.Sprintf("/api/v1/collections/people/documents/p%d", i), adminKey,
			fmt.Sprintf(`{"data":{"age":%d,"team":"%s"}}`, 20+i, []string{"red", "blue"}[i%2]))
	}
	ids := func(r resp) []string {
		var p struct {
			Documents []document.Doc `json:"documents"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range p.Documents {
			out = append(out, d.ID)
		}
		return out
	}
	page := func(total, limit, offset float64, want ...string) func(*testing.T, resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			m := r.JSON(t)
			if m["total"] != total || m["limit"] != limit || m["offset"] != offset {
				t.Fatalf("page = %s, want total %v limit %v offset %v", r.Body, total, limit, offset)
			}
			if got := strings.Join(ids(r), ","); got != strings.Join(want, ",") {
				t.Fatalf("ids = %s, want %s", got, strings.Join(want, ","))
			}
		}
	}
	const list = "/api/v1/collections/people/documents"
	const query = "/api/v1/collections/people/query"
	runSteps(t, e, []step{
		{name: "list all", method: "GET", path: list, status: 200, check: page(5, 100, 0, "p0", "p1", "p2", "p3", "p4")},
		{name: "list paged", method: "GET", path: list + "?limit=2&offset=1", status: 200, check: page(5, 2, 1, "p1", "p2")},
		{name: "list bad limit", method: "GET", path: list + "?limit=ten", status: 400, code: "invalid_argument", msg: "limit"},
		{name: "list negative offset", method: "GET", path: list + "?offset=-1", status: 400, code: "invalid_argument", msg: "offset"},
		{name: "list limit above max", method: "GET", path: list + "?limit=5000", status: 400, code: "invalid_argument"},
		{name: "list empty collection", method: "GET", path: "/api/v1/collections/none/documents", status: 200,
			check: func(t *testing.T, r resp) {
				if !strings.Contains(string(r.Body), `"documents":[]`) {
					t.Fatalf("empty list = %s, want documents: []", r.Body)
				}
			}},
		{name: "consistency linearizable", method: "GET", path: list + "?consistency=linearizable&limit=1", status: 200, check: page(5, 1, 0, "p0")},
		{name: "consistency leader", method: "GET", path: list + "?consistency=leader&limit=1", status: 200, check: page(5, 1, 0, "p0")},
		{name: "consistency stale", method: "GET", path: list + "?consistency=stale&limit=1", status: 200, check: page(5, 1, 0, "p0")},
		{name: "consistency unknown", method: "GET", path: list + "?consistency=eventual", status: 400, code: "invalid_argument", msg: "consistency"},
		{name: "get consistency unknown", method: "GET", path: list + "/p1?consistency=x", status: 400, code: "invalid_argument", msg: "consistency"},
		{name: "query consistency unknown", method: "POST", path: query + "?consistency=x", body: `{}`, status: 400, code: "invalid_argument", msg: "consistency"},
		{name: "get stale", method: "GET", path: list + "/p1?consistency=stale", status: 200},
		{name: "query filter sort", method: "POST", path: query, key: readKey, body: `{"filter":{"team":"red","age":{"$gte":21}},"sort":{"age":-1}}`, status: 200,
			check: func(t *testing.T, r resp) {
				page(2, 100, 0, "p4", "p2")(t, r)
				if _, ok := r.JSON(t)["explain"]; ok {
					t.Fatal("explain present without being asked")
				}
			}},
		{name: "query paged", method: "POST", path: query, body: `{"sort":{"age":1},"limit":2,"offset":2}`, status: 200, check: page(5, 2, 2, "p2", "p3")},
		{name: "query explain", method: "POST", path: query, body: `{"filter":{"age":{"$lt":22}},"explain":true}`, status: 200,
			check: func(t *testing.T, r resp) {
				page(2, 100, 0, "p0", "p1")(t, r)
				ex, _ := r.JSON(t)["explain"].(map[string]any)
				if ex == nil || ex["scanned"] != float64(5) || ex["index"] != "" || ex["plan"] == "" {
					t.Fatalf("explain = %v, want a full scan of 5", ex)
				}
			}},
		{name: "create index", method: "POST", path: "/api/v1/collections/people/indexes", body: `{"field":"age"}`, status: 201,
			check: func(t *testing.T, r resp) {
				if m := r.JSON(t); m["field"] != "age" {
					t.Fatalf("index = %s", r.Body)
				}
			}},
		{name: "query explain indexed", method: "POST", path: query, body: `{"filter":{"age":{"$lt":22}},"explain":true}`, status: 200,
			check: func(t *testing.T, r resp) {
				page(2, 100, 0, "p0", "p1")(t, r)
				ex, _ := r.JSON(t)["explain"].(map[string]any)
				if ex == nil || ex["index"] != "age" || ex["scanned"] != float64(2) {
					t.Fatalf("explain = %v, want index age scanning 2", ex)
				}
			}},
		{name: "query bad operator", method: "POST", path: query, body: `{"filter":{"age":{"$near":1}}}`, status: 400, code: "invalid_argument", msg: "$near"},
		{name: "query filter not object", method: "POST", path: query, body: `{"filter":"age"}`, status: 400, code: "invalid_argument", msg: "filter"},
		{name: "query unknown field", method: "POST", path: query, body: `{"where":{}}`, status: 400, code: "invalid_argument", msg: `unknown field "where"`},
	})
}

func TestCollectionsAndIndexes(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/collections/a/documents", adminKey, `{"id":"1","data":{"x":1}}`)
	e.must(201, "POST", "/api/v1/collections/b/documents", adminKey, `{"id":"1","data":{"y":{"z":2}}}`)
	e.must(201, "POST", "/api/v1/collections/b/documents", adminKey, `{"id":"2","data":{"y":{"z":3}}}`)
	runSteps(t, e, []step{
		{name: "list collections", method: "GET", path: "/api/v1/collections", key: readKey, status: 200,
			check: func(t *testing.T, r resp) {
				var out struct {
					Collections []collectionBody `json:"collections"`
				}
				if err := json.Unmarshal(r.Body, &out); err != nil {
					t.Fatal(err)
				}
				if len(out.Collections) != 2 || out.Collections[0].Name != "a" || out.Collections[1].Name != "b" ||
					out.Collections[1].Documents != 2 || out.Collections[1].Bytes <= 0 || out.Collections[0].Indexes == nil {
					t.Fatalf("collections = %s", r.Body)
				}
			}},
		{name: "create index", method: "POST", path: "/api/v1/collections/b/indexes", body: `{"field":"y.z"}`, status: 201},
		{name: "create index again", method: "POST", path: "/api/v1/collections/b/indexes", body: `{"field":"y.z"}`, status: 409, code: "conflict"},
		{name: "create index read key", method: "POST", path: "/api/v1/collections/b/indexes", key: readKey, body: `{"field":"q"}`, status: 403, code: "permission_denied"},
		{name: "create index empty field", method: "POST", path: "/api/v1/collections/b/indexes", body: `{"field":""}`, status: 400, code: "invalid_argument", msg: "field"},
		{name: "list indexes", method: "GET", path: "/api/v1/collections/b/indexes", status: 200,
			check: func(t *testing.T, r resp) {
				if got := strings.TrimSpace(string(r.Body)); got != `{"indexes":["y.z"]}` {
					t.Fatalf("indexes = %s", got)
				}
			}},
		{name: "list indexes of missing collection", method: "GET", path: "/api/v1/collections/zz/indexes", status: 404, code: "not_found"},
		{name: "drop index", method: "DELETE", path: "/api/v1/collections/b/indexes/y.z", status: 204},
		{name: "drop index again", method: "DELETE", path: "/api/v1/collections/b/indexes/y.z", status: 404, code: "not_found"},
		{name: "list indexes after drop", method: "GET", path: "/api/v1/collections/b/indexes", status: 200,
			check: func(t *testing.T, r resp) {
				if got := strings.TrimSpace(string(r.Body)); got != `{"indexes":[]}` {
					t.Fatalf("indexes = %s", got)
				}
			}},
		{name: "drop collection readwrite key", method: "DELETE", path: "/api/v1/collections/b", key: rwKey, status: 403, code: "permission_denied", msg: "needs role admin"},
		{name: "create index readwrite key", method: "POST", path: "/api/v1/collections/b/indexes", key: rwKey, body: `{"field":"q"}`, status: 403, code: "permission_denied", msg: "needs role admin"},
		{name: "drop collection", method: "DELETE", path: "/api/v1/collections/b", status: 204},
		{name: "dropped collection's document", method: "GET", path: "/api/v1/collections/b/documents/1", status: 404, code: "not_found"},
		{name: "drop missing collection", method: "DELETE", path: "/api/v1/collections/b", status: 404, code: "not_found"},
		{name: "collections after drop", method: "GET", path: "/api/v1/collections", status: 200,
			check: func(t *testing.T, r resp) {
				if strings.Contains(string(r.Body), `"name":"b"`) {
					t.Fatalf("collections = %s", r.Body)
				}
			}},
	})
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", "/api/v1/collections/acct/documents/alice", adminKey, `{"data":{"balance":100}}`)
	e.must(201, "PUT", "/api/v1/collections/acct/documents/bob", adminKey, `{"data":{"balance":0}}`)
	// A failing operation anywhere fails the whole batch and names its index.
	r := e.do("POST", "/api/v1/batch", adminKey, `{"operations":[
		{"op":"put","collection":"acct","id":"alice","data":{"balance":60},"if_version":1},
		{"op":"put","collection":"acct","id":"bob","data":{"balance":40},"if_version":7}]}`)
	if r.Status != 412 {
		t.Fatalf("batch with stale op = %d %s, want 412", r.Status, r.Body)
	}
	if code, msg := r.ErrCode(t); code != "precondition_failed" || !strings.Contains(msg, "operations[1]") {
		t.Fatalf("batch error = %s %q, want precondition_failed naming operations[1]", code, msg)
	}
	// Nothing of it was applied.
	alice := e.must(200, "GET", "/api/v1/collections/acct/documents/alice", adminKey, "").JSON(t)
	if alice["version"] != float64(1) {
		t.Fatalf("alice after failed batch = %v, want untouched version 1", alice)
	}
	r = e.do("POST", "/api/v1/batch", adminKey, `{"operations":[
		{"op":"delete","collection":"acct","id":"ghost"},
		{"op":"put","collection":"acct","id":"carol","data":{"balance":1}}]}`)
	if code, msg := r.ErrCode(t); r.Status != 404 || code != "not_found" || !strings.Contains(msg, "operations[0]") {
		t.Fatalf("batch deleting missing doc = %d %s %q", r.Status, code, msg)
	}
	e.must(404, "GET", "/api/v1/collections/acct/documents/carol", adminKey, "")

	// A successful batch applies everything and reports each operation.
	r = e.must(200, "POST", "/api/v1/batch", rwKey, `{"operations":[
		{"op":"put","collection":"acct","id":"alice","data":{"balance":60},"if_version":1},
		{"op":"put","collection":"acct","id":"bob","data":{"balance":40}},
		{"op":"put","collection":"log","data":{"amount":40}},
		{"op":"delete","collection":"acct","id":"bob"}]}`)
	var out struct {
		Results []batchResult `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 4 {
		t.Fatalf("results = %s", r.Body)
	}
	if res := out.Results[0]; res.Op != "put" || res.ID != "alice" || res.Version != 2 || res.Document == nil || string(res.Document.Data) != `{"balance":60}` {
		t.Fatalf("result 0 = %+v", res)
	}
	if res := out.Results[2]; res.Collection != "log" || res.ID == "" || res.Version != 1 {
		t.Fatalf("result 2 (generated id) = %+v", res)
	}
	if res := out.Results[3]; res.Op != "delete" || res.ID != "bob" || res.Document != nil {
		t.Fatalf("result 3 = %+v", res)
	}
	e.must(404, "GET", "/api/v1/collections/acct/documents/bob", adminKey, "")
	e.must(200, "GET", "/api/v1/collections/log/documents/"+out.Results[2].ID, adminKey, "")

	runSteps(t, e, []step{
		{name: "batch read key", method: "POST", path: "/api/v1/batch", key: readKey, body: `{"operations":[{"op":"delete","collection":"a","id":"1"}]}`, status: 403, code: "permission_denied"},
		{name: "batch bad op", method: "POST", path: "/api/v1/batch", body: `{"operations":[{"op":"put","collection":"a","data":{}},{"op":"patch","collection":"a","id":"1"}]}`, status: 400, code: "invalid_argument", msg: "operations[1].op"},
		{name: "batch bad collection", method: "POST", path: "/api/v1/batch", body: `{"operations":[{"op":"put","collection":"ok","data":{}},{"op":"put","collection":"$bad","data":{}}]}`, status: 400, code: "invalid_argument", msg: "operations[1]"},
	})
}

func TestLimits(t *testing.T) {
	e := newEnv(t)
	big := `{"data":{"k":"` + strings.Repeat("x", maxBody) + `"}}`
	doc := `{"data":{"k":"` + strings.Repeat("x", maxDoc) + `"}}` // under the body limit, over the document limit
	batch := `{"operations":[{"op":"put","collection":"c","id":"1","data":{"k":"` + strings.Repeat("x", maxDoc) + `"}}]}`
	runSteps(t, e, []step{
		{name: "body over limit", method: "POST", path: "/api/v1/collections/c/documents", body: big, status: 413, code: "too_large", msg: fmt.Sprint(maxBody)},
		{name: "put body over limit", method: "PUT", path: "/api/v1/collections/c/documents/1", body: big, status: 413, code: "too_large"},
		{name: "query body over limit", method: "POST", path: "/api/v1/collections/c/query", body: `{"filter":{"k":"` + strings.Repeat("x", maxBody) + `"}}`, status: 413, code: "too_large"},
		{name: "document over limit", method: "PUT", path: "/api/v1/collections/c/documents/1", body: doc, status: 413, code: "too_large", msg: "limit"},
		{name: "batch document over limit", method: "POST", path: "/api/v1/batch", body: batch, status: 413, code: "too_large", msg: "operations[0].data"},
		{name: "nothing stored", method: "GET", path: "/api/v1/collections/c/documents/1", status: 404, code: "not_found"},
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	runSteps(t, e, []step{
		{name: "no key", method: "GET", path: "/api/v1/collections", key: "-", status: 401, code: "unauthenticated", msg: "Authorization",
			check: wantHeader("WWW-Authenticate", `Bearer realm="aerolith"`)},
		{name: "wrong key", method: "GET", path: "/api/v1/collections", key: wrongKey, status: 401, code: "unauthenticated",
			check: func(t *testing.T, r resp) {
				wantHeader("WWW-Authenticate", `Bearer realm="aerolith"`)(t, r)
				if strings.Contains(string(r.Body), wrongKey) {
					t.Fatal("error echoes the key")
				}
			}},
		{name: "basic auth", method: "GET", path: "/api/v1/collections", key: "-", headers: []string{"Authorization", "Basic YTpi"}, status: 401, code: "unauthenticated"},
		{name: "read key reads", method: "GET", path: "/api/v1/collections", key: readKey, status: 200},
		{name: "read key query", method: "POST", path: "/api/v1/collections/c/query", key: readKey, body: `{}`, status: 200},
		{name: "read key writes", method: "PUT", path: "/api/v1/collections/c/documents/1", key: readKey, body: `{"data":{}}`, status: 403, code: "permission_denied", msg: "readwrite"},
		{name: "read key deletes", method: "DELETE", path: "/api/v1/collections/c/documents/1", key: readKey, status: 403, code: "permission_denied"},
		{name: "read key drops", method: "DELETE", path: "/api/v1/collections/c", key: readKey, status: 403, code: "permission_denied"},
		{name: "rw key writes", method: "PUT", path: "/api/v1/collections/c/documents/1", key: rwKey, body: `{"data":{"t":"default"}}`, status: 201},
		{name: "rw key joins", method: "POST", path: "/api/v1/cluster/members", key: rwKey, body: `{"node_id":"n9","raft_addr":"127.0.0.1:1"}`, status: 403, code: "permission_denied", msg: "admin"},
		{name: "rw key removes", method: "DELETE", path: "/api/v1/cluster/members/n9", key: rwKey, status: 403, code: "permission_denied"},
		{name: "rw key reads cluster", method: "GET", path: "/api/v1/cluster", key: rwKey, status: 200},
		{name: "stats needs key", method: "GET", path: "/api/v1/stats", key: "-", status: 401, code: "unauthenticated"},
		{name: "cluster needs key", method: "GET", path: "/api/v1/cluster", key: "-", status: 401, code: "unauthenticated"},
		{name: "metrics needs key", method: "GET", path: "/metrics", key: "-", status: 401, code: "unauthenticated"},
		{name: "metrics with key", method: "GET", path: "/metrics", key: readKey, status: 200},
		{name: "health open", method: "GET", path: "/health", key: "-", status: 200},
		{name: "readyz open", method: "GET", path: "/readyz", key: "-", status: 200},
		{name: "self open", method: "GET", path: "/api/v1/cluster/self", key: "-", status: 200},
		{name: "auth before validation", method: "POST", path: "/api/v1/batch", key: "-", body: `not json`, status: 401, code: "unauthenticated"},
		// Tenancy comes from the key only: another tenant's key sees nothing
		// of the default tenant, whatever the URL says.
		{name: "other tenant cannot read", method: "GET", path: "/api/v1/collections/c/documents/1", key: acmeKey, status: 404, code: "not_found"},
		{name: "other tenant writes its own", method: "PUT", path: "/api/v1/collections/c/documents/1", key: acmeKey, body: `{"data":{"t":"acme"}}`, status: 201},
		{name: "default tenant unchanged", method: "GET", path: "/api/v1/collections/c/documents/1", key: rwKey, status: 200, check: wantDoc("1", 1, `{"t":"default"}`)},
		{name: "other tenant lists own", method: "GET", path: "/api/v1/collections", key: acmeKey, status: 200,
			check: func(t *testing.T, r resp) {
				if !strings.Contains(string(r.Body), `"documents":1`) {
					t.Fatalf("acme collections = %s", r.Body)
				}
			}},
	})

	open := newEnv(t, func(c *Config) { c.MetricsNoAuth = true })
	open.must(200, "GET", "/metrics", "", "")
	open.must(401, "GET", "/api/v1/stats", "", "")
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	runSteps(t, e, []step{
		{name: "unknown route", method: "GET", path: "/api/v1/nothing", status: 404, code: "not_found", msg: "/api/v1/nothing"},
		{name: "unknown root", method: "GET", path: "/", key: "-", status: 404, code: "not_found"},
		{name: "collection GET not allowed", method: "GET", path: "/api/v1/collections/c", status: 405, code: "method_not_allowed",
			check: wantHeader("Allow", "PUT, DELETE")},
		{name: "document PATCH", method: "PATCH", path: "/api/v1/collections/c/documents/1", body: `{}`, status: 405, code: "method_not_allowed",
			check: wantHeader("Allow", "GET, HEAD, PUT, DELETE")},
		{name: "batch GET", method: "GET", path: "/api/v1/batch", status: 405, code: "method_not_allowed", check: wantHeader("Allow", "POST")},
		{name: "health POST", method: "POST", path: "/health", key: "-", status: 405, code: "method_not_allowed"},
		{name: "head document", method: "HEAD", path: "/api/v1/collections/c/documents/1", status: 404},
	})
}

func TestHealthReadyAndUnavailable(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", "/api/v1/collections/c/documents/1", adminKey, `{"data":{}}`)
	runSteps(t, e, []step{
		{name: "health", method: "GET", path: "/health", key: "-", status: 200,
			check: func(t *testing.T, r resp) {
				if m := r.JSON(t); m["status"] != "ok" || m["node_id"] != testNode {
					t.Fatalf("health = %s", r.Body)
				}
			}},
		{name: "ready", method: "GET", path: "/readyz", key: "-", status: 200},
	})

	e.faults.set(nil, true, true)
	runSteps(t, e, []step{
		{name: "not ready, no leader", method: "GET", path: "/readyz", key: "-", status: 503, code: "unavailable", msg: "no cluster leader", check: wantHeader("Retry-After", "1")},
		{name: "health while not ready", method: "GET", path: "/health", key: "-", status: 200},
	})
	e.faults.set(nil, true, false)
	runSteps(t, e, []step{
		{name: "not ready, leader known", method: "GET", path: "/readyz", key: "-", status: 503, code: "unavailable", msg: "not caught up"},
	})
	e.faults.setRemoved(true)
	runSteps(t, e, []step{
		{name: "not ready, removed", method: "GET", path: "/readyz", key: "-", status: 503, code: "unavailable", msg: "removed from the cluster"},
	})
	e.faults.setRemoved(false)

	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{store.ErrNoLeader, 503, "unavailable"},
		{store.ErrNotLeader, 503, "unavailable"},
		{store.ErrNotReady, 503, "unavailable"},
		{store.ErrClosed, 503, "unavailable"},
		{fmt.Errorf("wrapped: %w", store.ErrNoLeader), 503, "unavailable"},
		{store.ErrTooLarge, 413, "too_large"},
		{store.ErrLeadershipLost, 503, "unavailable"},
		{store.ErrRemoved, 503, "unavailable"},
		{fmt.Errorf("forward to leader 10.0.0.1:7071: %w", store.ErrLeadershipLost), 503, "unavailable"},
		{fmt.Errorf("%w: forward to leader 10.0.0.1:7071: no answer within 5s: %w", store.ErrLeadershipLost, context.DeadlineExceeded), 503, "unavailable"},
		{errors.New("disk on fire at /var/secret/path"), 500, "internal"},
	} {
		e.faults.set(tt.err, false, false)
		for _, req := range [][3]string{
			{"GET", "/api/v1/collections/c/documents/1", ""},
			{"PUT", "/api/v1/collections/c/documents/1", `{"data":{}}`},
			{"POST", "/api/v1/collections/c/query", `{}`},
		} {
			r := e.do(req[0], req[1], adminKey, req[2])
			code, msg := r.ErrCode(t)
			if r.Status != tt.status || code != tt.code {
				t.Fatalf("%s %s with store error %v = %d %s, want %d %s", req[0], req[1], tt.err, r.Status, code, tt.status, tt.code)
			}
			if tt.status == 503 && r.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After")
			}
			if strings.Contains(msg, "secret") || strings.Contains(msg, "fire") {
				t.Fatalf("internal error leaked: %q", msg)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Fatalf("internal error not logged; logs:\n%s", e.logs.String())
	}
	e.faults.set(nil, false, false)
	e.must(200, "GET", "/api/v1/collections/c/documents/1", adminKey, "")
}
