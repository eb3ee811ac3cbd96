package tenancy

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// CommandTag is the first byte of every tenancy command; the agent's
// dispatcher routes commands starting with it to StateMachine.
const CommandTag byte = 'T'

// Wire format versions: the byte after CommandTag, and the first byte of a
// result.
const (
	commandVersion byte = 1
	resultVersion  byte = 1
)

// Command is one replicated tenancy command: SetPolicy, CreateKey or
// RevokeKey.
type Command interface{ isCommand() }

// SetPolicy stores a tenant's signed billing policy. The proposer has
// verified the signature; the state machine keeps the policy only when its
// Version is higher than the stored one's (an equal or lower version is a
// successful no-op, Result.Unchanged).
type SetPolicy struct {
	// Tenant is the tenant the policy is for.
	Tenant string
	// Signed is the policy as billing signed it; it is stored unchanged
	// so every node can re-verify it.
	Signed contract.SignedPolicy
	// Policy is Signed's payload, decoded. EncodeCommand derives it from
	// Signed when it is zero and otherwise checks that it is that payload's
	// policy (same tenant, version and issue time); DecodeCommand always
	// derives it from Signed.
	Policy contract.Policy
}

// CreateKey stores a new api key (made with NewKey). Its id must be new
// (ErrConflict otherwise).
type CreateKey struct {
	Key APIKey
}

// RevokeKey revokes an api key at At (chosen by the proposer). Revoking a
// revoked key succeeds and keeps the first RevokedAt; an unknown id fails
// with ErrNotFound.
type RevokeKey struct {
	ID string
	At time.Time
}

func (SetPolicy) isCommand() {}
func (CreateKey) isCommand() {}
func (RevokeKey) isCommand() {}

// Wire operation names.
const (
	opSetPolicy = "set_policy"
	opCreateKey = "create_key"
	opRevokeKey = "revoke_key"
)

