package contract

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testPolicy() Policy {
	return Policy{
		Tenant: "t1", Tier: "starter", Status: StatusActive,
		Limits:      Limits{StorageBytes: 1 << 20, RequestsPerSecond: 10, MaxQueryDuration: 1500 * time.Millisecond},
		Included:    Included{Reads: 1000},
		QuotaAction: Throttle, RevokedAgentKeys: []string{"k1"}, Version: 7,
		IssuedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestSignVerifyPolicy(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	p := testPolicy()
	sp, err := SignPolicy(p, key)
	if err != nil {
		t.Fatal(err)
	}
	if sp.KeyID != KeyID(pub) || len(sp.KeyID) != 16 {
		t.Fatalf("SignPolicy key id = %q, want %q", sp.KeyID, KeyID(pub))
	}
	// Re-indenting the envelope (a proxy, a pretty-printer) keeps it valid.
	env, _ := json.MarshalIndent(sp, "", "  ")
	var reindented SignedPolicy
	if err := json.Unmarshal(env, &reindented); err != nil {
		t.Fatal(err)
	}
	got, err := VerifyPolicy(reindented, pub)
	if err != nil {
		t.Fatalf("VerifyPolicy(re-indented) = %v", err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("VerifyPolicy = %+v, want %+v", got, p)
	}

	other := testKey(t, 2).Public().(ed25519.PublicKey)
	tampered := sp
	tampered.Payload = bytes.Replace(sp.Payload, []byte(`"version":7`), []byte(`"version":8`), 1)
	noID := sp
	noID.KeyID = ""
	tests := map[string]struct {
		sp  SignedPolicy
		pub ed25519.PublicKey
	}{
		"other key":        {sp, other},
		"other key, no id": {noID, other},
		"altered payload":  {tampered, pub},
		"bad signature":    {SignedPolicy{Payload: sp.Payload, Signature: []byte("x"), KeyID: sp.KeyID}, pub},
		"not json":         {SignedPolicy{Payload: []byte("{"), Signature: sp.Signature}, pub},
	}
	for name, tc := range tests {
		if _, err := VerifyPolicy(tc.sp, tc.pub); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: VerifyPolicy = %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := VerifyPolicy(sp, nil); err == nil {
		t.Error("VerifyPolicy with no public key = nil error")
	}
	if _, err := SignPolicy(p, nil); err == nil {
		t.Error("SignPolicy with no private key = nil error")
	}
}

func TestLimitsJSON(t *testing.T) {
	l := testPolicy().Limits
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"max_query_duration":"1.5s"`)) {
		t.Fatalf("Marshal(Limits) = %s, want the duration as text", b)
	}
	var back Limits
	if err := json.Unmarshal(b, &back); err != nil || back != l {
		t.Fatalf("Unmarshal = %+v, %v, want %+v", back, err, l)
	}
	if err := json.Unmarshal([]byte(`{"max_query_duration":"soon"}`), &back); err == nil {
		t.Fatal(`Unmarshal(max_query_duration "soon") = nil error`)
	}
}

// FuzzVerifyPolicy: a signed policy comes from the network; verifying any
// envelope must not panic, and whatever verifies re-signs to a payload that
// verifies again.
func FuzzVerifyPolicy(f *testing.F) {
	key := testKey(f, 1)
	pub := key.Public().(ed25519.PublicKey)
	sp, err := SignPolicy(testPolicy(), key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(sp.Payload), sp.Signature, sp.KeyID)
	f.Add([]byte(`{"tenant_id":1}`), sp.Signature, "")
	f.Add([]byte(`{`), []byte{}, "x")
	f.Fuzz(func(t *testing.T, payload, sig []byte, keyID string) {
		p, err := VerifyPolicy(SignedPolicy{Payload: payload, Signature: sig, KeyID: keyID}, pub)
		if err != nil {
			return
		}
		again, err := SignPolicy(p, key)
		if err != nil {
			t.Fatalf("SignPolicy(verified policy) = %v", err)
		}
		if _, err := VerifyPolicy(again, pub); err != nil {
			t.Fatalf("VerifyPolicy(re-signed) = %v", err)
		}
	})
}
