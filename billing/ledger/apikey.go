package ledger

import (
	"bytes"
	"encoding/hex"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The roles of a billing API key, each scoped to the key's tenant.
const (
	// APIKeyRoleRead reads its own tenant's record, usage, invoices,
	// payments, audit trail and policy.
	APIKeyRoleRead = "read"
	// APIKeyRoleTenant does what a read key does and acts for its tenant:
	// registers, scales and deregisters the clusters the tenant owns
	// (RegisterOwnedCluster), manages the tenant's keys and changes its
	// profile and tier (billing/api decides what each route allows).
	APIKeyRoleTenant = "tenant"
)

// MaxActiveAPIKeys bounds the unrevoked billing API keys of one tenant.
const MaxActiveAPIKeys = 100

// APIKey describes a billing API key (CreateAPIKey). It never carries the
// key or its hash: what it shows is safe to list. Times are UTC.
type APIKey struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant_id"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role"`
	// Last4 is the key's last four characters, if the proposer gave them.
	Last4     string    `json:"last4,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Revoked reports whether the key was revoked (RevokeAPIKey); a revoked
// key must not authenticate anything.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// apiKeyRecord is an APIKey as stored, with the hex SHA-256 of the key.
type apiKeyRecord struct {
	APIKey
	SHA256 string `json:"sha256"`
}

// Values of the tenant_api_keys index.
var (
	apiKeyActive  = []byte{'a'}
	apiKeyRevoked = []byte{'r'}
)

// apiKeyIndex is a key's entry in the tenant_api_keys index: tenant,
// creation time, id (so a tenant's keys list oldest first).
func apiKeyIndex(k *APIKey) []byte {
	return append(tkey(k.Tenant, uint64(k.CreatedAt.UnixNano())), k.ID...)
}

// checkLast4 accepts "" or four characters of a key's URL-safe alphabet.
func checkLast4(s string) *Error {
	if s == "" {
		return nil
	}
	if len(s) != 4 {
		return invalidf("last4: want the key's last 4 characters, got %d bytes", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isIDStart(c) && c != '-' && c != '_' {
			return invalidf("last4: %q is not made of letters, digits, '-' or '_'", s)
		}
	}
	return nil
}

func loadAPIKey(tx *bolt.Tx, id string) (*apiKeyRecord, bool, *Error) {
	var k apiKeyRecord
	ok, e := getJSON(tx, bAPIKeys, []byte(id), &k)
	if e != nil || !ok {
		return nil, false, e
	}
	return &k, true, nil
}

// activeAPIKeys counts tenant's unrevoked keys.
func activeAPIKeys(tx *bolt.Tx, tenant string) int {
	b := tx.Bucket(bTenantAPIKeys)
	if b == nil {
		return 0
	}
	n := 0
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if bytes.Equal(v, apiKeyActive) {
			n++
		}
	}
	return n
}

func (a *applier) createAPIKey(c CreateAPIKey) Result {
	t, e := a.liveTenant("tenant", c.Tenant)
	if e != nil {
		return Result{Err: e}
	}
	if e := checkID("key_id", c.KeyID); e != nil {
		return Result{Err: e}
	}
	if c.KeyHash == ([32]byte{}) {
		return Result{Err: invalidf("key_hash: required (SHA-256 of the key)")}
	}
	switch c.Role {
	case APIKeyRoleRead, APIKeyRoleTenant:
	case "":
		return Result{Err: invalidf("role: required (want %s or %s)", APIKeyRoleRead, APIKeyRoleTenant)}
	default:
		return Result{Err: invalidf("role: %q is not offered (want %s or %s)", clip(c.Role), APIKeyRoleRead, APIKeyRoleTenant)}
	}
	if e := checkText("name", c.Name, maxTextLen, false); e != nil {
		return Result{Err: e}
	}
	if e := checkLast4(c.Last4); e != nil {
		return Result{Err: e}
	}
	hash := hex.EncodeToString(c.KeyHash[:])
	old, exists, e := loadAPIKey(a.tx, c.KeyID)
	if e != nil {
		return Result{Err: e}
	}
	if exists {
		if old.SHA256 == hash && old.Tenant == t.ID && old.Name == c.Name && old.Role == c.Role &&
			old.Last4 == c.Last4 && old.CreatedAt.Equal(a.now()) && old.CreatedBy == a.h.Actor {
			return Result{Unchanged: true, APIKey: &old.APIKey} // the same create, replayed
		}
		return Result{Err: conflictf("api key %q already exists", c.KeyID)}
	}
	if id := get(a.tx, bAPIKeyHashes, c.KeyHash[:]); id != nil {
		return Result{Err: conflictf("key_hash: already used by api key %q", id)}
	}
	if get(a.tx, bTokens, c.KeyHash[:]) != nil {
		return Result{Err: conflictf("key_hash: already used by a cluster enrollment token")}
	}
	if n := activeAPIKeys(a.tx, t.ID); n >= MaxActiveAPIKeys {
		return Result{Err: statef("tenant %q already has %d active api keys (the limit); revoke one first", t.ID, n)}
	}
	k := &apiKeyRecord{APIKey: APIKey{
		ID: c.KeyID, Tenant: t.ID, Name: c.Name, Role: c.Role, Last4: c.Last4,
		CreatedAt: a.now(), CreatedBy: a.h.Actor,
	}, SHA256: hash}
	putJSON(a.tx, bAPIKeys, []byte(k.ID), k)
	put(a.tx, bAPIKeyHashes, c.KeyHash[:], []byte(k.ID))
	put(a.tx, bTenantAPIKeys, apiKeyIndex(&k.APIKey), apiKeyActive)
	a.audit(t.ID, "api_key", k.ID, "api_key.created", apiKeyDetails(&k.APIKey))
	return Result{APIKey: &k.APIKey}
}

func (a *applier) revokeAPIKey(c RevokeAPIKey) Result {
	if e := checkID("tenant", c.Tenant); e != nil {
		return Result{Err: e}
	}
	if e := checkID("key_id", c.KeyID); e != nil {
		return Result{Err: e}
	}
	if _, e := loadTenant(a.tx, c.Tenant); e != nil {
		return Result{Err: e}
	}
	k, ok, e := loadAPIKey(a.tx, c.KeyID)
	if e != nil {
		return Result{Err: e}
	}
	if !ok || k.Tenant != c.Tenant {
		return Result{Err: notFoundf("api key %q of tenant %q not found", c.KeyID, c.Tenant)}
	}
	if k.Revoked() {
		return Result{Unchanged: true, APIKey: &k.APIKey}
	}
	k.RevokedAt = a.now()
	k.RevokedBy = a.h.Actor
	putJSON(a.tx, bAPIKeys, []byte(k.ID), k)
	put(a.tx, bTenantAPIKeys, apiKeyIndex(&k.APIKey), apiKeyRevoked)
	a.audit(k.Tenant, "api_key", k.ID, "api_key.revoked", apiKeyDetails(&k.APIKey))
	return Result{APIKey: &k.APIKey}
}

// apiKeyDetails are the audit details of a key: never its hash.
func apiKeyDetails(k *APIKey) map[string]string {
	d := map[string]string{"role": k.Role}
	if k.Name != "" {
		d["name"] = k.Name
	}
	if k.Last4 != "" {
		d["last4"] = k.Last4
	}
	return d
}

// APIKeyByHash returns the billing API key whose SHA-256 is hash, revoked
// or not (check Revoked before trusting it), or ErrNotFound.
func APIKeyByHash(tx *bolt.Tx, hash [32]byte) (APIKey, error) {
	id := get(tx, bAPIKeyHashes, hash[:])
	if id == nil {
		return APIKey{}, notFoundf("no api key has this hash")
	}
	k, ok, e := loadAPIKey(tx, string(id))
	if e != nil {
		return APIKey{}, e
	}
	if !ok {
		return APIKey{}, internalf("api key hash index names missing key %q", id)
	}
	return k.APIKey, nil
}

// ListAPIKeys returns tenant's billing API keys, revoked ones included,
// oldest first (never the keys or their hashes). An unknown tenant is
// ErrNotFound; a deleted one still lists its keys.
func ListAPIKeys(tx *bolt.Tx, tenant string) ([]APIKey, error) {
	if _, e := loadTenant(tx, tenant); e != nil {
		return nil, e
	}
	out := []APIKey{}
	b := tx.Bucket(bTenantAPIKeys)
	if b == nil {
		return out, nil
	}
	prefix := tprefix(tenant)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) <= len(prefix)+8 {
			return nil, internalf("corrupt api key index entry %q", k)
		}
		id := string(k[len(prefix)+8:])
		rec, ok, e := loadAPIKey(tx, id)
		if e != nil {
			return nil, e
		}
		if !ok {
			return nil, internalf("api key index names missing key %q", id)
		}
		out = append(out, rec.APIKey)
	}
	return out, nil
}
