package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/store"
)

// Tenant read keys are bearer keys scoped to one tenant: with one, a tenant
// reads its own record, usage, invoices, payments, audit trail and policy,
// and nothing else. An admin creates them (POST /api/v1/tenants/{id}/keys);
// the key is returned once and only its SHA-256 is replicated.
//
// The ledger has no command for them, so the service's state machine is the
// ledger's wrapped by StateMachine, which handles two more commands in the
// same bbolt transaction and its own buckets ("apikeys.*"). Their encoding
// starts with keyFormat, a byte the ledger's commands never start with.

// keyFormat is the first byte of an API key command (ledger commands start
// with their format byte 1).
const keyFormat byte = 0xA1

// API key command operations.
const (
	keyOpCreate byte = 'c'
	keyOpRevoke byte = 'r'
)

// Buckets of the API keys.
var (
	bKeys      = []byte("apikeys.keys")   // key id → APIKey JSON
	bKeyHashes = []byte("apikeys.hashes") // sha256(key) → key id
)

// RoleRead is the only role of tenant keys today.
const RoleRead = "read"

// APIKey describes a tenant read key; the key itself is never stored.
type APIKey struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant_id"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	// SHA256 is the hex SHA-256 of the key.
	SHA256 string `json:"-"`
}

// storedKey is APIKey as stored (with its hash).
type storedKey struct {
	APIKey
	Hash string `json:"sha256"`
}

// keyCommand is an API key command.
type keyCommand struct {
	Op     byte   `json:"-"`
	Time   int64  `json:"time"`
	Actor  string `json:"actor"`
	ID     string `json:"id"`
	Tenant string `json:"tenant_id"`
	Name   string `json:"name,omitempty"`
	Hash   string `json:"sha256,omitempty"`
}

// keyResult is what applying a key command returns.
type keyResult struct {
	Key       *APIKey `json:"key,omitempty"`
	Unchanged bool    `json:"unchanged,omitempty"`
	Code      string  `json:"code,omitempty"`
	Message   string  `json:"message,omitempty"`
}

// err returns the failure as a *ledger.Error (matched by code like the
// ledger's), or nil.
func (r keyResult) err() error {
	if r.Code == "" {
		return nil
	}
	return &ledger.Error{Code: r.Code, Message: r.Message}
}

func encodeKeyCommand(c keyCommand) []byte {
	b, _ := json.Marshal(c) // plain strings and ints: cannot fail
	return append([]byte{keyFormat, c.Op}, b...)
}

// StateMachine is the billing service's replicated state machine: the
// ledger's, plus the tenant read keys of this package. Apply hands every
// ledger command to the ledger unchanged.
type StateMachine struct {
	ledger store.StateMachine
}

var _ store.StateMachine = (*StateMachine)(nil)

// NewStateMachine wraps the ledger's state machine.
func NewStateMachine(l store.StateMachine) *StateMachine { return &StateMachine{ledger: l} }

// Apply implements store.StateMachine.
func (m *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	if len(cmd) == 0 || cmd[0] != keyFormat {
		return m.ledger.Apply(tx, index, cmd)
	}
	res := applyKey(tx, cmd)
	b, _ := json.Marshal(res)
	return b
}

func keyFail(code, format string, args ...any) keyResult {
	return keyResult{Code: code, Message: fmt.Sprintf(format, args...)}
}

func applyKey(tx *bolt.Tx, cmd []byte) keyResult {
	if len(cmd) < 2 {
		return keyFail(ledger.CodeInternal, "api key command too short")
	}
	var c keyCommand
	if err := json.Unmarshal(cmd[2:], &c); err != nil {
		return keyFail(ledger.CodeInternal, "undecodable api key command: %v", err)
	}
	if c.Time <= 0 || c.Actor == "" {
		return keyFail(ledger.CodeInvalid, "api key command: time and actor are required")
	}
	switch cmd[1] {
	case keyOpCreate:
		return createKey(tx, c)
	case keyOpRevoke:
		return revokeKey(tx, c)
	}
	return keyFail(ledger.CodeInternal, "unknown api key operation %q", cmd[1])
}

