package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/internal/jsontext/jsontexttest"
)

// checkDecodeErr asserts that a decoder error is a 400/413 *jsonapi.Error with a
// message (what a client would see), never a raw encoding/json error.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	var ae *jsonapi.Error
	if !errors.As(err, &ae) {
		t.Fatalf("decoder error %T %v is not a *jsonapi.Error", err, err)
	}
	if ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("decoder error status %d, want 400 or 413", ae.Status)
	}
	if ae.Message == "" || strings.HasPrefix(ae.Message, "json:") {
		t.Fatalf("decoder error message %q", ae.Message)
	}
}

func isObject(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		t.Fatalf("accepted data %q is not a JSON object: %v", raw, err)
	}
}

var docSeeds = []string{
	`{"data":{"a":1}}`, `{"id":"x","data":{"a":[1,2,{"b":null}]}}`, `{"data":null}`, `{"data":"s"}`,
	`{"data":{}} {}`, `{"data":{},"extra":1}`, `[]`, ``, `{"id":5,"data":{}}`, `{"data":{"a":1e400}}`,
	`{"data":{"a":"\ud800"}}`, `{"data":{ "a" : 1 ,"b":[ ] }}`,
	"{\"data\":{\"a\":\"\xff\"}}", `{"data":{"a":1,"a":2}}`, `{"data":{"a":{"b":1,"\u0062":2}}}`, `{"data":{},"data":{}}`,
	`{"data":{"e":"\ud83d\ude00","f":"\udc00\ud800"}}`, `{"id":"..","data":{}}`, `{"id":".","data":{}}`,
}

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range docSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := decodeCreate(bytes.NewReader(b), 64)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		isObject(t, body.Data)
		jsontexttest.Clean(t, b)
		if body.ID == "." || body.ID == ".." {
			t.Fatalf("accepted id %q", body.ID)
		}
		if len(body.Data) > 64 {
			t.Fatalf("accepted %d bytes of data over the 64-byte limit", len(body.Data))
		}
	})
}

func FuzzDecodePut(f *testing.F) {
	for _, s := range docSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := decodePut(bytes.NewReader(b), 64)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		isObject(t, body.Data)
		jsontexttest.Clean(t, b)
	})
}

