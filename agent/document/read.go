package document

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// collection returns the bucket of a collection, nil when it does not exist.
// It validates the names (errors wrap ErrInvalid).
func collection(tx *bolt.Tx, tenant, coll string) (*bolt.Bucket, error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, err
	}
	if err := ValidateCollection(coll); err != nil {
		return nil, err
	}
	tb := tx.Bucket(tenantBucketName(tenant))
	if tb == nil {
		return nil, nil
	}
	return tb.Bucket(collBucketName(coll)), nil
}

// Get returns a document. It fails with ErrNotFound when the document (or
// its collection) does not exist and ErrInvalid on a bad name or id.
func Get(tx *bolt.Tx, tenant, coll, id string) (Doc, error) {
	return get(tx, nil, tenant, coll, id)
}

func get(tx *bolt.Tx, s Sealer, tenant, coll, id string) (Doc, error) {
	cb, err := collection(tx, tenant, coll)
	if err != nil {
		return Doc{}, err
	}
	if err := ValidateID(id); err != nil {
		return Doc{}, err
	}
	var v []byte
	if cb != nil {
		if db := cb.Bucket(bucketDocs); db != nil {
			v = db.Get([]byte(id))
		}
	}
	if v == nil {
		return Doc{}, notFoundf("document %q not found in collection %q", id, coll)
	}
	r, err := decodeRecord(v, true)
	if err != nil {
		return Doc{}, internalf("document %q: %v", id, err)
	}
	if err := openRecord(s, tenant, coll, id, &r); err != nil {
		return Doc{}, err
	}
	return r.document(id), nil
}

// pageArgs validates paging: limit 0 means DefaultLimit; above MaxLimit or
// negative values fail with ErrInvalid.
func pageArgs(limit, offset int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalidf("limit %d is negative", limit)
	case limit > MaxLimit:
		return 0, invalidf("limit %d exceeds the maximum %d", limit, MaxLimit)
	case offset < 0:
		return 0, invalidf("offset %d is negative", offset)
	case limit == 0:
		return DefaultLimit, nil
	}
	return limit, nil
}

// List returns a page of a collection's documents in id order; Total is the
// collection's document count. A missing collection is an empty page.
// limit 0 means DefaultLimit; a limit above MaxLimit fails with ErrInvalid.
func List(tx *bolt.Tx, tenant, coll string, limit, offset int) (Page, error) {
	return list(tx, nil, tenant, coll, limit, offset)
}

func list(tx *bolt.Tx, s Sealer, tenant, coll string, limit, offset int) (Page, error) {
	limit, err := pageArgs(limit, offset)
	if err != nil {
		return Page{}, err
	}
	cb, err := collection(tx, tenant, coll)
	if err != nil {
		return Page{}, err
	}
	page := Page{Documents: []Doc{}, Limit: limit, Offset: offset}
	if cb == nil {
		return page, nil
	}
	meta, err := loadCollMeta(cb)
	if err != nil {
		return Page{}, internalf("collection %q: %v", coll, err)
	}
	page.Total = int(meta.Documents)
	db := cb.Bucket(bucketDocs)
	if db == nil || offset >= page.Total {
		return page, nil
	}
	c := db.Cursor()
	k, v := c.First()
	for i := 0; i < offset && k != nil; i++ {
		k, v = c.Next()
	}
	for ; k != nil && len(page.Documents) < limit; k, v = c.Next() {
		r, err := decodeRecord(v, true)
		if err != nil {
			return Page{}, internalf("document %q: %v", k, err)
		}
		if err := openRecord(s, tenant, coll, string(k), &r); err != nil {
			return Page{}, err
		}
		page.Documents = append(page.Documents, r.document(string(k)))
	}
	return page, nil
}

// Collections lists a tenant's collections by name with their counters. A
// tenant without collections gets an empty list.
func Collections(tx *bolt.Tx, tenant string) ([]CollectionInfo, error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, err
	}
	out := []CollectionInfo{}
	err := eachCollection(tx.Bucket(tenantBucketName(tenant)), "", func(name string, cb *bolt.Bucket) (bool, error) {
		meta, err := loadCollMeta(cb)
		if err != nil {
			return false, internalf("collection %q: %v", name, err)
		}
		info := CollectionInfo{
			Name:       name,
			Documents:  int(meta.Documents),
			Bytes:      meta.Bytes,
			Indexes:    []string{},
			IndexBytes: meta.indexBytes(),
		}
		for _, im := range meta.Indexes {
			info.Indexes = append(info.Indexes, im.Field)
		}
		out = append(out, info)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachCollection calls fn with the name and bucket of each collection in
// the tenant bucket tb (nil: none), in name order, starting at the first
// name >= from; fn returns false to stop.
func eachCollection(tb *bolt.Bucket, from string, fn func(name string, cb *bolt.Bucket) (bool, error)) error {
	if tb == nil {
		return nil
	}
	prefix := []byte(collPrefix)
	c := tb.Cursor()
	for k, v := c.Seek(append(prefix, from...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if v != nil {
			continue // not a bucket
		}
		if more, err := fn(string(k[len(prefix):]), tb.Bucket(k)); err != nil || !more {
			return err
		}
	}
	return nil
}

// TenantStats returns a tenant's totals; O(1), exact, and identical on
// every node at the same applied index. An unknown tenant has zero stats.
func TenantStats(tx *bolt.Tx, tenant string) (Stats, error) {
	if err := ValidateTenant(tenant); err != nil {
		return Stats{}, err
	}
	tb := tx.Bucket(tenantBucketName(tenant))
	if tb == nil {
		return Stats{}, nil
	}
	m, err := loadTenantMeta(tb)
	if err != nil {
		return Stats{}, internalf("tenant %q: %v", tenant, err)
	}
	return Stats{
		Collections: int(m.Collections),
		Documents:   int(m.Documents),
		Bytes:       m.Bytes,
		Indexes:     int(m.Indexes),
		IndexBytes:  m.IndexBytes,
	}, nil
}
