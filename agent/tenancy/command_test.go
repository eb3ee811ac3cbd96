package tenancy

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestCommandRoundTrip(t *testing.T) {
	p := testPolicy("acme", 3, contract.Block)
	p.RevokedAgentKeys = []string{"00112233445566ff"}
	key, _ := newTestKey(t, "acme", "readwrite")
	tests := []struct {
		name string
		cmd  Command
	}{
		{"set_policy", setPolicyCmd(t, p)},
		{"set_policy derived", SetPolicy{Tenant: "acme", Signed: sign(t, p)}},
		{"create_key", CreateKey{Key: key}},
		{"revoke_key", RevokeKey{ID: key.ID, At: baseTime.Add(time.Hour)}},
		{"revoke_key zero", RevokeKey{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeCommand(tt.cmd)
			if err != nil {
				t.Fatalf("EncodeCommand = %v", err)
			}
			if b[0] != CommandTag || b[1] != commandVersion {
				t.Fatalf("header = %x, want %x %x", b[:2], CommandTag, commandVersion)
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatalf("DecodeCommand = %v", err)
			}
			want := tt.cmd
			if sp, ok := want.(SetPolicy); ok && sp.Policy.Tenant == "" {
				sp.Policy = p
				want = sp
			}
			if !commandsEqual(got, want) {
				t.Fatalf("DecodeCommand = %+v, want %+v", got, want)
			}
		})
	}
}

// commandsEqual compares commands, times by instant.
func commandsEqual(a, b Command) bool {
	switch a := a.(type) {
	case SetPolicy:
		b, ok := b.(SetPolicy)
		if !ok || a.Tenant != b.Tenant || !bytes.Equal(a.Signed.Payload, b.Signed.Payload) ||
			!bytes.Equal(a.Signed.Signature, b.Signed.Signature) || a.Signed.KeyID != b.Signed.KeyID {
			return false
		}
		return policiesEqual(a.Policy, b.Policy)
	case CreateKey:
		b, ok := b.(CreateKey)
		return ok && keysEqual(a.Key, b.Key)
	case RevokeKey:
		b, ok := b.(RevokeKey)
		return ok && a.ID == b.ID && a.At.Equal(b.At)
	}
	return false
}

