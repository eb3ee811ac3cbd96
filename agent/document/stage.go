package document

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
)

// stage holds the effects of a command in memory, layered over the
// transaction, until every operation has succeeded; commit then writes them.
// Nothing touches tx before commit, so a failed command leaves it as it was.
type stage struct {
	tx      *bolt.Tx
	cfg     *Config
	tenants map[string]*tenantStage
}

type tenantStage struct {
	name   string
	bucket *bolt.Bucket // in tx; nil when absent
	meta   tenantMeta
	colls  map[string]*collStage
	dirty  bool

	// Quota bookkeeping (see limits.go).
	orig     tenantMeta // meta as loaded from tx
	lastTime int64      // Time of the command's last operation on the tenant
	quota    tenantQuota
}

type collStage struct {
	name      string
	tenant    string
	sealer    Sealer       // Config.Sealer
	txBucket  *bolt.Bucket // in tx; nil when absent
	txVisible bool         // tx contents are part of the current state
	dropTx    bool         // delete txBucket at commit (collection dropped)
	exists    bool
	meta      collMeta               // counters; Indexes rebuilt at commit
	docs      map[string]*record     // staged documents; nil means deleted
	indexes   map[string]*indexStage // current indexes by field
	dropIdx   map[string]bool        // index buckets to delete at commit
	dirty     bool
	origDocs  int64 // documents as loaded from tx
	passDocs  int   // first operation that grew documents past the limit, -1: none
}

type indexStage struct {
	meta    indexMeta
	fresh   bool            // built by this command: any old bucket is replaced
	entries map[string]bool // staged entries: true put, false delete
}

func newStage(tx *bolt.Tx, cfg *Config) *stage {
	return &stage{tx: tx, cfg: cfg, tenants: map[string]*tenantStage{}}
}

func (s *stage) tenant(name string) (*tenantStage, *Error) {
	if ts, ok := s.tenants[name]; ok {
		return ts, nil
	}
	ts := &tenantStage{name: name, colls: map[string]*collStage{}}
	ts.bucket = s.tx.Bucket(tenantBucketName(name))
	if ts.bucket != nil {
		m, err := loadTenantMeta(ts.bucket)
		if err != nil {
			return nil, internalf("tenant %q: %v", name, err)
		}
		ts.meta = m
	}
	ts.orig = ts.meta
	ts.quota = newTenantQuota()
	s.tenants[name] = ts
	return ts, nil
}

// coll returns the staged state of a collection, loading it on first use.
func (s *stage) coll(tenant, name string) (*tenantStage, *collStage, *Error) {
	ts, err := s.tenant(tenant)
	if err != nil {
		return nil, nil, err
	}
	if cs, ok := ts.colls[name]; ok {
		return ts, cs, nil
	}
	cs := &collStage{name: name, tenant: tenant, sealer: s.cfg.Sealer, docs: map[string]*record{}, indexes: map[string]*indexStage{}, dropIdx: map[string]bool{}, passDocs: -1}
	if ts.bucket != nil {
		cs.txBucket = ts.bucket.Bucket(collBucketName(name))
	}
	if cs.txBucket != nil {
		m, err := loadCollMeta(cs.txBucket)
		if err != nil {
			return nil, nil, internalf("collection %q: %v", name, err)
		}
		cs.meta = m
		cs.origDocs = m.Documents
		cs.exists, cs.txVisible = true, true
		for _, im := range m.Indexes {
			cs.indexes[im.Field] = &indexStage{meta: im, entries: map[string]bool{}}
		}
	}
	ts.colls[name] = cs
	return ts, cs, nil
}

func (s *stage) touch(ts *tenantStage, cs *collStage) {
	ts.dirty = true
	cs.dirty = true
}

func (s *stage) ensureExists(ts *tenantStage, cs *collStage) {
	s.touch(ts, cs)
	if !cs.exists {
		cs.exists = true
		ts.meta.Collections++
	}
}

// reset empties a dropped collection.
func (cs *collStage) reset() {
	cs.dropTx = cs.txBucket != nil
	cs.txVisible = false
	cs.exists = false
	cs.meta = collMeta{}
	cs.docs = map[string]*record{}
	cs.indexes = map[string]*indexStage{}
	cs.dropIdx = map[string]bool{}
}