func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"filter":{"a":{"$gt":1}},"sort":{"a":-1},"limit":10,"offset":2,"explain":true}`,
		`{"filter":[1]}`, `{"limit":-1}`, `{"limit":"x"}`, `{"sort":null}`, `{"filter":{}}x`, `{"bogus":1}`,
		"{\"filter\":{\"a\":\"\xc3\"}}", `{"filter":{"a":1,"a":2}}`, `{"filter":{"$or":[{"a":"\udfff"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeQuery(bytes.NewReader(b))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		jsontexttest.Clean(t, b)
		if q.Limit < 0 || q.Offset < 0 {
			t.Fatalf("accepted negative paging %d/%d", q.Limit, q.Offset)
		}
		if q.Filter != nil {
			isObject(t, q.Filter)
		}
		if q.Sort != nil {
			isObject(t, q.Sort)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"operations":[{"op":"put","collection":"c","id":"1","data":{"a":1}},{"op":"delete","collection":"c","id":"2","if_version":3}]}`,
		`{"operations":[]}`, `{"operations":[{"op":"merge","collection":"c"}]}`, `{"operations":[{"op":"delete","collection":"c"}]}`,
		`{"operations":[{"op":"put","collection":"c","data":[]}]}`, `{"operations":[{"op":"put","collection":"c","data":{},"if_version":-1}]}`,
		`{"operations":null}`, `{"ops":[]}`,
		`{"operations":[{"op":"delete","collection":"c","id":".."}]}`, `{"operations":[{"op":"put","collection":"c","id":".","data":{}}]}`,
		"{\"operations\":[{\"op\":\"put\",\"collection\":\"c\",\"data\":{\"k\":\"\xe2\x82\"}}]}",
		`{"operations":[{"op":"put","collection":"c","data":{"k":1,"k":1}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := decodeBatch(bytes.NewReader(b), 64)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if len(body.Operations) == 0 || len(body.Operations) > MaxBatchOps {
			t.Fatalf("accepted %d operations", len(body.Operations))
		}
		for i, op := range body.Operations {
			if op.Collection == "" {
				t.Fatalf("operation %d accepted without collection", i)
			}
			if op.ID == "." || op.ID == ".." {
				t.Fatalf("operation %d accepted with id %q", i, op.ID)
			}
			switch op.Op {
			case "put":
				isObject(t, op.Data)
			case "delete":
				if op.ID == "" || op.Data != nil {
					t.Fatalf("delete %d accepted with id %q data %q", i, op.ID, op.Data)
				}
			default:
				t.Fatalf("operation %d accepted with op %q", i, op.Op)
			}
		}
		jsontexttest.Clean(t, b)
	})
}

func FuzzDecodeIndex(f *testing.F) {
	for _, s := range []string{`{"field":"a.b"}`, `{"field":""}`, `{"field":1}`, `{"field":"a","unique":true}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := decodeIndex(bytes.NewReader(b))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if ix.Field == "" {
			t.Fatal("accepted an empty field")
		}
	})
}

func FuzzDecodeMember(f *testing.F) {
	for _, s := range []string{
		`{"node_id":"n4","raft_addr":"10.0.0.4:7071","http_addr":"10.0.0.4:7070"}`, `{"node_id":"n4","raft_addr":":7071"}`,
		`{"node_id":"a b","raft_addr":"h:1"}`, `{"node_id":"n","raft_addr":"h:0"}`, `{"node_id":"n","raft_addr":"h"}`, `{"id":"n"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMember(bytes.NewReader(b))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if m.NodeID == "" || m.RaftAddr == "" {
			t.Fatalf("accepted incomplete member %+v", m)
		}
	})
}

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		name, body string
		decode     func(string) error
		want       string
	}{
		{"unknown field", `{"data":{},"colour":"red"}`, createFn, `unknown field "colour"`},
		{"wrong type names field", `{"id":5,"data":{}}`, createFn, `field "id": want a string, got number`},
		{"empty body", ``, createFn, "request body is empty"},
		{"trailing value", `{"data":{}} {"data":{}}`, createFn, "single JSON object"},
		{"trailing garbage", `{"data":{}} x`, createFn, "single JSON object"},
		{"syntax", `{"data":{]}`, createFn, "malformed JSON at byte"},
		{"truncated", `{"data":{`, createFn, "JSON ends early"},
		{"not object", `[1]`, createFn, "want a JSON object, got array"},
		{"data missing", `{}`, createFn, "data: required"},
		{"data null", `{"data":null}`, createFn, "data: required"},
		{"data array", `{"data":[1]}`, putFn, "data: must be a JSON object"},
		{"data too large", `{"data":{"k":"` + strings.Repeat("x", 100) + `"}}`, putFn, "data: document is"},
		{"put id not allowed", `{"id":"x","data":{}}`, putFn, `unknown field "id"`},
		{"query filter type", `{"filter":[]}`, queryFn, "filter: must be a JSON object"},
		{"query limit", `{"limit":-5}`, queryFn, "limit: must be >= 0"},
		{"query limit type", `{"limit":"ten"}`, queryFn, `field "limit": want an integer, got string`},
		{"batch empty", `{"operations":[]}`, batchFn, "operations: required"},
		{"batch bad op", `{"operations":[{"op":"put","collection":"c","data":{}},{"op":"upsert","collection":"c"}]}`, batchFn, `operations[1].op: "upsert" is unknown`},
		{"batch no collection", `{"operations":[{"op":"put","data":{}}]}`, batchFn, "operations[0].collection: required"},
		{"batch delete no id", `{"operations":[{"op":"delete","collection":"c"}]}`, batchFn, "operations[0].id: required"},
		{"batch delete data", `{"operations":[{"op":"delete","collection":"c","id":"1","data":{}}]}`, batchFn, "operations[0].data: not allowed"},
		{"batch put no data", `{"operations":[{"op":"put","collection":"c","id":"1"}]}`, batchFn, "operations[0].data: required"},
		{"batch unknown op field", `{"operations":[{"op":"put","collection":"c","data":{},"upsert":true}]}`, batchFn, `unknown field "upsert"`},
		{"index empty", `{"field":""}`, indexFn, "field: required"},
		{"member no raft", `{"node_id":"n"}`, memberFn, "raft_addr: required"},
		{"member unroutable", `{"node_id":"n","raft_addr":"0.0.0.0:7071"}`, memberFn, "raft_addr: "},
		{"member bad port", `{"node_id":"n","raft_addr":"h:99999"}`, memberFn, "raft_addr: "},
		{"member bad id", `{"node_id":"a b","raft_addr":"h:1"}`, memberFn, "node_id: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode(tt.body)
			if err == nil {
				t.Fatalf("decode(%s) succeeded", tt.body)
			}
			checkDecodeErr(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("decode(%s) = %q, want it to contain %q", tt.body, err, tt.want)
			}
		})
	}
}

func createFn(s string) error { _, err := decodeCreate(strings.NewReader(s), 64); return err }
func putFn(s string) error    { _, err := decodePut(strings.NewReader(s), 64); return err }
func queryFn(s string) error  { _, err := decodeQuery(strings.NewReader(s)); return err }
func batchFn(s string) error  { _, err := decodeBatch(strings.NewReader(s), 64); return err }
func indexFn(s string) error  { _, err := decodeIndex(strings.NewReader(s)); return err }
func memberFn(s string) error { _, err := decodeMember(strings.NewReader(s)); return err }

func FuzzDecodeKeyCreate(f *testing.F) {
	for _, s := range []string{
		`{"tenant":"alpha","role":"readwrite","name":"ci"}`, `{"role":"read"}`, `{"role":"root"}`,
		`{"tenant":"a","role":"admin","name":"\u0007"}`, `{"role":"read","name":"\ud800"}`, `{"role":"read","key":"x"}`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := decodeKeyCreate(bytes.NewReader(b))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if !validRole(body.Role) || len(body.Name) > maxKeyName || strings.ContainsFunc(body.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("accepted %+v", body)
		}
	})
}
