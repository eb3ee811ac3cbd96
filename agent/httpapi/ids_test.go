package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// TestDotIDsRefused reproduces issue 10's data loss: DELETE
// /collections/scratch/documents/.. was answered 307 to
// /collections/scratch, and a client following it with DELETE dropped the
// collection. Every route and body refuses "." and ".." (also
// percent-encoded) with 400 naming the field, and nothing changes.
func TestDotIDsRefused(t *testing.T) {
	e := newEnv(t)
	const coll = "/api/v1/collections/scratch"
	e.must(201, "PUT", coll+"/documents/keep", rwKey, `{"data":{"v":1}}`)
	e.must(201, "POST", coll+"/indexes", adminKey, `{"field":"v"}`)

	type attempt struct {
		method, path, body string
		msg                string // substring of the error message
	}
	var attempts []attempt
	for _, id := range []string{"..", ".", "%2E%2E", "%2e%2E", "%2E"} {
		dots := strings.ReplaceAll(strings.ReplaceAll(id, "%2E", "."), "%2e", ".")
		want := `id: "` + dots + `" cannot be used`
		attempts = append(attempts,
			attempt{"DELETE", coll + "/documents/" + id, "", want},
			attempt{"GET", coll + "/documents/" + id, "", want},
			attempt{"PUT", coll + "/documents/" + id, `{"data":{}}`, want},
			attempt{"DELETE", coll + "/indexes/" + id, "", `field: "` + dots + `" cannot be used`},
			attempt{"DELETE", "/api/v1/collections/" + id, "", `collection: "` + dots + `" cannot be used`},
			attempt{"POST", "/api/v1/collections/" + id + "/documents", `{"data":{}}`, `collection: "` + dots + `"`},
			attempt{"GET", "/api/v1/collections/" + id + "/documents", "", `collection: "` + dots + `"`},
			attempt{"POST", "/api/v1/collections/" + id + "/query", `{}`, `collection: "` + dots + `"`},
			attempt{"GET", "/api/v1/collections/" + id + "/indexes", "", `collection: "` + dots + `"`},
			attempt{"DELETE", "/api/v1/collections/" + id + "/documents/keep", "", `collection: "` + dots + `"`},
			attempt{"DELETE", "/api/v1/keys/" + id, "", `id: "` + dots + `"`},
			attempt{"DELETE", "/api/v1/cluster/members/" + id, "", `id: "` + dots + `"`},
		)
	}
	for _, id := range []string{"..", "."} {
		attempts = append(attempts,
			attempt{"POST", coll + "/documents", `{"id":"` + id + `","data":{}}`, `id: document id "` + id + `" cannot be used`},
			attempt{"POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"scratch","id":"ok","data":{}},{"op":"put","collection":"scratch","id":"` + id + `","data":{}}]}`,
				`operations[1].id: document id "` + id + `" cannot be used`},
			attempt{"POST", "/api/v1/batch", `{"operations":[{"op":"delete","collection":"scratch","id":"` + id + `"}]}`, `operations[0].id: document id "` + id + `"`},
			attempt{"POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"` + id + `","id":"x","data":{}}]}`, `invalid collection name "` + id + `"`},
		)
	}
	// Empty and dot segments elsewhere in the path.
	attempts = append(attempts,
		attempt{"DELETE", coll + "/documents/keep/..", "", "has an empty, \".\" or \"..\" segment"},
		attempt{"DELETE", coll + "//documents/keep", "", "has an empty"},
		attempt{"DELETE", "/api/v1/collections/x/../scratch", "", "has an empty"},
	)
	for _, a := range attempts {
		r := e.do(a.method, a.path, adminKey, a.body)
		if r.Status != 400 {
			t.Fatalf("%s %s %s = %d %s (Location %q), want 400", a.method, a.path, a.body, r.Status, r.Body, r.Header.Get("Location"))
		}
		if code, msg := r.ErrCode(t); code != jsonapi.CodeInvalidArgument || !strings.Contains(msg, a.msg) {
			t.Fatalf("%s %s %s: error %s %q, want invalid_argument containing %q", a.method, a.path, a.body, code, msg, a.msg)
		}
	}
	// Nothing was dropped or written.
	r := e.must(200, "GET", "/api/v1/collections", rwKey, "")
	var cols struct {
		Collections []collectionBody `json:"collections"`
	}
	if err := json.Unmarshal(r.Body, &cols); err != nil {
		t.Fatal(err)
	}
	if len(cols.Collections) != 1 || cols.Collections[0].Name != "scratch" || cols.Collections[0].Documents != 1 || len(cols.Collections[0].Indexes) != 1 {
		t.Fatalf("collections after the refused requests = %s, want scratch with its one document and index", r.Body)
	}
	e.must(200, "GET", coll+"/documents/keep", rwKey, "", "", "")
}

// TestInvalidJSONTextRefused reproduces issue 10: a document with invalid
// UTF-8 was stored (201) and every later read of its collection answered
// invalid JSON. Strings that are not valid Unicode and duplicate keys are
// refused with 400 naming the JSON path, in every body; reads stay valid.
func TestInvalidJSONTextRefused(t *testing.T) {
	e := newEnv(t)
	const coll = "/api/v1/collections/people"
	e.must(201, "PUT", coll+"/documents/ok", rwKey, `{"data":{"name":"ada"}}`)
	bad := "\xff\xfe"
	tests := []struct {
		name, method, path, body, msg string
	}{
		{"create value", "POST", coll + "/documents", `{"data":{"name":"` + bad + `"}}`, "data.name: string"},
		{"create nested value", "POST", coll + "/documents", `{"data":{"a":{"tags":["x","b` + bad + `"]}}}`, "data.a.tags[1]: string"},
		{"create key", "POST", coll + "/documents", `{"data":{"k` + bad + `":1}}`, `data: string is not valid UTF-8: byte 0xff at offset 11 after "k"`},
		{"create id", "POST", coll + "/documents", `{"id":"` + bad + `","data":{}}`, "id: string is not valid UTF-8: byte 0xff at offset 7"},
		{"put value", "PUT", coll + "/documents/x", `{"data":{"name":"` + bad + `"}}`, "data.name: string"},
		{"put lone surrogate", "PUT", coll + "/documents/x", `{"data":{"name":"\ud800"}}`, "data.name: string"},
		{"put reversed surrogates", "PUT", coll + "/documents/x", `{"data":{"name":"\udc00\ud800"}}`, "unpaired surrogate"},
		{"query filter", "POST", coll + "/query", `{"filter":{"name":"` + bad + `"}}`, "filter.name: string"},
		{"query operator", "POST", coll + "/query", `{"filter":{"name":{"$in":["a","` + bad + `"]}}}`, "filter.name.$in[1]: string"},
		{"batch data", "POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"people","id":"y","data":{"n":"` + bad + `"}}]}`, "operations[0].data.n: string"},
		{"batch id", "POST", "/api/v1/batch", `{"operations":[{"op":"delete","collection":"people","id":"` + bad + `"}]}`, "operations[0].id: string"},
		{"path id", "GET", coll + "/documents/%FF", "", "not valid UTF-8"},
		{"duplicate data key", "PUT", coll + "/documents/x", `{"data":{"a":1,"a":2}}`, `data.a: duplicate key "a"`},
		{"duplicate escaped key", "PUT", coll + "/documents/x", `{"data":{"b":{"a":1,"\u0061":2}}}`, `data.b.a: duplicate key "a"`},
		{"duplicate odd key", "PUT", coll + "/documents/x", `{"data":{"a b":1,"a b":2}}`, `data["a b"]: duplicate key "a b"`},
		{"duplicate body key", "PUT", coll + "/documents/x", `{"data":{"a":1},"data":{"a":2}}`, `data: duplicate key "data"`},
		{"duplicate filter key", "POST", coll + "/query", `{"filter":{"name":"ada","name":"bob"}}`, `filter.name: duplicate key`},
		{"duplicate in array", "POST", "/api/v1/batch", `{"operations":[{"op":"put","collection":"people","data":{"l":[{"q":1,"q":1}]}}]}`, `operations[0].data.l[0].q: duplicate key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, rwKey, tt.body)
			if r.Status != 400 {
				t.Fatalf("%s %s %q = %d %s, want 400", tt.method, tt.path, tt.body, r.Status, r.Body)
			}
			if code, msg := r.ErrCode(t); code != jsonapi.CodeInvalidArgument || !strings.Contains(msg, tt.msg) {
				t.Fatalf("error %s %q, want invalid_argument containing %q", code, msg, tt.msg)
			}
			if !utf8.Valid(r.Body) {
				t.Fatalf("error answer is not valid UTF-8: %q", r.Body)
			}
		})
	}
	// Valid text outside ASCII, escapes and surrogate pairs pass.
	e.must(201, "PUT", coll+"/documents/u", rwKey, `{"data":{"name":"Zoë \u00e9 \ud83d\ude00 😀","a":{"a":1},"b":[{"a":1},{"a":2}]}}`)
	r := e.must(200, "GET", coll+"/documents", rwKey, "")
	if !utf8.Valid(r.Body) || !json.Valid(r.Body) {
		t.Fatalf("list answered invalid JSON: %q", r.Body)
	}
	if total := r.JSON(t)["total"]; total != float64(2) {
		t.Fatalf("total = %v, want 2 (nothing refused was stored)", total)
	}
}

// TestIfNoneMatchStar: a PUT with If-None-Match: * on an existing document
// fails its precondition: 412 (RFC 9110 13.1.2), not 409 as before. POST
// of an existing id stays 409.
func TestIfNoneMatchStar(t *testing.T) {
	e := newEnv(t)
	const doc = "/api/v1/collections/c/documents/d"
	e.must(201, "PUT", doc, rwKey, `{"data":{"v":1}}`, "If-None-Match", "*")
	r := e.must(412, "PUT", doc, rwKey, `{"data":{"v":2}}`, "If-None-Match", "*")
	if code, msg := r.ErrCode(t); code != jsonapi.CodePreconditionFailed || !strings.Contains(msg, `document "d" already exists`) {
		t.Fatalf("error %s %q", code, msg)
	}
	r = e.must(409, "POST", "/api/v1/collections/c/documents", rwKey, `{"id":"d","data":{}}`)
	if code, _ := r.ErrCode(t); code != jsonapi.CodeConflict {
		t.Fatalf("POST of an existing id: code %s, want conflict", code)
	}
	if v := e.must(200, "GET", doc, rwKey, "").JSON(t)["version"]; v != float64(1) {
		t.Fatalf("version = %v after the refused writes, want 1", v)
	}
}

// TestStoredInvalidUTF8ServedAsValidJSON: a document stored with invalid
// UTF-8 before the API refused it (proposed here straight to the store,
// whose Apply still accepts it) no longer makes every read of its
// collection invalid JSON: the invalid bytes are answered as U+FFFD.
func TestStoredInvalidUTF8ServedAsValidJSON(t *testing.T) {
	e := newEnv(t)
	cmd, err := document.EncodeCommand(document.Command{Ops: []document.Op{
		{Kind: document.OpPut, Tenant: auth.DefaultTenant, Collection: "old", ID: "bad", Data: json.RawMessage("{\"name\":\"ad\xffa\",\"k\xfe\":1}"), Time: 1},
		{Kind: document.OpPut, Tenant: auth.DefaultTenant, Collection: "old", ID: "good", Data: json.RawMessage(`{"name":"bob"}`), Time: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Propose(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	for _, r := range []resp{
		e.must(200, "GET", "/api/v1/collections/old/documents/bad", rwKey, ""),
		e.must(200, "GET", "/api/v1/collections/old/documents", rwKey, ""),
		e.must(200, "POST", "/api/v1/collections/old/query", rwKey, `{"filter":{}}`),
	} {
		if !utf8.Valid(r.Body) || !json.Valid(r.Body) {
			t.Fatalf("answer is not valid JSON: %q", r.Body)
		}
		if !strings.Contains(string(r.Body), "ad\uFFFDa") || !strings.Contains(string(r.Body), `"k`+"\uFFFD"+`":1`) {
			t.Fatalf("answer %s lacks the replaced text", r.Body)
		}
	}
}
