package ledger

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/tier"
)

// allCommands has one populated command of every kind.
func allCommands() []Command {
	h := Header{Time: 1_767_225_600_000_000_000, Actor: "admin"}
	return []Command{
		SetClusterCA{h, "c1", "-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----"},
		RegisterOwnedCluster{h, "c2", "t1", token("c2")},
		IssueEnrollmentToken{h, "c2", token("c2b"), true},
		CreateTenant{h, "t1", "Org", "Name", "starter", "a@b.example"},
		UpdateTenant{h, "t1", "Org2", "", "c@d.example"},
		ChangeTier{h, "t1", "professional"},
		SuspendTenant{h, "t1", ReasonDunning},
		ResumeTenant{h, "t1", "paid"},
		DeleteTenant{h, "t1"},
		RevokeAgentKey{h, "t1", "key-1"},
		RegisterCluster{h, "c1", []string{"t1", "t2"}, token("c1")},
		IngestUsage{h, "c1", []UsageRecord{
			{NodeID: "n1", Seq: 1, Tenant: "t1", Start: 100, End: 160, Reads: 1, Writes: 2, Queries: 3, QueryComputeMs: 4, IngressBytes: 5, EgressBytes: 6, StorageByteSeconds: 1 << 62},
			{NodeID: "n2", Seq: 1 << 63, Tenant: "t2", Start: -5, End: -10},
		}},
		CloseDraft{h, "t1", 1, 2, 0, 3},
		FinalizeInvoice{h, "in_1", 99},
		VoidInvoice{h, "in_1", "oops"},
		MarkUncollectible{h, "in_1", "gone"},
		RecordPayment{h, "p1", "t1", "in_1", 1234, "manual", "ref", "note", true},
		SetCatalog{h, tier.Defaults()},
		SetSigningKey{h, seed(4)},
		CreateAPIKey{h, "t1", "bk_1", "CI reader", APIKeyRoleRead, "wxyz", apiKeyHash("bk_1")},
		RevokeAPIKey{h, "t1", "bk_0"},
		RegisterNode{h, "c1", "node-1", "10.0.0.1:7070", "[::1]:7071", 1_767_225_600_000_000_001},
		AddClusterTenant{h, "c1", "t3"},
		RemoveClusterTenant{h, "c1", "t2", true},
		DeregisterCluster{h, "c1"},
		chainPaySeeds(h)[0], chainPaySeeds(h)[1], chainPaySeeds(h)[2],
	}
}

func TestCommandRoundTrip(t *testing.T) {
	seen := map[Kind]bool{}
	for _, c := range allCommands() {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode(%s) = %v", c.Kind(), err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", c.Kind(), err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", c.Kind(), back, c)
		}
		seen[c.Kind()] = true
		// Every strict prefix is refused, never mis-decoded.
		for i := 0; i < len(b); i++ {
			if _, err := Decode(b[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded", c.Kind(), i, len(b))
			}
		}
		if _, err := Decode(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
			t.Errorf("%s: trailing byte: %v", c.Kind(), err)
		}
	}
	for k := Kind(1); k < kindEnd; k++ {
		if !seen[k] {
			t.Errorf("no round trip test for %s", k)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		msg string
	}{
		{nil, "too short"},
		{[]byte{9, 1}, "unknown command format"},
		{[]byte{commandFormat, 200, 2, 0}, "unknown command kind"},
		{[]byte{commandFormat, byte(KindIngestUsage), 2, 0, 0, 0xff, 0xff, 0xff, 0x7f}, "exceeds the remaining input"},
	} {
		if _, err := Decode(tc.in); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Decode(%v) = %v, want %q", tc.in, err, tc.msg)
		}
	}
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
}

func TestApplyUndecodable(t *testing.T) {
	f := newFixture(t)
	r := f.applyRaw([]byte{commandFormat, byte(KindCreateTenant), 1})
	if r.Err == nil || r.Err.Code != CodeInternal || r.Kind != KindCreateTenant {
		t.Fatalf("undecodable command = %+v", r)
	}
}

func TestResultRoundTrip(t *testing.T) {
	ing := &IngestResult{Accepted: 1, Duplicates: 1, Rejected: 1, Records: []RecordResult{
		{Status: RecordAccepted}, {Status: RecordDuplicate}, {Status: RecordRejected, Code: CodeState, Reason: "why", Retry: true},
	}}
	for _, r := range []Result{
		{Kind: KindIngestUsage, Ingest: ing},
		{Kind: KindCreateTenant, Err: invalidf("tier: bad")},
		{Kind: KindCreateTenant, Tenant: &Tenant{ID: "t1", TierHistory: []TierSegment{}}, Unchanged: true},
		{Kind: KindCreateAPIKey, APIKey: &APIKey{ID: "bk_1", Tenant: "t1", Role: APIKeyRoleRead, CreatedAt: t0, CreatedBy: "admin"}},
	} {
		back, err := DecodeResult(encodeResult(r))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, r)
		}
	}
	for _, bad := range [][]byte{nil, {2, 1, 'J'}, {resultFormat, 1, 'X'}, {resultFormat, 1, resultIngest, 1, 9}, {resultFormat, 1, resultJSON, '{'}} {
		if _, err := DecodeResult(bad); err == nil {
			t.Errorf("DecodeResult(%q) succeeded", bad)
		}
	}
	if (Result{}).Error() != nil {
		t.Error("Result{}.Error() != nil")
	}
}
