package ledger

import (
	"bytes"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// incRec is rec with an incarnation.
func incRec(node, inc string, seq uint64, tenant string, at time.Time, writes uint64) UsageRecord {
	r := rec(node, seq, tenant, at, 0, writes)
	r.Incarnation = inc
	return r
}

// TestIngestIncarnations: a node whose data directory was wiped numbers
// its records from 1 again under a new incarnation; they are new records,
// not duplicates of the old outbox's (which is what the ledger answered
// when the key was (cluster, node, seq): the wiped node's usage was lost).
// Each incarnation, and the legacy records without one, keep their own
// permanent dedupe.
func TestIngestIncarnations(t *testing.T) {
	f := usageFixture(t)
	at := t0.Add(10 * time.Minute)
	f.now = t0.Add(time.Hour)
	type want struct {
		status RecordStatus
		code   string
	}
	for _, step := range []struct {
		name string
		recs []UsageRecord
		want []want
	}{
		{"legacy outbox", []UsageRecord{rec("n1", 1, "t1", at, 0, 1), rec("n1", 2, "t1", at, 0, 1)},
			[]want{{RecordAccepted, ""}, {RecordAccepted, ""}}},
		{"first incarnation", []UsageRecord{incRec("n1", "a1", 1, "t1", at, 10), incRec("n1", "a1", 2, "t1", at, 10)},
			[]want{{RecordAccepted, ""}, {RecordAccepted, ""}}},
		{"wiped: second incarnation", []UsageRecord{incRec("n1", "b2", 1, "t1", at, 100)},
			[]want{{RecordAccepted, ""}}},
		{"resends", []UsageRecord{rec("n1", 1, "t1", at, 0, 1), incRec("n1", "a1", 2, "t1", at, 10), incRec("n1", "b2", 1, "t1", at, 100)},
			[]want{{RecordDuplicate, ""}, {RecordDuplicate, ""}, {RecordDuplicate, ""}}},
		{"bad incarnation", []UsageRecord{incRec("n1", "not an id", 1, "t1", at, 1000)},
			[]want{{RecordRejected, CodeInvalid}}},
	} {
		res := f.ingest("c1", step.recs...)
		for i, w := range step.want {
			if got := res.Records[i]; got.Status != w.status || got.Code != w.code {
				t.Errorf("%s: record %d = %+v, want %s %s", step.name, i, got, w.status, w.code)
			}
		}
	}
	var s UsageSeries
	f.view(func(tx *bolt.Tx) (err error) { s, err = Usage(tx, "t1", t0, t0.Add(2*time.Hour), Hourly); return })
	if s.Total.Writes != 122 {
		t.Fatalf("writes billed = %d, want 122 (2 legacy + 20 + 100)", s.Total.Writes)
	}
}

// TestIngestEncodingFormats: a batch without incarnations encodes in the
// current format of every command; one with them uses format 3, which no
// other command may use.
func TestIngestEncodingFormats(t *testing.T) {
	at := t0.Add(time.Minute)
	legacy := IngestUsage{Header: Header{Time: 1, Actor: "a"}, ClusterID: "c1", Records: []UsageRecord{rec("n1", 7, "t1", at, 1, 2)}}
	raw, err := Encode(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != commandFormat {
		t.Fatalf("legacy batch format = %d, want %d", raw[0], commandFormat)
	}
	inc := legacy
	inc.Records = []UsageRecord{legacy.Records[0], incRec("n1", "a1", 1, "t1", at, 3)}
	raw2, err := Encode(inc)
	if err != nil {
		t.Fatal(err)
	}
	if raw2[0] != commandFormatIncarnation {
		t.Fatalf("batch with incarnations: format %d, want %d", raw2[0], commandFormatIncarnation)
	}
	for _, c := range []IngestUsage{legacy, inc} {
		b, _ := Encode(c)
		back, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got := back.(IngestUsage)
		for i := range c.Records {
			if got.Records[i] != c.Records[i] {
				t.Fatalf("round trip: record %d = %+v, want %+v", i, got.Records[i], c.Records[i])
			}
		}
		// Every strict prefix is refused, never mis-decoded.
		for i := 0; i < len(b); i++ {
			if _, err := Decode(b[:i]); err == nil {
				t.Errorf("format %d: prefix of %d/%d bytes decoded", b[0], i, len(b))
			}
		}
		if _, err := Decode(append(b, 0)); err == nil {
			t.Errorf("format %d: trailing byte decoded", b[0])
		}
	}
	other, _ := Encode(DeleteTenant{Header: Header{Time: 1}, Tenant: "t1"})
	other[0] = commandFormatIncarnation
	if _, err := Decode(other); err == nil || !bytes.Contains([]byte(err.Error()), []byte("unknown command format")) {
		t.Fatalf("format 3 on a non-ingest command: %v", err)
	}
}