// get returns the current record of id, nil when absent. Records read from
// tx are copied.
func (cs *collStage) get(id string) (*record, *Error) {
	if r, ok := cs.docs[id]; ok {
		return r, nil
	}
	if !cs.txVisible {
		return nil, nil
	}
	db := cs.txBucket.Bucket(bucketDocs)
	if db == nil {
		return nil, nil
	}
	v := db.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v, true)
	if err != nil {
		return nil, internalf("document %q: %v", id, err)
	}
	if err := openRecord(cs.sealer, cs.tenant, cs.name, id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// forEachDoc calls f on every current document: those in tx (in id order)
// that are not staged, then the staged ones in id order.
func (cs *collStage) forEachDoc(f func(id string, rec *record) *Error) *Error {
	if cs.txVisible {
		if db := cs.txBucket.Bucket(bucketDocs); db != nil {
			c := db.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if _, staged := cs.docs[string(k)]; staged {
					continue
				}
				r, err := decodeRecord(v, false)
				if err != nil {
					return internalf("document %q: %v", k, err)
				}
				if err := openRecord(cs.sealer, cs.tenant, cs.name, string(k), &r); err != nil {
					return err
				}
				if err := f(string(k), &r); err != nil {
					return err
				}
			}
		}
	}
	for _, id := range sortedKeys(cs.docs) {
		if r := cs.docs[id]; r != nil {
			if err := f(id, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// keysFor returns doc's index keys for field as full entry keys, in their
// stored form (blinded with a Sealer), and their plaintext size, which is
// what the counters count. With check set, each must fit
// MaxIndexKeyBytes (in plaintext); existing entries are not checked, so a
// document indexed under a larger limit can still be updated or deleted.
func (s *stage) keysFor(tenant string, doc map[string]any, field, id string, check bool) ([][]byte, int64, *Error) {
	if doc == nil {
		return nil, 0, nil
	}
	vals := query.IndexKeys(doc, field)
	keys := make([][]byte, len(vals))
	var size int64
	for i, v := range vals {
		keys[i] = indexKey(v, id)
		size += int64(len(keys[i]))
		if check && len(keys[i]) > s.cfg.MaxIndexKeyBytes {
			return nil, 0, errorf(CodeTooLarge, "document %q: the value of indexed field %q is too large to index (%d bytes with the id, at most %d)",
				id, field, len(keys[i]), s.cfg.MaxIndexKeyBytes)
		}
	}
	keys, err := blindKeys(s.cfg.Sealer, tenant, keys)
	if err != nil {
		return nil, 0, err
	}
	return keys, size, nil
}

// reindex replaces the index entries of id from old (nil: none) with those
// of new (nil: deleted), keeping index and tenant counters exact.
func (s *stage) reindex(ts *tenantStage, cs *collStage, id string, old, new *record) *Error {
	if len(cs.indexes) == 0 {
		return nil
	}
	var oldDoc, newDoc map[string]any
	var err *Error
	if old != nil {
		if oldDoc, err = decodeData(id, old.Data); err != nil {
			return err
		}
	}
	if new != nil {
		if newDoc, err = decodeData(id, new.Data); err != nil {
			return err
		}
	}
	for _, field := range sortedKeys(cs.indexes) {
		ix := cs.indexes[field]
		oldKeys, oldSize, err := s.keysFor(ts.name, oldDoc, field, id, false)
		if err != nil {
			return err
		}
		newKeys, newSize, err := s.keysFor(ts.name, newDoc, field, id, true)
		if err != nil {
			return err
		}
		if slices.EqualFunc(oldKeys, newKeys, bytes.Equal) {
			continue
		}
		before := ix.meta.Bytes
		ix.remove(oldKeys, oldSize)
		ix.add(id, newKeys, newSize)
		ts.meta.IndexBytes += ix.meta.Bytes - before
	}
	return nil
}

// add stages keys of one document; size is their plaintext size.
func (ix *indexStage) add(id string, keys [][]byte, size int64) {
	for _, k := range keys {
		ix.entries[string(k)] = true
		ix.meta.Entries++
	}
	ix.meta.Bytes += size
	if len(keys) > 1 {
		ix.meta.Multikey++
	}
}

// remove stages the removal of keys of one document; size is their
// plaintext size.
func (ix *indexStage) remove(keys [][]byte, size int64) {
	for _, k := range keys {
		ix.entries[string(k)] = false
		ix.meta.Entries--
	}
	ix.meta.Bytes -= size
	if len(keys) > 1 {
		ix.meta.Multikey--
	}
}

// commit writes the staged effects to tx in a deterministic order.
func (s *stage) commit() *Error {
	for _, tname := range sortedKeys(s.tenants) {
		ts := s.tenants[tname]
		if !ts.dirty {
			continue
		}
		tb, err := s.tx.CreateBucketIfNotExists(tenantBucketName(tname))
		if err != nil {
			return internalf("tenant %q: %v", tname, err)
		}
		for _, cname := range sortedKeys(ts.colls) {
			cs := ts.colls[cname]
			if !cs.dirty {
				continue
			}
			if err := cs.commit(tb); err != nil {
				return internalf("collection %q: %v", cname, err)
			}
		}
		if err := tb.Put(keyStats, ts.meta.encode()); err != nil {
			return internalf("tenant %q: %v", tname, err)
		}
	}
	return nil
}

func (cs *collStage) commit(tb *bolt.Bucket) error {
	name := collBucketName(cs.name)
	if cs.dropTx && tb.Bucket(name) != nil {
		if err := tb.DeleteBucket(name); err != nil {
			return err
		}
	}
	if !cs.exists {
		return nil
	}
	cb, err := tb.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	for _, field := range sortedKeys(cs.dropIdx) {
		if n := indexBucketName(field); cb.Bucket(n) != nil {
			if err := cb.DeleteBucket(n); err != nil {
				return err
			}
		}
	}
	cs.meta.Indexes = cs.meta.Indexes[:0]
	for _, field := range sortedKeys(cs.indexes) {
		ix := cs.indexes[field]
		cs.meta.Indexes = append(cs.meta.Indexes, ix.meta)
		n := indexBucketName(field)
		if ix.fresh && cb.Bucket(n) != nil {
			if err := cb.DeleteBucket(n); err != nil {
				return err
			}
		}
		ib, err := cb.CreateBucketIfNotExists(n)
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(ix.entries) {
			if ix.entries[k] {
				err = ib.Put([]byte(k), []byte{})
			} else {
				err = ib.Delete([]byte(k))
			}
			if err != nil {
				return err
			}
		}
	}
	db, err := cb.CreateBucketIfNotExists(bucketDocs)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(cs.docs) {
		if r := cs.docs[id]; r != nil {
			if cs.sealer != nil && r.sealed == nil {
				return fmt.Errorf("document %q was staged without being encrypted", id)
			}
			err = db.Put([]byte(id), encodeRecord(r))
		} else {
			err = db.Delete([]byte(id))
		}
		if err != nil {
			return err
		}
	}
	return cb.Put(keyMeta, cs.meta.encode())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