func createKey(tx *bolt.Tx, c keyCommand) keyResult {
	if !validID(c.ID) {
		return keyFail(ledger.CodeInvalid, "id: invalid key id %q", c.ID)
	}
	hash, err := hex.DecodeString(c.Hash)
	if err != nil || len(hash) != sha256.Size {
		return keyFail(ledger.CodeInvalid, "sha256: want 64 hex digits")
	}
	if len(c.Name) > 200 {
		return keyFail(ledger.CodeInvalid, "name: longer than 200 bytes")
	}
	t, err := ledger.GetTenant(tx, c.Tenant)
	if err != nil {
		return keyFail(ledger.CodeNotFound, "tenant %q not found", c.Tenant)
	}
	if t.Status == ledger.StatusDeleted {
		return keyFail(ledger.CodeState, "tenant %q is deleted", c.Tenant)
	}
	if old, ok := loadKey(tx, c.ID); ok {
		if old.Hash == c.Hash && old.Tenant == c.Tenant {
			return keyResult{Key: &old.APIKey, Unchanged: true} // a retried create
		}
		return keyFail(ledger.CodeConflict, "key %q already exists", c.ID)
	}
	if b := tx.Bucket(bKeyHashes); b != nil && b.Get(hash) != nil {
		return keyFail(ledger.CodeConflict, "sha256: already used by another key")
	}
	k := storedKey{APIKey: APIKey{ID: c.ID, Tenant: c.Tenant, Name: c.Name, Role: RoleRead,
		CreatedAt: time.Unix(0, c.Time).UTC(), CreatedBy: c.Actor}, Hash: c.Hash}
	if err := saveKey(tx, k); err != nil {
		return keyFail(ledger.CodeInternal, "store key: %v", err)
	}
	hb, err := tx.CreateBucketIfNotExists(bKeyHashes)
	if err == nil {
		err = hb.Put(hash, []byte(k.ID))
	}
	if err != nil {
		panic(fmt.Sprintf("api: write %s failed after validation: %v", bKeyHashes, err))
	}
	return keyResult{Key: &k.APIKey}
}

func revokeKey(tx *bolt.Tx, c keyCommand) keyResult {
	k, ok := loadKey(tx, c.ID)
	if !ok || k.Tenant != c.Tenant {
		return keyFail(ledger.CodeNotFound, "key %q of tenant %q not found", c.ID, c.Tenant)
	}
	if !k.RevokedAt.IsZero() {
		return keyResult{Key: &k.APIKey, Unchanged: true}
	}
	k.RevokedAt = time.Unix(0, c.Time).UTC()
	k.RevokedBy = c.Actor
	if err := saveKey(tx, k); err != nil {
		return keyFail(ledger.CodeInternal, "store key: %v", err)
	}
	return keyResult{Key: &k.APIKey}
}

func loadKey(tx *bolt.Tx, id string) (storedKey, bool) {
	b := tx.Bucket(bKeys)
	if b == nil {
		return storedKey{}, false
	}
	raw := b.Get([]byte(id))
	if raw == nil {
		return storedKey{}, false
	}
	var k storedKey
	if json.Unmarshal(raw, &k) != nil {
		return storedKey{}, false
	}
	k.SHA256 = k.Hash
	return k, true
}

// saveKey writes k; a failure after validation stops the node (see the
// ledger's writeFault), except for marshalling, which cannot fail.
func saveKey(tx *bolt.Tx, k storedKey) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bKeys)
	if err == nil {
		err = b.Put([]byte(k.ID), raw)
	}
	if err != nil {
		panic(fmt.Sprintf("api: write %s failed after validation: %v", bKeys, err))
	}
	return nil
}

// keyByHash returns the key whose SHA-256 is hash.
func keyByHash(tx *bolt.Tx, hash [32]byte) (storedKey, bool) {
	b := tx.Bucket(bKeyHashes)
	if b == nil {
		return storedKey{}, false
	}
	id := b.Get(hash[:])
	if id == nil {
		return storedKey{}, false
	}
	return loadKey(tx, string(id))
}

// listKeys returns tenant's keys in id order.
func listKeys(tx *bolt.Tx, tenant string) []APIKey {
	out := []APIKey{}
	b := tx.Bucket(bKeys)
	if b == nil {
		return out
	}
	_ = b.ForEach(func(_, v []byte) error {
		var k storedKey
		if json.Unmarshal(v, &k) == nil && k.Tenant == tenant {
			out = append(out, k.APIKey)
		}
		return nil
	})
	return out
}

// validID accepts the ledger's id alphabet: 1-128 letters, digits, '_',
// '-', '.' or ':', starting with a letter or digit.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !bytes.ContainsRune([]byte("_-.:"), rune(c))) {
			return false
		}
	}
	return true
}
