package client

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/ledger"
)

// decodeBody decodes a usage body the way the service does.
func decodeBody(t *testing.T, body []byte) ledger.UsageBatch {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("invalid JSON: %s", body)
	}
	b, err := ledger.DecodeUsageBatch(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the service rejects %s: %v", body, err)
	}
	return b
}

func TestAppendUsageBody(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	recs := []UsageRecord{
		{NodeID: "n1", Incarnation: "9f0c2a", Seq: 1, TenantID: "tn_a", Start: start, End: start.Add(time.Minute), Reads: 1, Writes: 2, Queries: 3,
			QueryComputeMs: 4, IngressBytes: 5, EgressBytes: 6, StorageByteSeconds: 7},
		{NodeID: "n\"ö<1>", Seq: 1 << 62, TenantID: "t\\\n", Start: start, End: start},
	}
	got := decodeBody(t, appendUsageBody(nil, recs))
	if len(got.Records) != 2 {
		t.Fatalf("decoded %d records", len(got.Records))
	}
	for i, r := range recs {
		g := got.Records[i]
		want := ledger.UsageRecord{NodeID: r.NodeID, Incarnation: r.Incarnation, Seq: r.Seq, Tenant: r.TenantID, Start: r.Start.UnixNano(), End: r.End.UnixNano(),
			Reads: r.Reads, Writes: r.Writes, Queries: r.Queries, QueryComputeMs: r.QueryComputeMs,
			IngressBytes: r.IngressBytes, EgressBytes: r.EgressBytes, StorageByteSeconds: r.StorageByteSeconds}
		if g != want {
			t.Errorf("record %d decoded as %+v, want %+v", i, g, want)
		}
	}
	// The hand-written body means the same as encoding/json's.
	std, err := json.Marshal(struct {
		Records []UsageRecord `json:"records"`
	}{recs})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := decodeBody(t, std), got; len(a.Records) != len(b.Records) || a.Records[0] != b.Records[0] || a.Records[1] != b.Records[1] {
		t.Fatalf("encoding/json body decodes to %+v, the hand-written one to %+v", a, b)
	}
}

func FuzzAppendUsageBody(f *testing.F) {
	f.Add("n1", "tn_1", uint64(1), uint64(5), int64(0))
	f.Add("\x00\"\\", "\u2028é", uint64(1<<63), uint64(0), int64(-1))
	f.Fuzz(func(t *testing.T, node, tenant string, seq, reads uint64, nanos int64) {
		at := time.Unix(0, nanos)
		body := appendUsageBody(nil, []UsageRecord{{NodeID: node, Incarnation: tenant, Seq: seq, TenantID: tenant, Start: at, End: at, Reads: reads}})
		var v struct {
			Records []struct {
				NodeID      string `json:"node_id"`
				Incarnation string `json:"incarnation"`
				Seq         uint64 `json:"seq"`
				TenantID    string `json:"tenant_id"`
				Start       time.Time
				Reads       uint64 `json:"reads"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		r := v.Records[0]
		if r.Seq != seq || r.Reads != reads || !r.Start.Equal(at) {
			t.Fatalf("round trip: %+v", r)
		}
		if jsonString(node) == node && (r.NodeID != node || r.TenantID != jsonString(tenant) || r.Incarnation != jsonString(tenant)) {
			t.Fatalf("strings: %q %q, want %q %q", r.NodeID, r.TenantID, node, tenant)
		}
	})
}

// jsonString is s after a JSON round trip (invalid UTF-8 becomes U+FFFD).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
