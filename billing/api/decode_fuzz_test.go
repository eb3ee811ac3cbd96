package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
)

// Fuzz targets for every request body decoder of the API that is not
// fuzzed in billing/ledger (DecodeUsageBatch and DecodeTenantRequest are):
// whatever the bytes, a decoder returns a value or a 400/413 answer naming
// the problem, and never panics.

// checkDecodeErr fails unless err is nil or a client error.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, internal := classify(err)
	if internal || (e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge) {
		t.Fatalf("decode error %v classified as %d (internal %v), want 400 or 413", err, e.Status, internal)
	}
	if e.Message == "" {
		t.Fatal("decode error without a message")
	}
}

func FuzzDecodeTenantPatch(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"tier":"starter"}`, `{"email":"a@b.c","organization":"o"}`, `{}`, `{"tier":null}`, `[]`, `{"name":"` + strings.Repeat("é", 300) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ledger.DecodeTenantPatch(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil && len(p.Commands(ledger.Header{Time: 1, Actor: "fuzz"}, "t1")) == 0 {
			t.Fatalf("patch %s decoded to no commands", b)
		}
	})
}

func FuzzDecodeCluster(f *testing.F) {
	for _, s := range []string{`{"tenants":["t1"]}`, `{"cluster_id":"cl-1","tenants":["a","b"]}`, `{"tenants":[]}`, `{"tenants":[1]}`, `{"tenants":["bad id"]}`, ``, `{"tenants":["t"]} {}`, `{"tenants":["t"],"owner_tenant":"t"}`, `{"tenants":["t","u"],"owner_tenant":"t"}`,
		`{"tenants":["t"],"enrollment_token":"aet_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, `{"tenants":["t"],"enrollment_token":"aet_x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCluster(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil {
			if c.EnrollmentToken != "" && contract.CheckEnrollmentToken(c.EnrollmentToken) != nil {
				t.Fatalf("accepted enrollment token %q", c.EnrollmentToken)
			}
			if len(c.Tenants) == 0 || (c.ClusterID != "" && !validID(c.ClusterID)) || c.OwnerTenant != "" && (len(c.Tenants) != 1 || c.Tenants[0] != c.OwnerTenant) {
				t.Fatalf("accepted %+v", c)
			}
			for _, id := range c.Tenants {
				if !validID(id) {
					t.Fatalf("accepted tenant id %q", id)
				}
			}
		}
	})
}

func FuzzDecodePayment(f *testing.F) {
	for _, s := range []string{`{"amount_cents":100,"external_ref":"w1"}`, `{"amount_cents":1,"external_ref":"r","method":"admin","note":"n"}`, `{"amount_cents":-1,"external_ref":"x"}`, `{"amount_cents":1e3,"external_ref":"x"}`, `{"amount_cents":9223372036854775808,"external_ref":"x"}`, `{"external_ref":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayment(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil && (p.AmountCents <= 0 || p.ExternalRef == "" || (p.Method != "manual" && p.Method != "admin")) {
			t.Fatalf("accepted %+v", p)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"name":"ci"}`, `{"role":"read"}`, `{"role":"tenant"}`, `{"role":"admin"}`, `{"name":"\u0007"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKey(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil && k.Role != ledger.APIKeyRoleRead && k.Role != ledger.APIKeyRoleTenant {
			t.Fatalf("accepted role %q", k.Role)
		}
	})
}

func FuzzDecodeFinalize(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"due_at":"2026-02-15T00:00:00Z"}`, `{"due_at":"tomorrow"}`, `{"due_at":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeFinalize(bytes.NewReader(b))
		checkDecodeErr(t, err)
	})
}

func FuzzDecodeReason(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"reason":"late"}`, `{"reason":1}`, `{"why":"x"}`, `{"reason":"` + strings.Repeat("x", 300) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := http.NewRequest("POST", "/", bytes.NewReader(b))
		body, err := decodeReason(r)
		checkDecodeErr(t, err)
		if err == nil && len(body.Reason) > 200 {
			t.Fatalf("accepted a %d-byte reason", len(body.Reason))
		}
	})
}

func FuzzDecodeNode(f *testing.F) {
	for _, s := range []string{`{"node_id":"n1","http_addr":"h:1","raft_addr":"h:2"}`, `{"node_id":"n 1","http_addr":"h:1","raft_addr":"h:2"}`, `{"node_id":"n1"}`, `{"node_id":"n1","http_addr":"\u0000","raft_addr":"h:2"}`, `{"node_id":"n1","http_addr":"h:1","raft_addr":"h:2","x":1}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeNode(bytes.NewReader(b))
		checkDecodeErr(t, err)
		if err == nil && (!validID(n.NodeID) || n.HTTPAddr == "" || n.RaftAddr == "") {
			t.Fatalf("accepted %+v", n)
		}
	})
}

func FuzzDecodeTokenRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"revoke_previous":true}`, `{"revoke_previous":"yes"}`, `{"other":1}`, `{} {}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeTokenRequest(bytes.NewReader(b))
		checkDecodeErr(t, err)
	})
}
