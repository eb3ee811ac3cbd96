package tenancy

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// The golden files are what this agent wrote for a policy before the
// contract package existed (policyRecord holding ledger.Policy). They are
// never regenerated: a change to the stored encoding must keep decoding
// them, and must not change what is written for the same policy.
func TestPolicyRecordGolden(t *testing.T) {
	full := contract.Policy{
		Tenant: "t-acme", Tier: "pro", Status: contract.StatusSuspended,
		Limits: contract.Limits{StorageBytes: 1 << 30, APICallsPerDay: 100000, APICallsPerHour: 10000,
			RequestsPerSecond: 50, ConcurrentConnections: 20, MaxQueryDuration: 30*time.Second + 500*time.Millisecond,
			MaxCollections: 100, MaxDocumentsPerCollection: 1000000, RetentionDays: 30},
		Included:    contract.Included{Reads: 1, Writes: 2, Queries: 3, StorageByteMonths: 4, EgressBytes: 5, QueryComputeMs: 6},
		QuotaAction: contract.Throttle, RevokedAgentKeys: []string{"k1", "k2"}, Version: 42,
		IssuedAt: time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC),
	}
	sparse := full
	sparse.RevokedAgentKeys = nil
	sparse.Limits = contract.Limits{}
	sparse.IssuedAt = time.Time{}
	tests := []struct {
		golden string
		rec    policyRecord
		want   contract.Policy
	}{
		{"testdata/policy_record.v1.golden", policyRecord{Payload: []byte(`{"tenant_id":"t-acme"}`),
			Signature: []byte{1, 2, 3, 250}, KeyID: "0123456789abcdef", Policy: storePolicy(full)}, full},
		{"testdata/policy_record_sparse.v1.golden", policyRecord{Policy: storePolicy(sparse)}, sparse},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			golden, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeJSONRecord(&tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, golden) {
				t.Errorf("encoded policy record =\n%s\nwant (golden)\n%s", got, golden)
			}
			var rec policyRecord
			if err := decodeJSONRecord("policy", golden, &rec); err != nil {
				t.Fatalf("decode golden: %v", err)
			}
			p, err := rec.Policy.policy()
			if err != nil {
				t.Fatalf("golden policy: %v", err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("decoded golden policy = %+v, want %+v", p, tc.want)
			}
			if !bytes.Equal(rec.Payload, tc.rec.Payload) || !bytes.Equal(rec.Signature, tc.rec.Signature) || rec.KeyID != tc.rec.KeyID {
				t.Errorf("decoded golden signed form = %q %v %q, want %q %v %q",
					rec.Payload, rec.Signature, rec.KeyID, tc.rec.Payload, tc.rec.Signature, tc.rec.KeyID)
			}
		})
	}
}

func TestStoredPolicyRefusesBadDuration(t *testing.T) {
	s := storePolicy(contract.Policy{Tenant: "t1"})
	s.Limits.MaxQueryDuration = "soon"
	if _, err := s.policy(); err == nil {
		t.Fatal("policy() of a stored duration \"soon\" = nil error, want one")
	}
}
