package document

import (
	"bytes"
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
	"github.com/aerolithdb/aerolith/internal/seal"
)

// Sealer encrypts document data at rest, per tenant: *seal.Keyring
// implements it (the agent's replicated keyring). Seal must use the
// tenant's current data key, Open whichever version a value names, Blind a
// key that never changes for the tenant (see seal.Keyring.Blind).
type Sealer interface {
	Seal(tenant string, plaintext, aad []byte) ([]byte, error)
	Open(tenant string, ciphertext, aad []byte) ([]byte, error)
	Blind(tenant string, value []byte) ([]byte, error)
	Current(tenant string) (uint32, bool)
}

var _ Sealer = (*seal.Keyring)(nil)

// Encryption at rest (Config.Sealer):
//
//   - A document's data (the JSON object) is stored sealed under the
//     tenant's current data key with the collection and id as associated
//     data, so a value copied to another document or tenant fails to open.
//     Ids, collection names, index field names, versions and timestamps
//     stay in plaintext.
//   - An index entry's value part is blinded: seal.Keyring.Blind of the
//     value's order-preserving key (16 bytes), then the id. Equality and
//     $in still use the index; ranges cannot (blinding destroys order), so
//     a range predicate on an encrypted index falls back to a collection
//     scan and Explain says so.
//   - Counters (Bytes, IndexBytes) count plaintext sizes (the data, the
//     unblinded index key), so figures, limits and metering are the same
//     with and without encryption.
//
// Values are sealed inside Apply: each replica seals with its own random
// nonces, so state files differ byte for byte while their contents agree.

// docAAD binds a sealed value to its collection and id.
func docAAD(coll, id string) []byte {
	return appendString(appendString(make([]byte, 0, len(coll)+len(id)+4), coll), id)
}

// sealData seals a document's data, mapping failures to *Error.
func sealData(s Sealer, tenant, coll, id string, data []byte) ([]byte, *Error) {
	ct, err := s.Seal(tenant, data, docAAD(coll, id))
	if err != nil {
		return nil, internalf("document %q: encrypting: %v", id, err)
	}
	return ct, nil
}

// openRecord replaces r.Data, if sealed, by its plaintext. Sealed data
// without a Sealer, or plaintext with one, is a storage fault.
func openRecord(s Sealer, tenant, coll, id string, r *record) *Error {
	sealed := seal.IsSealed(r.Data)
	switch {
	case s == nil && !sealed:
		return nil
	case s == nil:
		return internalf("document %q is encrypted at rest and this node has no master key", id)
	case !sealed:
		return internalf("document %q is stored unencrypted on a node with encryption at rest", id)
	}
	pt, err := s.Open(tenant, r.Data, docAAD(coll, id))
	if err != nil {
		return internalf("document %q: decrypting: %v", id, err)
	}
	r.Data = pt
	return nil
}

// blindKeys turns full index keys (value key, id, id length) into their
// stored form: with a Sealer, the value key is replaced by its blind.
func blindKeys(s Sealer, tenant string, keys [][]byte) ([][]byte, *Error) {
	if s == nil || len(keys) == 0 {
		return keys, nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		id, err := idFromIndexKey(k)
		if err != nil {
			return nil, internalf("%v", err)
		}
		b, berr := s.Blind(tenant, k[:len(k)-2-len(id)])
		if berr != nil {
			return nil, internalf("document %q: blinding an index key: %v", id, berr)
		}
		out[i] = indexKey(b, string(id))
	}
	return out, nil
}

// blindRanges maps equality ranges of a predicate to the blinded ranges
// holding the same entries.
func blindRanges(s Sealer, tenant string, p query.Predicate) ([]query.KeyRange, error) {
	var out []query.KeyRange
	for _, v := range p.Values {
		b, err := s.Blind(tenant, query.EncodeKey(v))
		if errors.Is(err, seal.ErrNoKey) {
			continue // no key: nothing indexed
		}
		if err != nil {
			return nil, internalf("blinding a query value: %v", err)
		}
		end := keyPrefixEnd(b)
		out = append(out, query.KeyRange{Start: b, End: end})
	}
	return out, nil
}

// keyPrefixEnd returns the smallest key above every key starting with p.
func keyPrefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] != 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	// All 0xff (a blind of 2^-128 odds): past any entry's id and length.
	return append(e, bytes.Repeat([]byte{0xff}, 2*MaxIDBytes)...)
}

