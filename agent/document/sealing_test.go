package document

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/seal"
)

func testKeyring(t testing.TB, tenants ...string) *seal.Keyring {
	t.Helper()
	mk, err := seal.NewLocalMasterKey(bytes.Repeat([]byte{9}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.New(seal.Config{Wrapper: mk})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		if _, err := k.Rotate(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// fileContains reports whether the bbolt file of db holds b.
func fileContains(t testing.TB, db *bolt.DB, b string) bool {
	t.Helper()
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte(b))
}

// sealedWorkload writes documents with marker values, one indexed field,
// an update and a delete.
func sealedWorkload(t *testing.T, db *bolt.DB, sm *StateMachine) {
	t.Helper()
	mustApply(t, db, sm, indexOp("c", "city"))
	mustApply(t, db, sm,
		putOp("c", "d1", `{"city":"MARKERCITY-paris","note":"MARKERNOTE-1","n":1}`),
		putOp("c", "d2", `{"city":"MARKERCITY-lyon","note":"MARKERNOTE-2","n":2}`),
		putOp("c", "d3", `{"city":"MARKERCITY-paris","note":"MARKERNOTE-3","n":3}`),
		putOp("c", "d4", `{"city":"MARKERCITY-nice","n":4}`),
	)
	mustApply(t, db, sm, putOp("c", "d2", `{"city":"MARKERCITY-paris","note":"MARKERNOTE-2b","n":20}`))
	mustApply(t, db, sm, Op{Kind: OpDelete, Tenant: testTenant, Collection: "c", ID: "d4"})
}

// TestSealedDocuments: with a Sealer, no document value or indexed value
// reaches the bbolt file in plaintext, reads open them, equality and $in
// use the blinded index with the same answers as without encryption, a
// range falls back to a scan and Explain says so, and the counters are
// identical to those of a plaintext store.
func TestSealedDocuments(t *testing.T) {
	kr := testKeyring(t, testTenant)
	plainDB, sealedDB := openDB(t), openDB(t)
	plainSM := NewStateMachine(Config{})
	sealedSM := NewStateMachine(Config{Sealer: kr})
	sealedWorkload(t, plainDB, plainSM)
	sealedWorkload(t, sealedDB, sealedSM)

	if !fileContains(t, plainDB, "MARKERNOTE-1") || !fileContains(t, plainDB, "MARKERCITY-paris") {
		t.Fatal("control: the plaintext store does not hold the markers (the check is broken)")
	}
	for _, m := range []string{"MARKERNOTE", "MARKERCITY"} {
		if fileContains(t, sealedDB, m) {
			t.Fatalf("the encrypted store's file holds %q in plaintext", m)
		}
	}

	stats := func(db *bolt.DB) string {
		st, err := view(t, db, func(tx *bolt.Tx) (Stats, error) { return TenantStats(tx, testTenant) })
		if err != nil {
			t.Fatal(err)
		}
		infos, err := view(t, db, func(tx *bolt.Tx) ([]CollectionInfo, error) { return Collections(tx, testTenant) })
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal([]any{st, infos})
		return string(b)
	}
	if p, s := stats(plainDB), stats(sealedDB); p != s {
		t.Fatalf("storage accounting differs:\nplain  %s\nsealed %s", p, s)
	}

	rd := NewReader(kr)
	d, err := view(t, sealedDB, func(tx *bolt.Tx) (Doc, error) { return rd.Get(tx, testTenant, "c", "d2") })
	if err != nil || !strings.Contains(string(d.Data), "MARKERNOTE-2b") || d.Version != 2 {
		t.Fatalf("Get = %s v%d, %v", d.Data, d.Version, err)
	}
	if _, err := view(t, sealedDB, func(tx *bolt.Tx) (Doc, error) { return Get(tx, testTenant, "c", "d2") }); !strings.Contains(errString(err), "no master key") {
		t.Fatalf("plaintext Get of a sealed document = %v, want a clear error", err)
	}
	page, err := view(t, sealedDB, func(tx *bolt.Tx) (Page, error) { return rd.List(tx, testTenant, "c", 0, 0) })
	if err != nil || ids(page) != "d1,d2,d3" || !strings.Contains(string(page.Documents[0].Data), "MARKERNOTE-1") {
		t.Fatalf("List = %s, %v", ids(page), err)
	}

	for _, tc := range []struct {
		filter, wantIDs, wantPlan string
	}{
		{`{"city":"MARKERCITY-paris"}`, "d1,d2,d3", "IXSCAN"},
		{`{"city":{"$in":["MARKERCITY-lyon","MARKERCITY-nice","nowhere"]}}`, "", "IXSCAN"},
		{`{"city":{"$gte":"MARKERCITY-m"}}`, "d1,d2,d3", "range on encrypted index city"},
		{`{"n":{"$gt":2}}`, "d2,d3", "COLLSCAN"},
	} {
		q := QueryRequest{Filter: json.RawMessage(tc.filter)}
		var got Page
		var ex Explain
		if err := sealedDB.View(func(tx *bolt.Tx) (err error) { got, ex, err = rd.Query(tx, testTenant, "c", q); return }); err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		want, _ := runQ(t, plainDB, "c", q, queryOptions{})
		if ids(got) != ids(want) || (tc.wantIDs != "" && ids(got) != tc.wantIDs) {
			t.Fatalf("%s: ids %q, plaintext store %q, want %q", tc.filter, ids(got), ids(want), tc.wantIDs)
		}
		if !strings.Contains(ex.Plan, tc.wantPlan) {
			t.Fatalf("%s: plan %q, want it to mention %q", tc.filter, ex.Plan, tc.wantPlan)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSealedNoKeyAndReseal: a put for a tenant without a data key fails
// and writes nothing; after a rotation OpReseal moves documents to the new
// key version without changing them, and skips those not under the named
// version.
func TestSealedNoKeyAndReseal(t *testing.T) {
	kr := testKeyring(t)
	db := openDB(t)
	sm := NewStateMachine(Config{Sealer: kr})
	res := applyOps(t, db, sm, putOp("c", "d1", `{"a":1}`))
	wantCode(t, res.Error(), ErrInternal)
	if !strings.Contains(res.Err.Message, "no data key") {
		t.Fatalf("no-key error = %q", res.Err.Message)
	}
	if _, err := kr.Rotate(context.Background(), testTenant); err != nil {
		t.Fatal(err)
	}
	mustApply(t, db, sm, putOp("c", "d1", `{"a":1}`), putOp("c", "d2", `{"a":2}`))
	if _, err := kr.Rotate(context.Background(), testTenant); err != nil {
		t.Fatal(err)
	}
	versionOf := func(id string) uint32 {
		v, err := view(t, db, func(tx *bolt.Tx) (uint32, error) {
			r, err := decodeRecord(tx.Bucket(tenantBucketName(testTenant)).Bucket(collBucketName("c")).Bucket(bucketDocs).Get([]byte(id)), true)
			if err != nil {
				return 0, err
			}
			return seal.KeyVersion(r.Data)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before, _ := view(t, db, func(tx *bolt.Tx) (Doc, error) { return NewReader(kr).Get(tx, testTenant, "c", "d1") })
	res = mustApply(t, db, sm,
		Op{Kind: OpReseal, Tenant: testTenant, Collection: "c", ID: "d1", IfVersion: 1},
		Op{Kind: OpReseal, Tenant: testTenant, Collection: "c", ID: "d2", IfVersion: 5},
		Op{Kind: OpReseal, Tenant: testTenant, Collection: "c", ID: "missing", IfVersion: 1},
	)
	if res.Docs[0].ID != "d1" || res.Docs[1].ID != "" || res.Docs[2].ID != "" {
		t.Fatalf("reseal results %+v", res.Docs)
	}
	if versionOf("d1") != 2 || versionOf("d2") != 1 {
		t.Fatalf("key versions d1 %d d2 %d, want 2 and 1", versionOf("d1"), versionOf("d2"))
	}
	after, _ := view(t, db, func(tx *bolt.Tx) (Doc, error) { return NewReader(kr).Get(tx, testTenant, "c", "d1") })
	if string(after.Data) != string(before.Data) || after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("reseal changed the document: %+v -> %+v", before, after)
	}
	// Old versions stay readable.
	if d, err := view(t, db, func(tx *bolt.Tx) (Doc, error) { return NewReader(kr).Get(tx, testTenant, "c", "d2") }); err != nil || string(d.Data) != `{"a":2}` {
		t.Fatalf("Get of a document under key version 1 = %s, %v", d.Data, err)
	}
	// Without a sealer a reseal is refused.
	wantCode(t, applyOps(t, openDB(t), NewStateMachine(Config{}), Op{Kind: OpReseal, Tenant: testTenant, Collection: "c", ID: "d1", IfVersion: 1}).Error(), ErrInvalid)
}
