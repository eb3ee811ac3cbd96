package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/jsontext/jsontexttest"
)

// TestBodiesRefuseDuplicateKeysAndBadUnicode: every request body decoder,
// the API's and the ledger's, refuses what encoding/json would let through
// silently (it keeps the last of two equal keys and turns bytes that are
// not UTF-8 into U+FFFD), with a 400 naming the JSON path, and records
// nothing.
func TestBodiesRefuseDuplicateKeysAndBadUnicode(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	cl := e.cluster("cl-1", acme.ID)
	start := e.clock.Now().Truncate(time.Hour).Format(time.RFC3339)
	end := e.clock.Now().Truncate(time.Hour).Add(time.Minute).Format(time.RFC3339)
	record := func(seq, reads string) string {
		return `{"node_id":"n1","seq":` + seq + `,"tenant_id":"` + acme.ID + `","start":"` + start + `","end":"` + end + `","reads":` + reads + `}`
	}
	tests := []struct {
		name, method, path, key, body string
		want                          []string // in the error message
	}{
		{"tenant with a key twice", "POST", "/api/v1/tenants", adminKey,
			`{"organization":"o","name":"a","name":"b","tier":"free","email":"a@b.example"}`, []string{`name: duplicate key "name"`}},
		{"tenant with a byte that is not UTF-8", "POST", "/api/v1/tenants", adminKey,
			"{\"organization\":\"o\xff\",\"name\":\"n\",\"tier\":\"free\",\"email\":\"a@b.example\"}", []string{"organization: string is not valid UTF-8", "0xff"}},
		{"tenant with an unpaired surrogate", "POST", "/api/v1/tenants", adminKey,
			`{"organization":"o","name":"n\ud800","tier":"free","email":"a@b.example"}`, []string{"name: string has an unpaired surrogate"}},
		{"tenant patch with a key twice", "PATCH", "/api/v1/tenants/" + acme.ID, adminKey,
			`{"tier":"free","tier":"enterprise"}`, []string{`tier: duplicate key "tier"`}},
		{"usage with records twice", "POST", "/api/v1/usage", cl.EnrollmentToken,
			`{"records":[` + record("1", "10") + `],"records":[` + record("2", "20") + `]}`, []string{`records: duplicate key "records"`}},
		{"usage record with a key twice", "POST", "/api/v1/usage", cl.EnrollmentToken,
			`{"records":[` + strings.Replace(record("1", "10"), `"reads":10`, `"reads":10,"reads":99`, 1) + `]}`, []string{`records[0].reads: duplicate key "reads"`}},
		{"cluster with tenants twice", "POST", "/api/v1/clusters", adminKey,
			`{"cluster_id":"cl-2","tenants":["` + acme.ID + `"],"tenants":["tn_other"]}`, []string{`tenants: duplicate key "tenants"`}},
		{"suspend reason that is not UTF-8", "POST", "/api/v1/tenants/" + acme.ID + "/suspend", adminKey,
			"{\"reason\":\"late \xc3\"}", []string{"reason: string is not valid UTF-8"}},
		{"payment note that is not UTF-8", "POST", "/api/v1/invoices/in_none/payments", adminKey,
			"{\"amount_cents\":100,\"external_ref\":\"w1\",\"note\":\"\xed\xa0\x80\"}", []string{"note: string is not valid UTF-8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.key, tc.body)
			msg := r.errMsg()
			if r.status != http.StatusBadRequest || !utf8.ValidString(string(r.body)) {
				t.Fatalf("%s %s = %d %s, want 400", tc.method, tc.path, r.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("%s %s: message %q does not say %q", tc.method, tc.path, msg, w)
				}
			}
		})
	}
	// Nothing was recorded: still one tenant, on its tier and active, one
	// cluster, no usage.
	var page struct {
		Tenants []ledger.Tenant `json:"tenants"`
	}
	e.want(200, "GET", "/api/v1/tenants", adminKey, nil, &page)
	if len(page.Tenants) != 1 || page.Tenants[0].Tier != "starter" || page.Tenants[0].Status != ledger.StatusActive {
		t.Fatalf("tenants after the refused bodies: %+v", page.Tenants)
	}
	if r := e.do("GET", "/api/v1/clusters/cl-2", adminKey, nil); r.status != http.StatusNotFound {
		t.Fatalf("cluster cl-2 after a refused registration: %d %s", r.status, r.body)
	}
	var usage struct {
		Total struct {
			Reads uint64 `json:"reads"`
		} `json:"total"`
	}
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/usage", adminKey, nil, &usage)
	if usage.Total.Reads != 0 {
		t.Fatalf("usage after refused batches: %d reads", usage.Total.Reads)
	}
}

// FuzzDecodeStrict: whatever the bytes, the API's body decoder returns a
// 400 or 413 naming the problem, or accepts a body that is valid UTF-8,
// has no object with a key twice and no unpaired surrogate (checked
// without jsontext, the decoder's own check).
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"c":2}]}}`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`,
		`{"a":"\ud83d\ude00"}`, `{"a\u0062":1,"ab":2}`, `{"a":[1,{"x":null}],"b":"é"}`, ``, `[]`, `{"a":1} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v map[string]any
		err := decodeStrict(bytes.NewReader(b), &v, false)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		jsontexttest.Clean(t, b)
	})
}