// wireCommand is the JSON after the tag and version bytes: op names the
// command; only its fields are set.
type wireCommand struct {
	Op string `json:"op"`
	// set_policy
	Tenant    string `json:"tenant,omitempty"`
	Payload   []byte `json:"payload,omitempty"` // the signed bytes, exactly
	Signature []byte `json:"signature,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	// create_key
	Key *wireKey `json:"key,omitempty"`
	// revoke_key
	ID string    `json:"id,omitempty"`
	At time.Time `json:"at,omitzero"`
}

// wireKey is an APIKey on the wire and in the store, hash included.
type wireKey struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Role      string    `json:"role"`
	Name      string    `json:"name,omitempty"`
	Hash      string    `json:"hash"` // lowercase hex
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func toWireKey(k *APIKey) *wireKey {
	return &wireKey{
		ID: k.ID, Tenant: k.Tenant, Role: k.Role, Name: k.Name,
		Hash: hex.EncodeToString(k.Hash[:]), CreatedAt: k.CreatedAt,
		Revoked: k.Revoked, RevokedAt: k.RevokedAt,
	}
}

func (w *wireKey) key() (APIKey, error) {
	k := APIKey{
		ID: w.ID, Tenant: w.Tenant, Role: w.Role, Name: w.Name,
		CreatedAt: w.CreatedAt, Revoked: w.Revoked, RevokedAt: w.RevokedAt,
	}
	h, err := hex.DecodeString(w.Hash)
	if err != nil || len(h) != len(k.Hash) {
		return APIKey{}, fmt.Errorf("api key hash must be %d hex digits", 2*len(k.Hash))
	}
	copy(k.Hash[:], h)
	return k, nil
}

// EncodeCommand encodes c for Propose: CommandTag, a version byte, then the
// command as JSON. It fails for a nil or unknown command, and for a
// SetPolicy whose payload is not a policy or does not match Policy. The
// state machine validates everything else.
func EncodeCommand(c Command) ([]byte, error) {
	var w wireCommand
	switch c := c.(type) {
	case SetPolicy:
		p, err := decodePayload(c.Signed.Payload)
		if err != nil {
			return nil, fmt.Errorf("encode set_policy: %w", err)
		}
		if !isZeroPolicy(&c.Policy) && !samePolicy(&c.Policy, &p) {
			return nil, fmt.Errorf("encode set_policy: policy (tenant %q, version %d) is not its signed payload's (tenant %q, version %d)",
				c.Policy.Tenant, c.Policy.Version, p.Tenant, p.Version)
		}
		w = wireCommand{Op: opSetPolicy, Tenant: c.Tenant, Payload: c.Signed.Payload, Signature: c.Signed.Signature, KeyID: c.Signed.KeyID}
	case CreateKey:
		w = wireCommand{Op: opCreateKey, Key: toWireKey(&c.Key)}
	case RevokeKey:
		w = wireCommand{Op: opRevokeKey, ID: c.ID, At: c.At}
	case nil:
		return nil, errors.New("encode tenancy command: nil command")
	default:
		return nil, fmt.Errorf("encode tenancy command: unknown command type %T", c)
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode tenancy command: %w", err)
	}
	return append([]byte{CommandTag, commandVersion}, body...), nil
}

// DecodeCommand decodes what EncodeCommand produced. It rejects anything
// else with an error saying what is wrong: a wrong tag or version, JSON
// that is malformed, has unknown fields or trailing data, an unknown op,
// fields of another op, or a set_policy payload that is not a policy.
func DecodeCommand(b []byte) (Command, error) {
	switch {
	case len(b) == 0:
		return nil, errors.New("tenancy command: empty")
	case b[0] != CommandTag:
		return nil, fmt.Errorf("not a tenancy command: first byte 0x%02x, want 0x%02x ('T')", b[0], CommandTag)
	case len(b) < 2:
		return nil, errors.New("tenancy command: missing version byte")
	case b[1] != commandVersion:
		return nil, fmt.Errorf("tenancy command: unsupported version %d (this node understands %d)", b[1], commandVersion)
	}
	var w wireCommand
	if err := strictUnmarshal(b[2:], &w); err != nil {
		return nil, fmt.Errorf("tenancy command: %w", err)
	}
	setPolicy := w.Tenant != "" || w.Payload != nil || w.Signature != nil || w.KeyID != ""
	revoke := w.ID != "" || !w.At.IsZero()
	switch w.Op {
	case opSetPolicy:
		if w.Key != nil || revoke {
			return nil, errors.New("tenancy command: set_policy carries fields of another command")
		}
		p, err := decodePayload(w.Payload)
		if err != nil {
			return nil, fmt.Errorf("tenancy command: set_policy: %w", err)
		}
		return SetPolicy{
			Tenant: w.Tenant,
			Signed: contract.SignedPolicy{Payload: w.Payload, Signature: w.Signature, KeyID: w.KeyID},
			Policy: p,
		}, nil
	case opCreateKey:
		if setPolicy || revoke {
			return nil, errors.New("tenancy command: create_key carries fields of another command")
		}
		if w.Key == nil {
			return nil, errors.New("tenancy command: create_key without a key")
		}
		k, err := w.Key.key()
		if err != nil {
			return nil, fmt.Errorf("tenancy command: create_key: %w", err)
		}
		return CreateKey{Key: k}, nil
	case opRevokeKey:
		if setPolicy || w.Key != nil {
			return nil, errors.New("tenancy command: revoke_key carries fields of another command")
		}
		return RevokeKey{ID: w.ID, At: w.At}, nil
	case "":
		return nil, errors.New("tenancy command: missing op")
	}
	return nil, fmt.Errorf("tenancy command: unknown op %q", clip(w.Op))
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields
// and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("malformed JSON: trailing data after the value")
	}
	return nil
}

// decodePayload decodes a signed policy payload. Unknown fields are
// allowed: a newer billing may add some, and every node must decode the
// same payload the same way whatever its version.
func decodePayload(payload []byte) (contract.Policy, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return contract.Policy{}, errors.New("signed policy has no payload")
	}
	var p contract.Policy
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&p); err != nil {
		return contract.Policy{}, fmt.Errorf("signed policy payload is not a policy: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return contract.Policy{}, errors.New("signed policy payload has trailing data")
	}
	return p, nil
}

func isZeroPolicy(p *contract.Policy) bool {
	return p.Tenant == "" && p.Version == 0 && p.IssuedAt.IsZero()
}

// samePolicy reports whether a and b are the same issue of a policy.
func samePolicy(a, b *contract.Policy) bool {
	return a.Tenant == b.Tenant && a.Version == b.Version && a.IssuedAt.Equal(b.IssuedAt)
}

// Result is the outcome of one command, returned (encoded) by Apply and
// decoded by the proposer with DecodeResult.
type Result struct {
	// Key is the key after CreateKey or RevokeKey.
	Key *APIKey
	// Policy is the policy in force after SetPolicy: the new one, or the
	// stored one when Unchanged.
	Policy *contract.Policy
	// Unchanged is set when the command changed nothing: a SetPolicy whose
	// version was not higher than the stored one, or a RevokeKey of a key
	// already revoked.
	Unchanged bool
	// Err is the failure, nil on success. Nothing of a failed command was
	// applied.
	Err *Error
}

// Error returns r.Err as an error, or nil (never a typed nil).
func (r Result) Error() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type wireResult struct {
	Key       *wireKey         `json:"key,omitempty"`
	Policy    *contract.Policy `json:"policy,omitempty"`
	Unchanged bool             `json:"unchanged,omitempty"`
	Err       *wireError       `json:"error,omitempty"`
}

// EncodeResult encodes r: a version byte, then JSON.
func EncodeResult(r Result) []byte {
	w := wireResult{Policy: r.Policy, Unchanged: r.Unchanged}
	if r.Key != nil {
		w.Key = toWireKey(r.Key)
	}
	if r.Err != nil {
		w.Err = &wireError{Code: r.Err.Code, Message: r.Err.Message}
	}
	body, err := json.Marshal(&w)
	if err != nil {
		// Only a policy that cannot be marshalled gets here, and policies
		// are decoded from JSON: report rather than lose the outcome.
		body, _ = json.Marshal(&wireResult{Err: &wireError{Code: CodeInternal, Message: "encode result: " + err.Error()}})
	}
	return append([]byte{resultVersion}, body...)
}

// DecodeResult decodes what Apply returned.
func DecodeResult(b []byte) (Result, error) {
	switch {
	case len(b) == 0:
		return Result{}, errors.New("tenancy result: empty")
	case b[0] != resultVersion:
		return Result{}, fmt.Errorf("tenancy result: unsupported version %d", b[0])
	}
	var w wireResult
	if err := strictUnmarshal(b[1:], &w); err != nil {
		return Result{}, fmt.Errorf("tenancy result: %w", err)
	}
	r := Result{Policy: w.Policy, Unchanged: w.Unchanged}
	if w.Key != nil {
		k, err := w.Key.key()
		if err != nil {
			return Result{}, fmt.Errorf("tenancy result: %w", err)
		}
		r.Key = &k
	}
	if w.Err != nil {
		if w.Err.Code == "" {
			return Result{}, errors.New("tenancy result: error without a code")
		}
		r.Err = &Error{Code: w.Err.Code, Message: w.Err.Message}
	}
	return r, nil
}
