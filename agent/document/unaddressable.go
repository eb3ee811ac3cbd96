package document

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Ref names one stored document.
type Ref struct {
	Tenant, Collection, ID string
}

// dotIDs are the ids ValidateRequestID refuses and ValidateID (what Apply
// checks) accepts: the only ones a stored document can have that no
// request can name.
var dotIDs = [][]byte{[]byte("."), []byte("..")}

// Unaddressable calls fn for every stored document whose id the
// API refuses in requests ("." and "..", see ValidateRequestID), in tenant
// and collection order, stopping at fn's first error. Such documents were
// created before the API refused those ids, through a POST body or a
// batch: lists and queries return them, but no URL path names them, so
// they cannot be read, replaced or deleted one by one. It looks up the two
// ids in each collection: no scan of the documents.
func Unaddressable(tx *bolt.Tx, fn func(Ref) error) error {
	prefix := []byte(tenantPrefix)
	c := tx.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if v != nil {
			continue // not a bucket
		}
		tenant := string(k[len(prefix):])
		err := eachCollection(tx.Bucket(k), "", func(name string, cb *bolt.Bucket) (bool, error) {
			db := cb.Bucket(bucketDocs)
			if db == nil {
				return true, nil
			}
			for _, id := range dotIDs {
				if db.Get(id) == nil {
					continue
				}
				if err := fn(Ref{Tenant: tenant, Collection: name, ID: string(id)}); err != nil {
					return false, err
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
