package meter

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func testRecord(tenant string, reads uint64) Record {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return Record{Tenant: tenant, Start: start, End: start.Add(10 * time.Second), Usage: Usage{Reads: reads}}
}

func openTestOutbox(t *testing.T, dir, node string) *outbox {
	t.Helper()
	o, err := openOutbox(dir, node)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOutboxSeqSurvivesReopen: numbers continue after a reopen, and are
// not reused when every record was acknowledged and deleted.
func TestOutboxSeqSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	o := openTestOutbox(t, dir, "n1")
	got, err := o.append([]Record{testRecord("a", 1), testRecord("b", 2), testRecord("c", 3)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("seq[%d] = %d, want %d", i, r.Seq, i+1)
		}
	}
	if err := o.settle([]uint64{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	o = openTestOutbox(t, dir, "n1")
	defer o.close()
	if n, err := o.count(); err != nil || n != 0 {
		t.Fatalf("count = %d, %v; want 0", n, err)
	}
	got, err = o.append([]Record{testRecord("a", 4)})
	if err != nil || got[0].Seq != 4 {
		t.Fatalf("append after reopen = %+v, %v; want seq 4", got, err)
	}
	p, err := o.pending(10)
	if err != nil || len(p) != 1 || p[0].Seq != 4 || p[0].Reads != 4 || p[0].Tenant != "a" {
		t.Fatalf("pending = %+v, %v", p, err)
	}
}

func TestOutboxOtherNode(t *testing.T) {
	dir := t.TempDir()
	openTestOutbox(t, dir, "n1").close()
	if _, err := openOutbox(dir, "n2"); !errors.Is(err, errOutboxNode) {
		t.Fatalf("open as n2 = %v, want errOutboxNode", err)
	}
	if _, err := openOutbox(filepath.Join(dir, OutboxFile), "n1"); err == nil {
		t.Fatal("open with a file as dir succeeded")
	}
}

func TestOutboxDeadLetters(t *testing.T) {
	o := openTestOutbox(t, t.TempDir(), "n1")
	defer o.close()
	recs, err := o.append([]Record{testRecord("a", 1), testRecord("b", 2)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := o.settle([]uint64{1}, []DeadLetter{{Record: recs[1], Reason: "bad tenant", At: at}}); err != nil {
		t.Fatal(err)
	}
	dl, err := o.deadLetters()
	if err != nil || len(dl) != 1 {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	if d := dl[0]; d.Seq != 2 || d.Tenant != "b" || d.Reads != 2 || d.Reason != "bad tenant" || !d.At.Equal(at) {
		t.Fatalf("dead letter = %+v", d)
	}
	if n, _ := o.count(); n != 0 {
		t.Fatalf("outbox count = %d, want 0", n)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := testRecord("tn_x", 5)
	r.Seq = 9
	r.Usage = Usage{Reads: 1, Writes: 2, Queries: 3, QueryComputeMs: 4, IngressBytes: 5, EgressBytes: 1 << 62}
	r.StorageByteSeconds = 7
	got, err := decodeRecord(9, encodeRecord(r))
	if err != nil || got != r {
		t.Fatalf("decode(encode(r)) = %+v, %v; want %+v", got, err, r)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0}, {1, 1, 'a'}, append(encodeRecord(r), 0)} {
		if _, err := decodeRecord(1, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(testRecord("a", 1)))
	f.Add([]byte{1, 1, 'a', 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(3, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := decodeRecord(3, encodeRecord(r))
		if err != nil || again != r {
			t.Fatalf("re-decode = %+v, %v; want %+v", again, err, r)
		}
	})
}

// TestOutboxIncarnation: a new file draws an incarnation and keeps it
// across reopens; a file from before incarnations (no such key) keeps
// none, so its records keep the identity billing deduplicated them by.
func TestOutboxIncarnation(t *testing.T) {
	dir := t.TempDir()
	o := openTestOutbox(t, dir, "n1")
	inc := o.incarnation
	if len(inc) != 32 {
		t.Fatalf("incarnation = %q, want 32 hex digits", inc)
	}
	o.close()
	o = openTestOutbox(t, dir, "n1")
	if o.incarnation != inc {
		t.Fatalf("reopened: incarnation %q, want %q", o.incarnation, inc)
	}
	if other := openTestOutbox(t, t.TempDir(), "n1"); other.incarnation == inc {
		t.Fatal("two new outboxes drew the same incarnation")
	} else {
		other.close()
	}
	// An outbox written before incarnations existed.
	if err := o.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyIncarn) }); err != nil {
		t.Fatal(err)
	}
	o.close()
	o = openTestOutbox(t, dir, "n1")
	defer o.close()
	if o.incarnation != "" {
		t.Fatalf("legacy outbox: incarnation %q, want none", o.incarnation)
	}
}