// Reader runs the read functions (Get, List, Query) over documents sealed
// by a Sealer. A nil *Reader reads plaintext documents, like the
// package-level functions. A Reader is safe for concurrent use.
type Reader struct {
	sealer Sealer
}

// NewReader returns a Reader opening documents with s (nil: plaintext).
func NewReader(s Sealer) *Reader { return &Reader{sealer: s} }

func (rd *Reader) s() Sealer {
	if rd == nil {
		return nil
	}
	return rd.sealer
}

// Get is the package-level Get, opening sealed documents.
func (rd *Reader) Get(tx *bolt.Tx, tenant, coll, id string) (Doc, error) {
	return get(tx, rd.s(), tenant, coll, id)
}

// List is the package-level List, opening sealed documents.
func (rd *Reader) List(tx *bolt.Tx, tenant, coll string, limit, offset int) (Page, error) {
	return list(tx, rd.s(), tenant, coll, limit, offset)
}

// Query is the package-level Query over sealed documents and blinded
// indexes.
func (rd *Reader) Query(tx *bolt.Tx, tenant, coll string, q QueryRequest) (Page, Explain, error) {
	return runQuery(tx, tenant, coll, q, queryOptions{sealer: rd.s()})
}

// QueryContext is the package-level QueryContext over sealed documents and
// blinded indexes.
func (rd *Reader) QueryContext(ctx context.Context, tx *bolt.Tx, tenant, coll string, q QueryRequest) (Page, Explain, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, Explain{}, queryStopped(err)
	}
	return runQuery(tx, tenant, coll, q, queryOptions{ctx: ctx, sealer: rd.s()})
}

// ResealPosition is where a walk of a tenant's documents stopped: the
// last collection and id visited. The zero value starts at the beginning.
type ResealPosition struct {
	Collection, ID string
}

// ResealCandidates returns up to limit OpReseal operations for the
// tenant's documents, in (collection, id) order after pos, whose data is
// sealed under a key version other than current, and the position to
// continue from; done reports that the walk reached the end. It only
// reads key versions from the stored values' headers.
func ResealCandidates(tx *bolt.Tx, tenant string, current uint32, pos ResealPosition, limit int) (ops []Op, next ResealPosition, done bool, err error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, pos, false, err
	}
	next, done = pos, true
	err = eachCollection(tx.Bucket(tenantBucketName(tenant)), pos.Collection, func(coll string, cb *bolt.Bucket) (bool, error) {
		db := cb.Bucket(bucketDocs)
		if db == nil {
			return true, nil
		}
		dc := db.Cursor()
		var id, val []byte
		if coll == pos.Collection && pos.ID != "" {
			id, val = dc.Seek([]byte(pos.ID))
			if id != nil && string(id) == pos.ID {
				id, val = dc.Next()
			}
		} else {
			id, val = dc.First()
		}
		for ; id != nil; id, val = dc.Next() {
			if len(ops) >= limit {
				done = false
				return false, nil
			}
			next = ResealPosition{Collection: coll, ID: string(id)}
			r, err := decodeRecord(val, false)
			if err != nil {
				return false, internalf("document %q: %v", id, err)
			}
			ver, err := seal.KeyVersion(r.Data)
			if err != nil || ver == current {
				continue
			}
			ops = append(ops, Op{Kind: OpReseal, Tenant: tenant, Collection: coll, ID: string(id), IfVersion: uint64(ver)})
		}
		return true, nil
	})
	if err != nil {
		return nil, pos, false, err
	}
	return ops, next, done, nil
}

// KeyVersionCounts counts the tenant's documents by the data key version
// their stored data is sealed under (0: stored in plaintext).
func KeyVersionCounts(tx *bolt.Tx, tenant string) (map[uint32]int, error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, err
	}
	out := map[uint32]int{}
	err := eachCollection(tx.Bucket(tenantBucketName(tenant)), "", func(_ string, cb *bolt.Bucket) (bool, error) {
		db := cb.Bucket(bucketDocs)
		if db == nil {
			return true, nil
		}
		return true, db.ForEach(func(id, val []byte) error {
			r, err := decodeRecord(val, false)
			if err != nil {
				return internalf("document %q: %v", id, err)
			}
			ver, _ := seal.KeyVersion(r.Data)
			out[ver]++
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