func policiesEqual(a, b contract.Policy) bool {
	if !a.IssuedAt.Equal(b.IssuedAt) {
		return false
	}
	a.IssuedAt, b.IssuedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func keysEqual(a, b APIKey) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.RevokedAt.Equal(b.RevokedAt) {
		return false
	}
	a.CreatedAt, b.CreatedAt, a.RevokedAt, b.RevokedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func TestEncodeCommandErrors(t *testing.T) {
	p := testPolicy("acme", 3, contract.Block)
	other := p
	other.Version = 4
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"nil", nil, "nil command"},
		{"no payload", SetPolicy{Tenant: "acme"}, "no payload"},
		{"payload not a policy", SetPolicy{Tenant: "acme", Signed: contract.SignedPolicy{Payload: []byte(`[1]`)}}, "not a policy"},
		{"policy differs from payload", SetPolicy{Tenant: "acme", Signed: sign(t, p), Policy: other}, "is not its signed payload's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeCommand(tt.cmd)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EncodeCommand = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	cmd := func(body string) []byte { return append([]byte{CommandTag, commandVersion}, body...) }
	key, _ := newTestKey(t, "acme", "read")
	kb, _ := json.Marshal(toWireKey(&key))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"docs command", []byte{1, 2, 3}, "not a tenancy command: first byte 0x01"},
		{"tag only", []byte{CommandTag}, "missing version"},
		{"future version", []byte{CommandTag, 9, '{', '}'}, "unsupported version 9"},
		{"no body", cmd(""), "malformed JSON"},
		{"not JSON", cmd("garbage"), "malformed JSON"},
		{"JSON array", cmd(`[]`), "malformed JSON"},
		{"trailing data", cmd(`{"op":"revoke_key","id":"x"} {}`), "trailing data"},
		{"unknown field", cmd(`{"op":"revoke_key","id":"x","extra":1}`), "unknown field"},
		{"missing op", cmd(`{}`), "missing op"},
		{"unknown op", cmd(`{"op":"drop_tenant"}`), `unknown op "drop_tenant"`},
		{"set_policy bad payload", cmd(`{"op":"set_policy","tenant":"acme","payload":"eyJ4Ijp9"}`), "not a policy"},
		{"set_policy no payload", cmd(`{"op":"set_policy","tenant":"acme"}`), "no payload"},
		{"set_policy with key", cmd(`{"op":"set_policy","tenant":"acme","key":` + string(kb) + `}`), "fields of another command"},
		{"create_key without key", cmd(`{"op":"create_key"}`), "without a key"},
		{"create_key with id", cmd(`{"op":"create_key","id":"a","key":` + string(kb) + `}`), "fields of another command"},
		{"create_key bad hash", cmd(`{"op":"create_key","key":{"id":"a","tenant":"t","role":"read","hash":"zz","created_at":"2025-01-01T00:00:00Z"}}`), "hash must be 64 hex digits"},
		{"create_key short hash", cmd(`{"op":"create_key","key":{"id":"a","tenant":"t","role":"read","hash":"abcd","created_at":"2025-01-01T00:00:00Z"}}`), "hash must be 64 hex digits"},
		{"revoke_key with tenant", cmd(`{"op":"revoke_key","id":"a","tenant":"t"}`), "fields of another command"},
		{"bad time", cmd(`{"op":"revoke_key","id":"a","at":"yesterday"}`), "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCommand(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeCommand = %+v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

func TestResultRoundTrip(t *testing.T) {
	p := testPolicy("acme", 2, contract.Warn)
	key, _ := newTestKey(t, "acme", "admin")
	revoked := key
	revoked.Revoked, revoked.RevokedAt = true, baseTime.Add(time.Minute)
	tests := []struct {
		name string
		r    Result
	}{
		{"empty", Result{}},
		{"policy", Result{Policy: &p}},
		{"policy unchanged", Result{Policy: &p, Unchanged: true}},
		{"key", Result{Key: &key}},
		{"revoked key", Result{Key: &revoked, Unchanged: true}},
		{"error", Result{Err: notFoundf("api key %s not found", key.ID)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResult(EncodeResult(tt.r))
			if err != nil {
				t.Fatalf("DecodeResult = %v", err)
			}
			if (got.Policy == nil) != (tt.r.Policy == nil) || got.Policy != nil && !policiesEqual(*got.Policy, *tt.r.Policy) {
				t.Errorf("Policy = %+v, want %+v", got.Policy, tt.r.Policy)
			}
			if (got.Key == nil) != (tt.r.Key == nil) || got.Key != nil && !keysEqual(*got.Key, *tt.r.Key) {
				t.Errorf("Key = %+v, want %+v", got.Key, tt.r.Key)
			}
			if got.Unchanged != tt.r.Unchanged {
				t.Errorf("Unchanged = %v, want %v", got.Unchanged, tt.r.Unchanged)
			}
			if (got.Err == nil) != (tt.r.Err == nil) || got.Err != nil && (got.Err.Code != tt.r.Err.Code || got.Err.Message != tt.r.Err.Message) {
				t.Errorf("Err = %v, want %v", got.Err, tt.r.Err)
			}
			if tt.r.Err == nil && got.Error() != nil {
				t.Errorf("Error() = %v, want nil", got.Error())
			}
		})
	}
	for _, bad := range [][]byte{nil, {9}, {resultVersion}, append([]byte{resultVersion}, `{"error":{"code":""}}`...)} {
		if _, err := DecodeResult(bad); err == nil {
			t.Errorf("DecodeResult(%q) = nil error", bad)
		}
	}
}

func TestErrorMatchesSentinels(t *testing.T) {
	tests := []struct {
		err        *Error
		own, other error
	}{
		{notFoundf("x"), ErrNotFound, document.ErrNotFound},
		{errorf(CodeConflict, "x"), ErrConflict, document.ErrConflict},
		{invalidf("x"), ErrInvalid, document.ErrInvalid},
		{internalf("x"), ErrInternal, document.ErrInternal},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.own) || !errors.Is(tt.err, tt.other) {
			t.Errorf("%s error does not match its sentinels", tt.err.Code)
		}
		if errors.Is(tt.err, document.ErrPrecondition) || (tt.own != ErrNotFound && errors.Is(tt.err, ErrNotFound)) {
			t.Errorf("%s error matches another code's sentinel", tt.err.Code)
		}
	}
}
