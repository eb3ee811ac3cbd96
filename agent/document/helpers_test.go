package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/query"
	"github.com/aerolithdb/aerolith/store"
)

var _ store.StateMachine = (*StateMachine)(nil)

const testTenant = "acme"

func openDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// applyOps proposes ops as one command through the encoded path, exactly as
// the store would, and returns the decoded result.
func applyOps(t testing.TB, db *bolt.DB, sm *StateMachine, ops ...Op) Result {
	t.Helper()
	cmd, err := EncodeCommand(Command{Ops: ops})
	if err != nil {
		t.Fatalf("EncodeCommand: %v", err)
	}
	var out []byte
	if err := db.Update(func(tx *bolt.Tx) error {
		out = sm.Apply(tx, 1, cmd)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := DecodeResult(out)
	if err != nil {
		t.Fatalf("DecodeResult: %v", err)
	}
	return res
}

func mustApply(t testing.TB, db *bolt.DB, sm *StateMachine, ops ...Op) Result {
	t.Helper()
	res := applyOps(t, db, sm, ops...)
	if res.Err != nil {
		t.Fatalf("apply %v: %v (op %d, %s)", ops[res.Err.OpIndex].Kind, res.Err, res.Err.OpIndex, res.Err.Code)
	}
	return res
}

func putOp(coll, id, data string) Op {
	return Op{Kind: OpPut, Tenant: testTenant, Collection: coll, ID: id, Data: json.RawMessage(data), Time: 1_700_000_000_000_000_000}
}

func indexOp(coll, field string) Op {
	return Op{Kind: OpCreateIndex, Tenant: testTenant, Collection: coll, Field: field}
}

func view[T any](t testing.TB, db *bolt.DB, f func(tx *bolt.Tx) (T, error)) (T, error) {
	t.Helper()
	var out T
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = f(tx)
		return err
	})
	return out, err
}

func runQ(t testing.TB, db *bolt.DB, coll string, q QueryRequest, opts queryOptions) (Page, Explain) {
	t.Helper()
	var page Page
	var ex Explain
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		page, ex, err = runQuery(tx, testTenant, coll, q, opts)
		return err
	})
	if err != nil {
		t.Fatalf("query %s sort %s: %v", q.Filter, q.Sort, err)
	}
	return page, ex
}

func ids(page Page) string {
	var s []string
	for _, d := range page.Documents {
		s = append(s, d.ID)
	}
	return strings.Join(s, ",")
}

func wantCode(t testing.TB, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want %s", err, sentinel.Code)
	}
}

// dump renders every key and value of the database, nested buckets
// included, in order: two databases with equal dumps read identically.
func dump(t testing.TB, db *bolt.DB) string {
	t.Helper()
	var b strings.Builder
	var walk func(prefix string, bk *bolt.Bucket)
	walk = func(prefix string, bk *bolt.Bucket) {
		c := bk.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				fmt.Fprintf(&b, "%s%q/\n", prefix, k)
				walk(prefix+"  ", bk.Bucket(k))
				continue
			}
			fmt.Fprintf(&b, "%s%q = %x\n", prefix, k, v)
		}
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			fmt.Fprintf(&b, "%q/\n", name)
			walk("  ", bk)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkInvariants recounts every tenant from the stored documents and
// compares with the kept counters, and rebuilds every index from the
// documents and compares it entry by entry with the stored one.
func checkInvariants(t testing.TB, db *bolt.DB) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, tb *bolt.Bucket) error {
			tenant, ok := strings.CutPrefix(string(name), tenantPrefix)
			if !ok {
				return fmt.Errorf("unexpected top-level bucket %q", name)
			}
			var want Stats
			colls, err := Collections(tx, tenant)
			if err != nil {
				return err
			}
			for _, ci := range colls {
				cb := tb.Bucket(collBucketName(ci.Name))
				meta, err := loadCollMeta(cb)
				if err != nil {
					return err
				}
				var n int
				var size, idxBytes int64
				parsed := map[string]map[string]any{}
				if err := cb.Bucket(bucketDocs).ForEach(func(k, v []byte) error {
					r, err := decodeRecord(v, true)
					if err != nil {
						return err
					}
					n++
					size += docBytes(string(k), r.Data)
					doc, derr := decodeData(string(k), r.Data)
					if derr != nil {
						return derr
					}
					parsed[string(k)] = doc
					return nil
				}); err != nil {
					return err
				}
				if n != ci.Documents || size != ci.Bytes {
					return fmt.Errorf("collection %s/%s: counters say %d docs %d bytes, recount %d docs %d bytes", tenant, ci.Name, ci.Documents, ci.Bytes, n, size)
				}
				var buckets []string
				cb.ForEach(func(k, v []byte) error {
					if f, ok := strings.CutPrefix(string(k), indexPrefix); ok && v == nil {
						buckets = append(buckets, f)
					}
					return nil
				})
				if !slices.Equal(buckets, ci.Indexes) {
					return fmt.Errorf("collection %s/%s: index buckets %q, declared %q", tenant, ci.Name, buckets, ci.Indexes)
				}
				for _, im := range meta.Indexes {
					var wantKeys []string
					var wantBytes, multi int64
					for id, doc := range parsed {
						keys := query.IndexKeys(doc, im.Field)
						if len(keys) > 1 {
							multi++
						}
						for _, k := range keys {
							full := indexKey(k, id)
							wantKeys = append(wantKeys, string(full))
							wantBytes += int64(len(full))
						}
					}
					slices.Sort(wantKeys)
					var got []string
					cb.Bucket(indexBucketName(im.Field)).ForEach(func(k, _ []byte) error {
						got = append(got, string(k))
						return nil
					})
					if !slices.Equal(got, wantKeys) {
						return fmt.Errorf("index %s/%s.%s: %d stored entries differ from %d rebuilt ones", tenant, ci.Name, im.Field, len(got), len(wantKeys))
					}
					if im.Entries != int64(len(wantKeys)) || im.Bytes != wantBytes || im.Multikey != multi {
						return fmt.Errorf("index %s/%s.%s: meta %+v, recount entries %d bytes %d multikey %d", tenant, ci.Name, im.Field, im, len(wantKeys), wantBytes, multi)
					}
					idxBytes += wantBytes
				}
				if idxBytes != ci.IndexBytes {
					return fmt.Errorf("collection %s/%s: index bytes %d, recount %d", tenant, ci.Name, ci.IndexBytes, idxBytes)
				}
				want.Collections++
				want.Documents += n
				want.Bytes += size
				want.Indexes += len(ci.Indexes)
				want.IndexBytes += idxBytes
			}
			got, err := TenantStats(tx, tenant)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("tenant %s: stats %+v, recount %+v", tenant, got, want)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

func jsonEq(a, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
