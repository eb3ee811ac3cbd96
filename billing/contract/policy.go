package contract

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// Policy is what an agent enforces for a tenant. Billing computes it from
// its replicated state only, so every billing replica produces the same
// policy (and, signed with the same key, the same signature).
type Policy struct {
	Tenant      string      `json:"tenant_id"`
	Tier        string      `json:"tier"`
	Status      Status      `json:"status"`
	Limits      Limits      `json:"limits"`
	Included    Included    `json:"included"`
	QuotaAction QuotaAction `json:"quota_action"`
	// RevokedAgentKeys lists the ids of the data API keys revoked for the
	// tenant (RevokeAgentKey), sorted; agents refuse them. Billing API keys
	// (CreateAPIKey) are never listed.
	RevokedAgentKeys []string `json:"revoked_keys"`
	// Version increases whenever the policy changes (the tenant's policy
	// version plus the catalog's); an agent keeps the highest it has seen.
	Version uint64 `json:"version"`
	// IssuedAt is when the policy last changed.
	IssuedAt time.Time `json:"issued_at"`
}

// SignedPolicy is a policy with an ed25519 signature. Payload is the
// policy's canonical JSON (json.Marshal of Policy, compact, fields in
// declaration order) exactly as signed; the signature covers
// policySigningContext followed by Payload. Payload is embedded in JSON as
// an object; VerifyPolicy compacts it first, so re-indenting the envelope
// does not break the signature.
type SignedPolicy struct {
	Payload   json.RawMessage `json:"policy"`
	Signature []byte          `json:"signature"` // base64 in JSON
	KeyID     string          `json:"key_id"`
}

// policySigningContext separates policy signatures from any other use of
// the key.
const policySigningContext = "aerolith-policy-v1\n"

// SignPolicy signs p with key.
func SignPolicy(p Policy, key ed25519.PrivateKey) (SignedPolicy, error) {
	if len(key) != ed25519.PrivateKeySize {
		return SignedPolicy{}, errors.New("sign policy: invalid ed25519 private key")
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return SignedPolicy{}, fmt.Errorf("sign policy: %w", err)
	}
	msg := append([]byte(policySigningContext), payload...)
	return SignedPolicy{
		Payload:   payload,
		Signature: ed25519.Sign(key, msg),
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
	}, nil
}

// ErrBadSignature is returned by VerifyPolicy for a policy not signed by
// the given key (or altered since).
var ErrBadSignature = errors.New("policy signature does not verify")

// VerifyPolicy checks sp's signature with pub and returns the policy. It
// needs nothing but the public key, so agents verify offline. It fails with
// ErrBadSignature on a bad signature or key id, and with a decoding error
// for a payload that is not a policy.
func VerifyPolicy(sp SignedPolicy, pub ed25519.PublicKey) (Policy, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Policy{}, errors.New("verify policy: invalid ed25519 public key")
	}
	if sp.KeyID != "" && sp.KeyID != KeyID(pub) {
		return Policy{}, fmt.Errorf("%w: signed by key %s, not %s", ErrBadSignature, sp.KeyID, KeyID(pub))
	}
	// Compacting undoes any re-indentation by a proxy or pretty-printer;
	// the signed payload is compact.
	var compact bytes.Buffer
	if err := json.Compact(&compact, sp.Payload); err != nil {
		return Policy{}, fmt.Errorf("%w: payload is not JSON", ErrBadSignature)
	}
	msg := append([]byte(policySigningContext), compact.Bytes()...)
	if !ed25519.Verify(pub, msg, sp.Signature) {
		return Policy{}, ErrBadSignature
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(sp.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("verify policy: payload: %w", err)
	}
	return p, nil
}
