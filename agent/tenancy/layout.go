package tenancy

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// Layout: one top-level bucket, never a tenant's document bucket (those
// are named "t:<tenant>"):
//
//	_tenancy
//	  key_generation   uint64 big-endian: key commands applied so far
//	  policies/        tenant -> policyRecord (version byte, JSON)
//	  limits/          tenant -> limitsRecord (version byte, 3 varints, flags)
//	  keys/            key id -> keyRecord (version byte, JSON wireKey)
var (
	bucketRoot     = []byte("_tenancy")
	bucketPolicies = []byte("policies")
	bucketLimits   = []byte("limits")
	bucketKeys     = []byte("keys")
	keyGeneration  = []byte("key_generation")
)

const recordVersion byte = 1

// policyRecord is a stored policy: the signed form as received and the
// decoded policy.
type policyRecord struct {
	Payload   []byte       `json:"payload"`
	Signature []byte       `json:"signature"`
	KeyID     string       `json:"key_id"`
	Policy    storedPolicy `json:"policy"`
}

func encodeJSONRecord(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordVersion}, b...), nil
}

func decodeJSONRecord(what string, b []byte, v any) error {
	if len(b) == 0 || b[0] != recordVersion {
		return fmt.Errorf("corrupt %s record: unknown format", what)
	}
	if err := json.Unmarshal(b[1:], v); err != nil {
		return fmt.Errorf("corrupt %s record: %w", what, err)
	}
	return nil
}

// encodeLimits stores the three docs limits and Refuse compactly: docs
// reads them on every write that grows a tenant.
func encodeLimits(l document.Limits) []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen64)
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, l.StorageBytes)
	b = binary.AppendVarint(b, l.MaxCollections)
	b = binary.AppendVarint(b, l.MaxDocumentsPerCollection)
	var flags byte
	if l.Refuse {
		flags = 1
	}
	return append(b, flags)
}

// errBadLimits: read in every applied batch that grows a tenant's data, so
// made once.
var errBadLimits = errors.New("corrupt limits record")

func decodeLimits(b []byte) (document.Limits, error) {
	bad := errBadLimits
	if len(b) == 0 || b[0] != recordVersion {
		return document.Limits{}, bad
	}
	b = b[1:]
	var vals [3]int64
	for i := range vals {
		v, n := binary.Varint(b)
		if n <= 0 {
			return document.Limits{}, bad
		}
		vals[i], b = v, b[n:]
	}
	if len(b) != 1 || b[0] > 1 {
		return document.Limits{}, bad
	}
	return document.Limits{StorageBytes: vals[0], MaxCollections: vals[1], MaxDocumentsPerCollection: vals[2], Refuse: b[0] == 1}, nil
}

// limitsOf derives what agent/document enforces from a policy: the three
// storage limits, and Refuse for the quota actions that refuse (block,
// throttle: a write cannot be delayed into fitting) and for an action this
// agent does not know (failing closed).
func limitsOf(p *contract.Policy) document.Limits {
	l := document.Limits{
		StorageBytes:              max(p.Limits.StorageBytes, 0),
		MaxCollections:            max(p.Limits.MaxCollections, 0),
		MaxDocumentsPerCollection: max(p.Limits.MaxDocumentsPerCollection, 0),
	}
	switch p.QuotaAction {
	case contract.AllowWithOverage, contract.Warn:
	default: // contract.Block, contract.Throttle, unknown
		l.Refuse = true
	}
	return l
}

func subBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return nil
	}
	return root.Bucket(name)
}

// LoadPolicy returns tenant's stored policy, signed and decoded; ok is
// false when none was stored. It works in any transaction (a stale read
// returns this node's applied state).
func LoadPolicy(tx *bolt.Tx, tenant string) (contract.SignedPolicy, contract.Policy, bool, error) {
	b := subBucket(tx, bucketPolicies)
	if b == nil {
		return contract.SignedPolicy{}, contract.Policy{}, false, nil
	}
	v := b.Get([]byte(tenant))
	if v == nil {
		return contract.SignedPolicy{}, contract.Policy{}, false, nil
	}
	var rec policyRecord
	if err := decodeJSONRecord("policy", v, &rec); err != nil {
		return contract.SignedPolicy{}, contract.Policy{}, false, fmt.Errorf("tenant %s: %w", tenant, err)
	}
	p, err := rec.Policy.policy()
	if err != nil {
		return contract.SignedPolicy{}, contract.Policy{}, false, fmt.Errorf("tenant %s: corrupt policy record: %w", tenant, err)
	}
	sp := contract.SignedPolicy{Payload: rec.Payload, Signature: rec.Signature, KeyID: rec.KeyID}
	return sp, p, true, nil
}

// Limits returns what agent/document enforces for tenant, derived from its
// stored policy (StorageBytes, MaxCollections, MaxDocumentsPerCollection
// from the tier limits, 0 meaning unlimited; Refuse for quota actions block
// and throttle). ok is false when no policy is stored. It has the shape of
// document.Config.Limits and only reads tx, so docs may call it inside Apply.
func Limits(tx *bolt.Tx, tenant string) (document.Limits, bool, error) {
	b := subBucket(tx, bucketLimits)
	if b == nil {
		return document.Limits{}, false, nil
	}
	v := b.Get([]byte(tenant))
	if v == nil {
		return document.Limits{}, false, nil
	}
	l, err := decodeLimits(v)
	if err != nil {
		return document.Limits{}, false, fmt.Errorf("tenant %s: %w", tenant, err)
	}
	return l, true, nil
}

func decodeKey(v []byte) (APIKey, error) {
	var w wireKey
	if err := decodeJSONRecord("api key", v, &w); err != nil {
		return APIKey{}, err
	}
	k, err := w.key()
	if err != nil {
		return APIKey{}, fmt.Errorf("corrupt api key record: %w", err)
	}
	return k, nil
}

// GetKey returns the api key id (revoked or not); ok is false when there is
// no such key.
func GetKey(tx *bolt.Tx, id string) (APIKey, bool, error) {
	b := subBucket(tx, bucketKeys)
	if b == nil {
		return APIKey{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return APIKey{}, false, nil
	}
	k, err := decodeKey(v)
	if err != nil {
		return APIKey{}, false, fmt.Errorf("api key %s: %w", id, err)
	}
	return k, true, nil
}

// ListKeys returns tenant's api keys, revoked ones included, sorted by
// CreatedAt then ID. It scans every key (key counts are small).
func ListKeys(tx *bolt.Tx, tenant string) ([]APIKey, error) {
	out := []APIKey{}
	b := subBucket(tx, bucketKeys)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(id, v []byte) error {
		k, err := decodeKey(v)
		if err != nil {
			return fmt.Errorf("api key %s: %w", id, err)
		}
		if k.Tenant == tenant {
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b APIKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// keyGenerationOf returns how many key commands changed the keys so far
// (0 before the first). The Authenticator drops its cache whenever it
// changes, which also covers a state restored from a snapshot.
func keyGenerationOf(tx *bolt.Tx) uint64 {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return 0
	}
	v := root.Get(keyGeneration)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
